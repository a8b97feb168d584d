import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';
import { CheckpointError } from '../../src/errors.ts';
import { loadPreset, parseModelConfig } from '../../src/model/config.ts';
import { createModel, disposeModel, forward, type BamModel } from '../../src/model/model.ts';
import { AdamW } from '../../src/train/adamw.ts';
import { loadCheckpoint, readCheckpoint, restoreCheckpoint, saveCheckpoint, validateCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import { PYTHON, needs } from '../../../../tools/test/components.ts';
import { readSafetensorsFile, writeSafetensors } from '../../src/checkpoint/safetensors.ts';
import { bytesHash, configHash } from '@bam/utils';

const work = mkdtempSync(join(tmpdir(), 'bam-ckpt-'));
const tokenizer = { id: 'byte-256', vocabSize: 256 };
const config = parseModelConfig({ vocabSize: 256, dModel: 16, nHeads: 2, nLayers: 2, dFF: 24, maxSeqLen: 8 });
let model: BamModel;
let good: string;

// Skipped without numpy (the run's last line names it; CI=true fails instead): tools/test/components.ts.
const hasNumpy = await needs('numpy');

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: () => {} });
  model = createModel(config, 3);
  good = join(work, 'good');
  await saveCheckpoint(good, {
    model,
    tokenizer,
    trainState: { step: 7, tokensSeen: 448, flopsSpent: 1.5e9, seed: 3 },
    metrics: { loss: 5.1, valLoss: NaN },
    meta: { stage: 'test' },
  });
});
afterAll(() => {
  disposeModel(model);
  rmSync(work, { recursive: true, force: true });
});

function copyOf(name: string): string {
  const dir = join(work, name);
  cpSync(good, dir, { recursive: true });
  return dir;
}

function loadError(dir: string): CheckpointError {
  try {
    const r = loadCheckpoint(dir);
    disposeModel(r.model);
  } catch (err) {
    expect(err).toBeInstanceOf(CheckpointError);
    return err as CheckpointError;
  }
  throw new Error('expected loadCheckpoint to fail');
}

const tokens = () => tf.tensor2d([[1, 2, 3, 4, 5, 6, 7, 8], [200, 100, 50, 25, 12, 6, 3, 1]], [2, 8], 'int32');

