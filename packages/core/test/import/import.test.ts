/**
 * `bam import` against the PyTorch peer (benchmarks/peers/hf_peer.py): the peer writes small
 * random Llama, Qwen2, GPT-NeoX and llama2.c models with their tokenizers and computes reference
 * logits with its own implementation of the Hugging Face (and run.c) semantics; bam imports each
 * and must reproduce the logits within 1e-4. Then every bad input gets its clear error.
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configHash } from '@bam/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PEER_PYTHON, needs } from '../../../../tools/test/components.ts';
import { selectBackend } from '../../src/backend/index.ts';
import { loadCheckpoint, readCheckpoint, readSafetensors, saveCheckpoint, writeSafetensors } from '../../src/checkpoint/index.ts';
import { importModel } from '../../src/import/index.ts';
import { loadPreset, parseModelConfig } from '../../src/model/config.ts';
import { createModel, disposeModel, forward, modelFromTensors } from '../../src/model/model.ts';
import { paramSpecs } from '../../src/model/params.ts';
import { createTokenizer, tokenizerSpecForCheckpoint } from '../../src/tokenizer/index.ts';

// Skipped without Debian's python3-torch (the run's last line names it; CI=true fails instead): tools/test/components.ts.
const hasTorch = await needs('pytorch');

const work = mkdtempSync(join(tmpdir(), 'bam-import-'));
const fx = join(work, 'fixtures');
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Reference {
  tokens: number[][];
  logits: number[][][];
}

/** Imports fixture `name` and returns the largest |bam − peer| over all logits. */
async function importedLogitGap(name: string, out = join(work, `ckpt-${name}`), from = join(fx, name)): Promise<number> {
  const source = name === 'llama2c' ? join(from, 'model.bin') : from;
  await importModel(source, out);
  const ref = JSON.parse(readFileSync(join(fx, name, 'reference.json'), 'utf8')) as Reference;
  const ckpt = loadCheckpoint(out);
  try {
    const { logits, aux } = forward(ckpt.model, ref.tokens);
    const got = (await logits.array()) as number[][][];
    logits.dispose();
    aux.loadBalance.dispose();
    aux.zLoss.dispose();
    let gap = 0;
    ref.logits.forEach((row, b) => row.forEach((pos, t) => pos.forEach((v, i) => (gap = Math.max(gap, Math.abs(v - got[b][t][i]))))));
    return gap;
  } finally {
    disposeModel(ckpt.model);
  }
}

