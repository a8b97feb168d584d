/**
 * Import and export of a generated ~100M-parameter model (issue 17's benchmark): seconds and peak
 * memory of `bam export CKPT --format hf-llama` and of `bam import` of that folder, each in its
 * own process under `/usr/bin/time -v` (its "Maximum resident set size"), against the size of
 * the checkpoint's model.safetensors (the bound: peak < 2.5× it).
 *
 *   npx tsx benchmarks/interop.ts [--dir DIR] [--layers 12] [--width 768] [--ff 2048] [--vocab 8192] [--json]
 *
 * The model is a random Llama-layout bam model (sequential blocks, RMSNorm, SwiGLU, 12 heads,
 * 4 key/value heads) saved with a small byte-level tokenizer.json (the embedding is padded past
 * it). The source checkpoint is written by this process; only the two timed commands are measured.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModel, createTokenizer, disposeModel, paramCounts, parseModelConfig, saveCheckpoint, selectBackend } from '@bam/core';
import { BENCH_OPTIONS, benchmarkArgs, machineLine } from './lib/common.ts';

const values = benchmarkArgs(
  'interop.ts',
  'Seconds and peak memory of bam export --format hf-llama and of bam import of a generated ~100M-parameter model, against the size of its model.safetensors.',
  {
    dir: { kind: 'string', arg: 'DIR', defaultText: 'a temporary folder, removed after', help: 'where the checkpoint and the exported folders go (kept)' },
    layers: { kind: 'int', min: 1, default: 12, help: 'layers of the generated model' },
    width: { kind: 'int', min: 1, default: 768, help: 'd_model of the generated model (12 heads)' },
    ff: { kind: 'int', min: 1, default: 2048, help: 'SwiGLU hidden width' },
    vocab: { kind: 'int', min: 1, default: 8192, help: 'vocabulary size (the embedding is padded past the 257 byte tokens)' },
    json: BENCH_OPTIONS.json,
  },
);

/** A byte-level BPE tokenizer.json with the 256 byte tokens and <|endoftext|> (GPT-2's byte alphabet). */
function writeByteTokenizer(path: string): void {
  const bs: number[] = [];
  for (let c = 33; c <= 126; c++) bs.push(c);
  for (let c = 161; c <= 172; c++) bs.push(c);
  for (let c = 174; c <= 255; c++) bs.push(c);
  const chars = new Map<number, string>(bs.map((b) => [b, String.fromCharCode(b)]));
  let n = 0;
  for (let b = 0; b < 256; b++) if (!chars.has(b)) chars.set(b, String.fromCharCode(256 + n++));
  const vocab: Record<string, number> = {};
  for (let b = 0; b < 256; b++) vocab[chars.get(b)!] = b;
  const doc = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: 256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: [] },
  };
  writeFileSync(path, JSON.stringify(doc));
}

/** Runs `bam ARGS` under /usr/bin/time -v: wall seconds and peak RSS in bytes. */
function timed(args: string[]): { seconds: number; peakBytes: number } {
  const r = spawnSync('/usr/bin/time', ['-v', process.execPath, 'packages/cli/bin/bam.mjs', ...args], { encoding: 'utf8', env: { ...process.env, BAM_BACKEND: 'wasm' } });
  if (r.status !== 0) throw new Error(`bam ${args.join(' ')} failed:\n${r.stderr}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(r.stderr);
  if (!rss || !wall) throw new Error(`no /usr/bin/time -v report in:\n${r.stderr}`);
  return { seconds: Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]), peakBytes: Number(rss[1]) * 1024 };
}

await selectBackend({ prefer: 'wasm', log: () => {} });
const dir = values.dir ?? mkdtempSync(join(tmpdir(), 'bam-interop-'));
mkdirSync(dir, { recursive: true });
const tokPath = join(dir, 'tokenizer.json');
writeByteTokenizer(tokPath);
const D = values.width;
const config = parseModelConfig({
  vocabSize: values.vocab,
  dModel: D,
  nHeads: 12,
  nKvHeads: 4,
  nLayers: values.layers,
  dFF: values.ff,
  maxSeqLen: 1024,
  block: 'sequential',
});
const ckpt = join(dir, 'ckpt');
const model = createModel(config, 1);
await saveCheckpoint(ckpt, { model, tokenizer: createTokenizer({ kind: 'hf', path: tokPath }) });
disposeModel(model);
const ckptBytes = statSync(join(ckpt, 'model.safetensors')).size;
const hf = join(dir, 'hf');
const exp = timed(['export', ckpt, '--format', 'hf-llama', '--out', hf]);
const imp = timed(['import', hf, '--out', join(dir, 'reimported')]);
const params = paramCounts(config).total;
const row = (name: string, r: { seconds: number; peakBytes: number }) =>
  `| ${name} | ${r.seconds.toFixed(1)} | ${(r.peakBytes / 2 ** 20).toFixed(0)} | ${(r.peakBytes / ckptBytes).toFixed(2)}× |`;
if (values.json) {
  console.log(JSON.stringify({ params, ckptBytes, export: exp, import: imp }));
} else {
  console.log(machineLine());
  console.log(`model: ${params.toLocaleString('en')} parameters, model.safetensors ${(ckptBytes / 2 ** 20).toFixed(0)} MiB`);
  console.log('| step | seconds | peak RSS (MiB) | peak / checkpoint |\n|---|---|---|---|');
  console.log(row('bam export --format hf-llama', exp));
  console.log(row('bam import (that folder)', imp));
}
if (!values.dir) rmSync(dir, { recursive: true, force: true });
