/**
 * `bam export` against the PyTorch peers: dense exports re-import bit-identically (the peer's
 * Llama, Qwen2 and GPT-NeoX fixtures → import → export → import); mixtures exported as Mixtral,
 * Qwen2-MoE and bam-hf give bam's logits within 1e-4 in the peers' own implementations of those
 * layouts (benchmarks/peers/hf_moe_peer.py, python/bam_hf.py); formats that cannot express a
 * model refuse it by name.
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needs, PEER_PYTHON } from '../../../../tools/test/components.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';
import { loadCheckpoint, readCheckpoint, readSafetensors, saveCheckpoint } from '../../src/checkpoint/index.ts';
import { exportCheckpoint, type ExportFormat } from '../../src/export/index.ts';
import { importModel } from '../../src/import/index.ts';
import { parseModelConfig, type ModelConfigInput } from '../../src/model/config.ts';
import { createModel, disposeModel, forward } from '../../src/model/model.ts';

// Debian's python3-torch runs the peers (tools/test/components.ts: skipped with a summary line where missing, failing under CI=true).
const PYTHON = PEER_PYTHON;
const hasTorch = await needs('pytorch');

const work = mkdtempSync(join(tmpdir(), 'bam-export-'));
const fx = join(work, 'fixtures');
afterAll(() => rmSync(work, { recursive: true, force: true }));
const TOKENS = [
  [5, 17, 3, 250, 9, 31, 2],
  [260, 0, 44, 7, 7, 128, 61],
];

/** bam's logits of a checkpoint for TOKENS. */
async function bamLogits(ckpt: string): Promise<number[][][]> {
  const loaded = loadCheckpoint(ckpt);
  try {
    const { logits, aux } = forward(loaded.model, TOKENS);
    const out = (await logits.array()) as number[][][];
    tf.dispose([logits, aux.loadBalance, aux.zLoss]);
    return out;
  } finally {
    disposeModel(loaded.model);
  }
}