/** The error an import of `source` throws. */
async function importError(source: string): Promise<Error & { code?: string }> {
  try {
    await importModel(source, join(work, 'never-written'));
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error(`importing ${source} did not fail`);
}

/** A copy of fixture `name` to spoil. */
function copyOf(name: string, as: string): string {
  const dir = join(work, as);
  cpSync(join(fx, name), dir, { recursive: true });
  return dir;
}

describe.skipIf(!hasTorch)('bam import against the PyTorch peer', () => {
  beforeAll(async () => {
    await selectBackend({ prefer: 'wasm', log: () => {} });
    const r = spawnSync(PEER_PYTHON, ['benchmarks/peers/hf_peer.py', 'fixtures', '--out', fx, '--seed', '3'], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
    if (r.status !== 0) throw new Error(`hf_peer.py failed: ${r.stderr}`);
  });

  it('a Llama model with grouped-query attention and an untied head gives the peer logits within 1e-4', async () => {
    expect(await importedLogitGap('llama')).toBeLessThan(1e-4);
  });

  it('a Qwen2 model with q/k/v biases, tied embeddings and two shards gives the peer logits within 1e-4', async () => {
    expect(await importedLogitGap('qwen2')).toBeLessThan(1e-4);
    const c = loadCheckpoint(join(work, 'ckpt-qwen2'));
    expect([c.config.qkvBias, c.config.attnOutBias, c.config.tieEmbeddings, c.config.nKvHeads]).toEqual([true, undefined, true, 4]);
    disposeModel(c.model);
  });

  it('a GPT-NeoX model (parallel residual, LayerNorm, rotary_pct 0.25, fused QKV, GeLU) gives the peer logits within 1e-4', async () => {
    expect(await importedLogitGap('neox')).toBeLessThan(1e-4);
    const c = loadCheckpoint(join(work, 'ckpt-neox'));
    expect([c.config.block, c.config.parallelNorms, c.config.norm, c.config.mlp, c.config.rotaryFraction]).toEqual(['parallel', 'separate', 'layernorm', 'gelu', 0.25]);
    disposeModel(c.model);
  });

  it('GPT-NeoX mask and RoPE buffers (bool, float) beside the weights are skipped, other unknown dtypes are errors', async () => {
    const dir = copyOf('neox', 'neox-buffers');
    // Append a BOOL causal-mask buffer and a float inv_freq to the file by hand (bam writes neither dtype name).
    const file = join(dir, 'model.safetensors');
    const bytes = readFileSync(file);
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
    const data = bytes.subarray(8 + n);
    header['gpt_neox.layers.0.attention.bias'] = { dtype: 'BOOL', shape: [1, 1, 4, 4], data_offsets: [data.length, data.length + 16] };
    header['gpt_neox.layers.0.attention.rotary_emb.inv_freq'] = { dtype: 'F32', shape: [2], data_offsets: [data.length + 16, data.length + 24] };
    const write = (h: unknown, extra: Buffer) => {
      const head = Buffer.from(JSON.stringify(h));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(head.length));
      writeFileSync(file, Buffer.concat([len, head, data, extra]));
    };
    write(header, Buffer.alloc(24, 1));
    expect(await importedLogitGap('neox', join(work, 'ckpt-neox-buffers'), dir)).toBeLessThan(1e-4);
    header['gpt_neox.layers.0.attention.bias'].dtype = 'I64';
    header['gpt_neox.layers.0.attention.bias'].shape = [2];
    header['gpt_neox.embed_in.extra'] = { dtype: 'BOOL', shape: [8], data_offsets: [data.length + 24, data.length + 32] };
    write(header, Buffer.alloc(32, 1));
    expect((await importError(dir)).message).toMatch(/tensor 'gpt_neox\.embed_in\.extra' has unsupported dtype 'BOOL'/);
  });

  it('a sequential GPT-NeoX model with the tanh GeLU and rotary_pct 0.5 gives the peer logits within 1e-4', async () => {
    expect(await importedLogitGap('neox-seq')).toBeLessThan(1e-4);
  });

  it('a Mistral config with a sliding window imports as Llama with maxSeqLen capped at the window, and the same logits', async () => {
    const dir = copyOf('llama', 'mistral');
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, model_type: 'mistral', sliding_window: 16 }));
    expect(await importedLogitGap('llama', join(work, 'ckpt-mistral'), dir)).toBeLessThan(1e-4); // 7 tokens ≤ the window
    const raw = readCheckpoint(join(work, 'ckpt-mistral'));
    expect((raw.manifest.config as { maxSeqLen: number }).maxSeqLen).toBe(16);
    expect(raw.manifest.meta.importNotes).toEqual(['sliding_window 16 < max_position_embeddings 64: maxSeqLen set to 16, where full attention is the same']);
  });

  it('float16 and bfloat16 weights load as float32 and give the peer logits of the rounded weights within 1e-4', async () => {
    expect(await importedLogitGap('llama-f16')).toBeLessThan(1e-4);
    expect(await importedLogitGap('llama-bf16')).toBeLessThan(1e-4);
    // Same architecture, different (rounded) weights: one config hash, three content hashes.
    const [f32, f16, bf16] = ['llama', 'llama-f16', 'llama-bf16'].map((n) => readCheckpoint(join(work, `ckpt-${n}`)).manifest);
    expect(new Set([f32.configHash, f16.configHash, bf16.configHash]).size).toBe(1);
    expect(new Set([f32.contentHash, f16.contentHash, bf16.contentHash]).size).toBe(3);
  });

  it('a llama2.c model.bin with tokenizer.bin (interleaved RoPE reordered to half-split) gives the peer logits within 1e-4', async () => {
    expect(await importedLogitGap('llama2c')).toBeLessThan(1e-4);
  });

  it('the checkpoint carries tokenizer.json: its BPE merges apply, text round-trips, padded rows are noted', async () => {
    const dir = join(work, 'ckpt-neox');
    const raw = readCheckpoint(dir);
    expect(raw.manifest.tokenizer.id).toMatch(/^hf-[0-9a-f]{16}$/);
    expect(raw.manifest.tokenizer.vocabSize).toBe(261); // 256 bytes + 4 merges + <|endoftext|>
    expect(raw.manifest.files['tokenizer.json']?.bytes).toBe(readFileSync(join(fx, 'tokenizer.json')).length);
    expect(raw.manifest.meta.importNotes).toEqual(['tokenizer has 261 ids; embedding rows 261..263 are padding']);
    const tok = createTokenizer(tokenizerSpecForCheckpoint(dir, raw.manifest.tokenizer.id));
    // Bytes are ids 0..255; merges: th = 256, the = 257, Ġthe = 258, ca = 259.
    expect(tok.encode('the the')).toEqual([257, 258]);
    expect(tok.encode('cat')).toEqual([259, 116]);
    expect(tok.decode(tok.encode('the cat sat, the end'))).toBe('the cat sat, the end');
    expect(tok.documentStart).toBe(260); // <|endoftext|>, the added special token
  });

  it('the llama2.c tokenizer merges the highest-scoring pair first and falls back to bytes', async () => {
    const dir = join(work, 'ckpt-llama2c');
    const tok = createTokenizer(tokenizerSpecForCheckpoint(dir, readCheckpoint(dir).manifest.tokenizer.id));
    expect(tok.vocabSize).toBe(271);
    // " the cat": he (-1), at (-1.5), " t" (-2), cat (-2.5), " the" (-3), " cat" (-3.5); ids 267, 270.
    expect(tok.encode('the cat')).toEqual([267, 270]);
    // "é" is not a piece: the dummy-prefix space (259), then bytes 0xC3, 0xA9 at 3 + byte.
    expect(tok.encode('é')).toEqual([259, 3 + 0xc3, 3 + 0xa9]);
    expect(tok.decode(tok.encode('the cat é'))).toBe('the cat é');
    expect(tok.documentStart).toBe(1); // <s>
  });

  it('a checkpoint derived with only the tokenizer id still carries the tokenizer file', async () => {
    const c = loadCheckpoint(join(work, 'ckpt-llama'));
    const out = join(work, 'derived');
    await saveCheckpoint(out, { model: c.model, tokenizer: { id: c.tokenizer.id, vocabSize: c.tokenizer.vocabSize } });
    disposeModel(c.model);
    const raw = readCheckpoint(out);
    expect(raw.manifest.files['tokenizer.json']?.sha256).toBe(readCheckpoint(join(work, 'ckpt-llama')).manifest.files['tokenizer.json']?.sha256);
  });

  it('a missing tensor is an error naming it', async () => {
    const dir = copyOf('llama', 'bad-missing');
    const w = readSafetensors(join(dir, 'model.safetensors'));
    w.delete('model.layers.1.mlp.up_proj.weight');
    writeSafetensors(join(dir, 'model.safetensors'), w);
    const err = await importError(dir);
    expect(err.code).toBe('E_IMPORT');
    expect(err.message).toMatch(/tensor 'model\.layers\.1\.mlp\.up_proj\.weight' is missing \(expected shape \[40, 32\]/);
  });

  it('an extra tensor is an error naming it', async () => {
    const dir = copyOf('llama', 'bad-extra');
    const w = readSafetensors(join(dir, 'model.safetensors'));
    w.set('model.layers.0.self_attn.q_norm.weight', { dtype: 'F32', shape: [8], data: new Float32Array(8) });
    writeSafetensors(join(dir, 'model.safetensors'), w);
    expect((await importError(dir)).message).toMatch(/unexpected tensor 'model\.layers\.0\.self_attn\.q_norm\.weight'/);
  });

  it('a misshapen tensor is an error naming it and both shapes', async () => {
    const dir = copyOf('llama', 'bad-shape');
    const w = readSafetensors(join(dir, 'model.safetensors'));
    w.set('model.layers.0.self_attn.k_proj.weight', { dtype: 'F32', shape: [32, 32], data: new Float32Array(32 * 32) });
    writeSafetensors(join(dir, 'model.safetensors'), w);
    expect((await importError(dir)).message).toMatch(/tensor 'model\.layers\.0\.self_attn\.k_proj\.weight' has shape \[32, 32\], but config\.json implies \[16, 32\]/);
  });

  it('an unsupported model_type, rope_scaling or activation is an error naming it', async () => {
    const edit = (as: string, patch: Record<string, unknown>) => {
      const dir = copyOf('llama', as);
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, ...patch }));
      return dir;
    };
    expect((await importError(edit('bad-type', { model_type: 'bert' }))).message).toMatch(/model_type 'bert' is not supported[\s\S]*llama, mistral, qwen2, gpt_neox/);
    expect((await importError(edit('bad-rope', { rope_scaling: { type: 'linear', factor: 2 } }))).message).toMatch(/'rope_scaling': \{"type":"linear","factor":2\} is not supported/);
    expect((await importError(edit('bad-act', { hidden_act: 'gelu' }))).message).toMatch(/'hidden_act' 'gelu' is not supported for llama/);
    expect((await importError(edit('bad-head-dim', { head_dim: 16 }))).message).toMatch(/'head_dim' 16 differs from hidden_size \/ num_attention_heads = 8/);
    expect((await importError(edit('bad-tie', { tie_word_embeddings: true }))).message).toMatch(/tie_word_embeddings is true but 'lm_head\.weight' differs from the embedding/);
  });

  it('a tokenizer with more ids than the embedding has rows is an error', async () => {
    const dir = copyOf('llama', 'bad-vocab');
    const tok = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
    tok.added_tokens.push({ id: 261, content: '<|pad|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tok));
    expect((await importError(dir)).message).toMatch(/the tokenizer has 262 ids but the embedding has only 261 rows/);
  });

  it('a truncated llama2.c file is an error comparing its length with its header', async () => {
    const dir = copyOf('llama2c', 'bad-l2c');
    const bytes = readFileSync(join(dir, 'model.bin'));
    writeFileSync(join(dir, 'model.bin'), bytes.subarray(0, bytes.length - 4));
    copyFileSync(join(fx, 'llama2c', 'tokenizer.bin'), join(dir, 'tokenizer.bin'));
    expect((await importError(join(dir, 'model.bin'))).message).toMatch(/holds \d+ float32 values after the header, but its header \(dim 32, .*\) implies \d+/);
  });
});

