/** Shared helpers of the upcycle tests: the wasm backend, tiny dense sources, a micro preset. */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { createModel, disposeModel, paramSpecs, parseModelConfig, selectBackend, type ModelConfig, type ModelConfigInput } from '@bam/core';
import type { DenseSource, F32Tensor, UpcyclePresetInput } from '../src/index.ts';

/** Runs on wasm, the embedded default backend. */
export async function useWasm(): Promise<void> {
  await selectBackend({ prefer: 'wasm', log: () => {} });
}

/** The tiny dense config of docs/style.md: V=64, D=16, H=2, L=2, F=32, T=8. */
export function tinyDense(overrides: Partial<ModelConfigInput> = {}): ModelConfig {
  return parseModelConfig({ vocabSize: 64, dModel: 16, nHeads: 2, nLayers: 2, dFF: 32, maxSeqLen: 8, ...overrides });
}

/** A dense source with core's seeded initialisation (what a real seed looks like at step 0). */
export function initSource(config: ModelConfig, seed: number, name = `dense-${seed}`, tokenizerId = 'byte-256'): DenseSource {
  const model = createModel(config, seed);
  const tensors = new Map<string, F32Tensor>();
  for (const [n, v] of model.params) tensors.set(n, { shape: [...v.shape], data: v.dataSync() as Float32Array });
  disposeModel(model);
  return { name, config, tokenizer: { id: tokenizerId, vocabSize: 64 }, tensors };
}

/** A dense source whose every value (norm scales too) is distinct and seeded: for averaging tests. */
export function noiseSource(config: ModelConfig, seed: number, name = `noise-${seed}`): DenseSource {
  let s = (seed * 2654435761) >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
  const tensors = new Map<string, F32Tensor>();
  for (const spec of paramSpecs(config)) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    tensors.set(spec.name, { shape: [...spec.shape], data: Float32Array.from({ length: n }, next) });
  }
  return { name, config, tokenizer: { id: 'byte-256', vocabSize: 64 }, tensors };
}

/** Largest |a − b| over two tensors of equal size. */
export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

/** A fresh temporary directory. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `bam-upcycle-${prefix}-`));
}

/** For one test file: a function making fresh temporary directories, all removed after the file's tests. */
export function scratchDirs(): (prefix: string) => string {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  return (prefix) => {
    const d = tempDir(prefix);
    dirs.push(d);
    return d;
  };
}

/**
 * A micro upcycle preset on the byte tokenizer: D=16, 1 layer, T=16, B=16. The mixture phase is
 * 12 data-matched steps (192 rows), enough rows for compute-matched budgets to meet within 1%.
 */
export function microPreset(overrides: Partial<UpcyclePresetInput> = {}): UpcyclePresetInput {
  return {
    name: 'micro',
    model: 'smoke',
    modelOverrides: { dModel: 16, nHeads: 2, nLayers: 1, dFF: 32, maxSeqLen: 16 },
    batchSize: 16,
    seqLen: 16,
    stages: {
      seed: { steps: 3, lr: { peak: 0.003, warmup: 1 } },
      experts: { steps: 2 },
      mixture: { steps: 12, lr: { peak: 0.002, warmup: 1 } },
    },
    checkpointEvery: 2,
    evalBatches: 1,
    recipes: ['btx', 'bam-full'],
    budgets: ['compute-matched'],
    ...overrides,
  };
}