describe('checkpoints', () => {
  it('loads a saved model that gives bit-identical logits', async () => {
    const x = tokens();
    const a = forward(model, x);
    const loaded = loadCheckpoint(good);
    const b = forward(loaded.model, x);
    expect(Array.from(await b.logits.data())).toEqual(Array.from(await a.logits.data()));
    expect(loaded.config).toEqual(config);
    expect(loaded.tokenizer).toEqual(tokenizer);
    expect(loaded.trainState).toEqual({ step: 7, tokensSeen: 448, flopsSpent: 1.5e9, seed: 3, dataPosition: 7 });
    expect(loaded.metrics).toEqual({ loss: 5.1, valLoss: null });
    expect(loaded.meta).toEqual({ stage: 'test' });
    expect(loaded.optimizerState).toBeUndefined();
    [x, a.logits, a.aux.loadBalance, a.aux.zLoss, b.logits, b.aux.loadBalance, b.aux.zLoss].forEach((t) => t.dispose());
    disposeModel(loaded.model);
  });

  it('records hashes, version and time in checkpoint.json and leaves no temporary directory', () => {
    const m = JSON.parse(readFileSync(join(good, 'checkpoint.json'), 'utf8'));
    const bytes = readFileSync(join(good, 'model.safetensors'));
    expect(m.contentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(m.files['model.safetensors'].bytes).toBe(bytes.length);
    expect(m.bamVersion).toBe('0.1.0');
    expect(Date.now() - Date.parse(m.createdAt)).toBeLessThan(3_600_000);
    expect(readdirSync(work).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it.runIf(hasNumpy)('stores the weights under their parameter names, readable by numpy', () => {
    const out = spawnSync(PYTHON, ['-c', `
import json, struct, numpy as np
raw = open(${JSON.stringify(join(good, 'model.safetensors'))}, 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]; h = json.loads(raw[8:8+n]); h.pop('__metadata__')
b, e = h['layers.1.ffn.w_down']['data_offsets']
a = np.frombuffer(raw[8+n+b:8+n+e], dtype='<f4').reshape(h['layers.1.ffn.w_down']['shape'])
print(json.dumps({'names': sorted(h), 'shape': list(a.shape), 'first': float(a[0, 0]), 'sum': float(a.astype(np.float64).sum())}))`], { encoding: 'utf8' });
    expect(out.status).toBe(0);
    const res = JSON.parse(out.stdout);
    expect(res.names).toEqual([...model.params.keys()].sort());
    expect(res.shape).toEqual([24, 16]);
    const w = model.params.get('layers.1.ffn.w_down')!.dataSync();
    expect(res.first).toBe(w[0]);
    expect(res.sum).toBeCloseTo(Array.from(w).reduce((a, b) => a + b, 0), 5);
  });

  it('round-trips the optimizer state for exact resume', async () => {
    const opt = new AdamW(model.params, { trainable: (n) => n.startsWith('layers.0') });
    const grads = new Map([...model.params].filter(([n]) => n.startsWith('layers.0')).map(([n, v]) => [n, tf.onesLike(v)] as const));
    const snapshot = new Map([...model.params].map(([n, v]) => [n, v.clone()]));
    opt.apply(grads, 1e-3);
    const dir = join(work, 'with-opt');
    await saveCheckpoint(dir, { model, tokenizer, optimizer: opt, trainState: { step: 1 } });
    const raw = readCheckpoint(dir);
    expect(raw.optimizer!.step).toBe(1);
    expect([...raw.optimizer!.m.keys()]).toEqual(opt.trainableNames.slice().sort());
    const saved = await opt.getState();
    expect(Array.from(raw.optimizer!.v.get('layers.0.attn.wq')!.data)).toEqual(Array.from(saved.v.get('layers.0.attn.wq')!.data));
    const opt2 = new AdamW(model.params, { trainable: (n) => n.startsWith('layers.0') });
    restoreCheckpoint(raw, model, opt2);
    expect(opt2.step).toBe(1);
    expect(Array.from((await opt2.getState()).m.get('layers.0.ffn.w_up')!.data)).toEqual(Array.from(saved.m.get('layers.0.ffn.w_up')!.data));
    for (const [n, v] of snapshot) model.params.get(n)!.assign(v);
    snapshot.forEach((t) => t.dispose());
    grads.forEach((t) => t.dispose());
    opt.dispose();
    opt2.dispose();
  });

  it('names checkpoint.json when it is missing, not JSON, or fails the model schema', () => {
    const missing = copyOf('no-manifest');
    rmSync(join(missing, 'checkpoint.json'));
    expect(loadError(missing).message).toContain(`${join(missing, 'checkpoint.json')}: file not found`);

    const badJson = copyOf('bad-json');
    writeFileSync(join(badJson, 'checkpoint.json'), '{"format": "bam-checkpoint",');
    expect(loadError(badJson).message).toMatch(/checkpoint\.json: not valid JSON/);

    const badConfig = copyOf('bad-config');
    const m = JSON.parse(readFileSync(join(badConfig, 'checkpoint.json'), 'utf8'));
    m.config.nHeads = 3; // 16 % 3 != 0
    m.config.dModle = 16;
    m.configHash = configHash(m.config);
    writeFileSync(join(badConfig, 'checkpoint.json'), JSON.stringify(m));
    const err = loadError(badConfig);
    expect(err.message).toContain(join(badConfig, 'checkpoint.json'));
    expect(err.message).toMatch(/model config fails the schema/);
    expect(err.message).toMatch(/dModle/);
  });

  it('detects a corrupted or truncated weights file by its hash and length', () => {
    const flipped = copyOf('flipped');
    const w = join(flipped, 'model.safetensors');
    const bytes = readFileSync(w);
    bytes[bytes.length - 3] ^= 0x40;
    writeFileSync(w, bytes);
    expect(loadError(flipped).message).toMatch(new RegExp(`${w.replace(/[.]/g, '\\.')}: hash mismatch`));

    const cut = copyOf('cut');
    truncateSync(join(cut, 'model.safetensors'), 100);
    expect(loadError(cut).message).toMatch(/model\.safetensors: wrong length: 100 bytes/);

    const gone = copyOf('gone');
    rmSync(join(gone, 'model.safetensors'));
    expect(loadError(gone).message).toMatch(/model\.safetensors: file not found/);
  });

  /** Rewrites the weights and re-records their hash, so only the tensor check can catch it. */
  function rewriteWeights(dir: string, edit: (t: ReturnType<typeof readSafetensorsFile>['tensors']) => void): void {
    const path = join(dir, 'model.safetensors');
    const file = readSafetensorsFile(path);
    edit(file.tensors);
    const bytes = writeSafetensors(path, file.tensors, file.metadata);
    const m = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8'));
    m.contentHash = bytesHash(bytes);
    m.files['model.safetensors'] = { sha256: m.contentHash, bytes: bytes.length };
    writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify(m));
  }

  it('names the tensor when one is missing, extra, or of the wrong shape', () => {
    const missing = copyOf('missing-tensor');
    rewriteWeights(missing, (t) => t.delete('layers.1.attn.wk'));
    expect(loadError(missing).message).toMatch(/model\.safetensors: tensor 'layers\.1\.attn\.wk' is missing \(the config expects shape \[16, 16\]\)/);

    const extra = copyOf('extra-tensor');
    rewriteWeights(extra, (t) => t.set('layers.2.attn.wq', { dtype: 'F32', shape: [1], data: new Float32Array(1) }));
    expect(loadError(extra).message).toMatch(/model\.safetensors: extra tensor 'layers\.2\.attn\.wq'/);

    const shape = copyOf('bad-shape');
    rewriteWeights(shape, (t) => t.set('final_norm.scale', { dtype: 'F32', shape: [8, 2], data: new Float32Array(16) }));
    expect(loadError(shape).message).toMatch(/model\.safetensors: shape mismatch for tensor 'final_norm\.scale': expected \[16\], got \[8, 2\]/);
  });

  it('refuses non-finite weights, a tokenizer larger than the vocabulary, and a weights file that is a folder', () => {
    const nan = copyOf('nan-weights');
    rewriteWeights(nan, (t) => {
      const w = t.get('layers.0.attn.wq')!;
      const data = new Float32Array(w.data);
      data[5] = Number.NaN;
      data[7] = Number.POSITIVE_INFINITY;
      t.set('layers.0.attn.wq', { ...w, data });
    });
    const nanError = loadError(nan);
    expect(nanError.message).toContain(`${join(nan, 'model.safetensors')}: tensor 'layers.0.attn.wq' holds 2 non-finite values (first: NaN at index 5)`);
    expect(() => validateCheckpoint(nan)).toThrow(nanError.message);

    const bigTokenizer = copyOf('tokenizer-4096');
    const m = JSON.parse(readFileSync(join(bigTokenizer, 'checkpoint.json'), 'utf8'));
    m.tokenizer = { id: 'gpt2-trunc-4096', vocabSize: 4096 };
    writeFileSync(join(bigTokenizer, 'checkpoint.json'), JSON.stringify(m));
    expect(loadError(bigTokenizer).message).toContain("tokenizer 'gpt2-trunc-4096' has 4096 ids but the model config only 256");
    expect(() => validateCheckpoint(bigTokenizer)).toThrow(/has 4096 ids but the model config only 256/);

    const folder = copyOf('weights-folder');
    rmSync(join(folder, 'model.safetensors'));
    mkdirSync(join(folder, 'model.safetensors'));
    expect(loadError(folder).message).toContain(`${join(folder, 'model.safetensors')}: is a folder, not a file`);

    // The untouched checkpoint passes every check, without a model being built.
    expect(validateCheckpoint(good).config).toEqual(config);
  });

  it('replaces an existing checkpoint directory atomically', async () => {
    const dir = copyOf('replace');
    const other = createModel(loadPreset('smoke'), 1);
    await saveCheckpoint(dir, { model: other, tokenizer });
    expect(readCheckpoint(dir).manifest.config).toEqual(other.config);
    expect(existsSync(join(dir, 'optimizer.safetensors'))).toBe(false);
    expect(readdirSync(work).filter((f) => f.startsWith('.'))).toEqual([]);
    disposeModel(other);
  });
});