describe('the architecture options leave existing configs alone', () => {
  it('the presets keep their config hashes (the new fields have no schema defaults)', () => {
    // Hashes of the presets before the optional architecture fields existed.
    const before: Record<string, string> = { smoke: 'e288a08439259bf8', tiny: '123d5b38502aa94a', small: '3be51d691eda2fe8', 'paper-small': '8ec3b23ed7f51da6', 'paper-large': 'a374c64d36b605ab' };
    for (const [name, hash] of Object.entries(before)) expect(configHash(loadPreset(name))).toBe(hash);
  });

  it('writing the defaults out (rms, swiglu, no biases, rotaryFraction 1, shared norms) builds the same parameters and the same logits, bit for bit', async () => {
    await selectBackend({ prefer: 'wasm', log: () => {} });
    const base = { vocabSize: 40, dModel: 16, nHeads: 2, nLayers: 2, dFF: 24, maxSeqLen: 8 };
    const plain = createModel(parseModelConfig(base), 9);
    const explicit = createModel(parseModelConfig({ ...base, norm: 'rms', mlp: 'swiglu', qkvBias: false, attnOutBias: false, ffnBias: false, rotaryFraction: 1, parallelNorms: 'shared' }), 9);
    expect([...explicit.params.keys()]).toEqual([...plain.params.keys()]);
    const ids = [[3, 1, 4, 1, 5, 9, 2, 6]];
    const a = forward(plain, ids);
    const b = forward(explicit, ids);
    expect(Array.from(b.logits.dataSync())).toEqual(Array.from(a.logits.dataSync()));
    tf.dispose([a.logits, a.aux.loadBalance, a.aux.zLoss, b.logits, b.aux.loadBalance, b.aux.zLoss]);
    [plain, explicit].forEach(disposeModel);
  });
});