/** The logits a Python script prints as {"logits": ...} for TOKENS. */
function pythonLogits(args: string[]): number[][][] {
  const r = spawnSync(PYTHON, [...args, '--tokens', JSON.stringify(TOKENS)], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' }, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${args[0]} failed: ${r.stderr}${r.stdout}`);
  return (JSON.parse(r.stdout) as { logits: number[][][] }).logits;
}

function maxGap(a: number[][][], b: number[][][]): number {
  let gap = 0;
  a.forEach((row, i) => row.forEach((pos, t) => pos.forEach((v, j) => (gap = Math.max(gap, Math.abs(v - b[i][t][j]))))));
  return gap;
}

const maxAbs = (a: number[][][]) => Math.max(...a.flat(2).map(Math.abs));

/**
 * A random model of `config` (weights drawn at initStd 0.3, so logits and routing are far from
 * trivial) saved with the imported Llama fixture's tokenizer.
 */
async function randomCheckpoint(name: string, input: Partial<ModelConfigInput>, seed = 7): Promise<string> {
  const base = readCheckpoint(join(work, 'ckpt-llama'));
  const config = parseModelConfig({ vocabSize: 261, dModel: 32, nHeads: 4, nKvHeads: 2, nLayers: 2, dFF: 40, maxSeqLen: 16, initStd: 0.3, ...input });
  const model = createModel(config, seed);
  const dir = join(work, name);
  try {
    await saveCheckpoint(dir, { model, tokenizer: base.manifest.tokenizer });
  } finally {
    disposeModel(model);
  }
  return dir;
}

function exportError(ckpt: string, format: ExportFormat): Error & { code?: string; hint?: string } {
  try {
    exportCheckpoint(ckpt, format, join(work, 'never-written'));
  } catch (err) {
    return err as Error & { code?: string; hint?: string };
  }
  throw new Error(`exporting ${ckpt} as ${format} did not fail`);
}

const BTX = { block: 'sequential', ffn: { kind: 'moe', numExperts: 3, router: { kind: 'topk', k: 2, normalize: 'after' } } } as const;

describe.skipIf(!hasTorch)('bam export', () => {
  beforeAll(async () => {
    await selectBackend({ prefer: 'wasm', log: () => {} });
    const r = spawnSync(PYTHON, ['benchmarks/peers/hf_peer.py', 'fixtures', '--out', fx, '--seed', '5'], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
    if (r.status !== 0) throw new Error(`hf_peer.py failed: ${r.stderr}`);
    await importModel(join(fx, 'llama'), join(work, 'ckpt-llama'));
  });

  for (const [fixture, format] of [
    ['llama', 'hf-llama'],
    ['qwen2', 'hf-llama'],
    ['neox', 'hf-gpt-neox'],
    ['neox-seq', 'hf-gpt-neox'],
  ] as const) {
    it(`exports the imported ${fixture} fixture as ${format} and re-imports it bit-identically (config, weights, tokenizer)`, async () => {
      const first = join(work, `ckpt-${fixture}`);
      if (!existsSync(first)) await importModel(join(fx, fixture), first);
      const out = join(work, `export-${fixture}`);
      const summary = exportCheckpoint(first, format, out);
      expect(summary.files).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
      const hf = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      expect(hf.model_type).toBe(JSON.parse(readFileSync(join(fx, fixture, 'config.json'), 'utf8')).model_type);
      // The exported folder is what the peer's Hugging Face implementation reads: its logits match bam's.
      expect(maxGap(pythonLogits(['benchmarks/peers/hf_moe_peer.py', 'logits', out]), await bamLogits(first))).toBeLessThan(1e-4);
      const again = join(work, `reimport-${fixture}`);
      await importModel(out, again);
      const a = readCheckpoint(first);
      const b = readCheckpoint(again);
      expect(b.manifest.configHash).toBe(a.manifest.configHash);
      expect(b.manifest.tokenizer).toEqual(a.manifest.tokenizer);
      expect(b.manifest.contentHash).toBe(a.manifest.contentHash);
      expect([...b.weights.keys()].sort()).toEqual([...a.weights.keys()].sort());
      for (const [name, t] of a.weights) expect(Buffer.from(b.weights.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer)), name).toBe(true);
    });
  }

  it('writes the Linear weights transposed to [out, in] and leaves no temporary folder behind', () => {
    const out = join(work, 'export-llama');
    const ours = readSafetensors(join(out, 'model.safetensors'));
    const theirs = readSafetensors(join(fx, 'llama', 'model.safetensors'));
    const q = 'model.layers.1.self_attn.k_proj.weight';
    expect(ours.get(q)!.shape).toEqual([16, 32]);
    expect(Array.from(ours.get(q)!.data)).toEqual(Array.from(theirs.get(q)!.data));
    expect(readdirSync(work).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('exports a BTX mixture with a renormalised top-2 router as Mixtral, whose PyTorch implementation gives bam\'s logits within 1e-4', async () => {
    const ckpt = await randomCheckpoint('btx-after', BTX);
    const out = join(work, 'export-mixtral');
    exportCheckpoint(ckpt, 'hf-mixtral', out);
    const hf = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect([hf.model_type, hf.num_local_experts, hf.num_experts_per_tok]).toEqual(['mixtral', 3, 2]);
    const ours = await bamLogits(ckpt);
    expect(maxAbs(ours)).toBeGreaterThan(0.5);
    expect(maxGap(pythonLogits(['benchmarks/peers/hf_moe_peer.py', 'logits', out]), ours)).toBeLessThan(1e-4);
    // Qwen2-MoE with norm_topk_prob true is the same model.
    const qwen = join(work, 'export-qwen2-moe-after');
    exportCheckpoint(ckpt, 'hf-qwen2-moe', qwen);
    expect(JSON.parse(readFileSync(join(qwen, 'config.json'), 'utf8')).norm_topk_prob).toBe(true);
    expect(maxGap(pythonLogits(['benchmarks/peers/hf_moe_peer.py', 'logits', qwen]), ours)).toBeLessThan(1e-4);
  });

  it("exports the paper's top-1 without renormalisation as Qwen2-MoE with norm_topk_prob false, and refuses Mixtral naming hf-qwen2-moe", async () => {
    const ckpt = await randomCheckpoint('btx-before', { ...BTX, ffn: { kind: 'moe', numExperts: 3, router: { kind: 'topk', k: 1, normalize: 'before' } }, qkvBias: true });
    const err = exportError(ckpt, 'hf-mixtral');
    expect(err.code).toBe('E_EXPORT');
    expect(err.message).toMatch(/normalize 'before'.*Mixtral's layout cannot express/);
    expect(err.hint).toMatch(/--format hf-qwen2-moe/);
    const out = join(work, 'export-qwen2-moe');
    exportCheckpoint(ckpt, 'hf-qwen2-moe', out);
    const hf = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect([hf.model_type, hf.norm_topk_prob, hf.num_experts_per_tok, hf.shared_expert_intermediate_size]).toEqual(['qwen2_moe', false, 1, 0]);
    const ours = await bamLogits(ckpt);
    expect(maxGap(pythonLogits(['benchmarks/peers/hf_moe_peer.py', 'logits', out]), ours)).toBeLessThan(1e-4);
  });

  for (const [name, input] of [
    ['bam-full (parallel block, soft attention routing, top-1 FFN without renormalisation)', { attention: { kind: 'moa', numExperts: 3, kvShared: false }, ffn: { kind: 'moe', numExperts: 3 } }],
    ['bam-kv-shared with tied embeddings', { attention: { kind: 'moa', numExperts: 2, kvShared: true }, ffn: { kind: 'moe', numExperts: 2 }, tieEmbeddings: true }],
    ['a top-2 MoA tied to the FFN router, shared across layers', { attention: { kind: 'moa', numExperts: 3, kvShared: false, router: { kind: 'topk', k: 2 } }, ffn: { kind: 'moe', numExperts: 3, router: { kind: 'topk', k: 2, normalize: 'after' } }, routing: { tieAttentionToFfn: true, shareAcrossLayers: true } }],
    ['a dense paper seed (parallel block, one shared RMSNorm)', {}],
    ['a GeLU/LayerNorm model with biases and partial rotary', { block: 'sequential', norm: 'layernorm', mlp: 'gelu-tanh', ffnBias: true, qkvBias: true, attnOutBias: true, rotaryFraction: 0.5, nKvHeads: 4 }],
  ] as [string, Partial<ModelConfigInput>][]) {
    it(`exports ${name} as bam-hf, which python/bam_hf.py runs with bam's logits within 1e-4`, async () => {
      const ckpt = await randomCheckpoint(`bam-${name.length}`, input);
      const out = join(work, `export-bam-${name.length}`);
      exportCheckpoint(ckpt, 'bam-hf', out);
      const hf = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      expect(hf.model_type).toBe('bam');
      const ours = await bamLogits(ckpt);
      expect(maxAbs(ours)).toBeGreaterThan(0.5);
      expect(maxGap(pythonLogits(['python/bam_hf.py', out, '--float64']), ours)).toBeLessThan(1e-4);
    });
  }

  it('refuses formats that cannot express the model, naming the field and the format to use', async () => {
    const bam = await randomCheckpoint('bam-refuse', { attention: { kind: 'moa', numExperts: 2, kvShared: true }, ffn: { kind: 'moe', numExperts: 2 } });
    const seed = await randomCheckpoint('seed-refuse', {});
    const cases: [string, ExportFormat, RegExp, RegExp][] = [
      [seed, 'hf-llama', /block is 'parallel'/, /bam-hf/],
      [seed, 'hf-gpt-neox', /norm is 'rms'/, /bam-hf/],
      [bam, 'hf-qwen2-moe', /block is 'parallel'/, /bam-hf/],
      [join(work, 'ckpt-llama'), 'hf-mixtral', /the model is dense/, /hf-llama/],
      [await randomCheckpoint('btx-refuse', BTX), 'hf-llama', /ffn is a mixture of 3 experts/, /hf-mixtral or hf-qwen2-moe/],
    ];
    for (const [ckpt, format, message, hint] of cases) {
      const err = exportError(ckpt, format);
      expect(err.code, `${format}: ${err.message}`).toBe('E_EXPORT');
      expect(err.message).toMatch(message);
      expect(err.hint).toMatch(hint);
    }
    expect(exportError(join(work, 'no-such-ckpt'), 'bam-hf').code).toBe('E_CHECKPOINT');
  });
});