describe('the architecture options in mixtures', () => {
  it('a mixture of two copies of a GeLU/LayerNorm/bias FFN with renormalised top-2 routing gives the dense logits', async () => {
    await selectBackend({ prefer: 'wasm', log: () => {} });
    const arch = { vocabSize: 40, dModel: 16, nHeads: 2, nLayers: 2, dFF: 24, maxSeqLen: 8, block: 'parallel', parallelNorms: 'separate', norm: 'layernorm', mlp: 'gelu', ffnBias: true, qkvBias: true, attnOutBias: true, rotaryFraction: 0.5 } as const;
    const dense = createModel(parseModelConfig(arch), 5);
    const moeConfig = parseModelConfig({ ...arch, ffn: { kind: 'moe', numExperts: 2, router: { kind: 'topk', k: 2, normalize: 'after' } } });
    const tensors = new Map<string, tf.Tensor>();
    for (const spec of paramSpecs(moeConfig)) {
      const m = /^(layers\.\d+\.ffn)\.experts\.\d+\.(\w+)$/.exec(spec.name);
      const from = m ? `${m[1]}.${m[2]}` : spec.name;
      tensors.set(spec.name, dense.params.get(from) ?? tf.randomNormal(spec.shape, 0, 1, 'float32', 7));
    }
    const moe = modelFromTensors(moeConfig, tensors);
    const ids = [[1, 5, 9, 3, 39, 0, 2, 7]];
    const a = forward(dense, ids);
    const b = forward(moe, ids);
    expect(tf.max(tf.abs(tf.sub(a.logits, b.logits))).arraySync()).toBeLessThan(1e-5);
    expect(tf.max(tf.abs(a.logits)).arraySync()).toBeGreaterThan(0.01);
    tf.dispose([a.logits, a.aux.loadBalance, a.aux.zLoss, b.logits, b.aux.loadBalance, b.aux.zLoss]);
    [dense, moe].forEach(disposeModel);
  });
});
