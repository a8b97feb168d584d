/**
 * The webgpu backend against the wasm backend (the reference), on the smoke preset: the same
 * weights and batch give the same logits, loss, gradients and AdamW-updated weights for each
 * paper variant. In CI the adapter is Mesa llvmpipe through Dawn's OpenGL ES route (no GPU).
 *
 * Tolerances, each relative to the reference's largest magnitude (per parameter for gradients
 * and weights). Measured on llvmpipe (Mesa 22.3.6, Dawn OpenGL ES compatibility mode) vs wasm:
 * logits ≤ 3.3e-7, loss ≤ 1e-7, gradients ≤ 6.2e-7, updated weights ≤ 5.7e-5. The first AdamW
 * step is ≈ lr·g/|g|, so float32 noise in tiny gradients moves a weight by up to ~lr: weights
 * get the loosest bound. Bounds leave ≥ 17× room for other adapters and drivers.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend, takeWebGpuErrors, type BackendChoice } from '../../src/backend/index.ts';
import { createModel, disposeModel, loadPreset, modelFromTensors, parseModelConfig, type ModelConfig } from '../../src/model/index.ts';
import { variantConfig } from '../model/variants.ts';
import { train, type BatchSource } from '../../src/train/index.ts';
import { forwardAndStep, relDiff, toArrays, tokenArray, useWebGpu, worstParam, type StepResult, type Weights } from './helpers.ts';
import { needs } from '../../../../tools/test/components.ts';

const VARIANTS = ['dense', 'btx', 'bam-full', 'bam-kv-shared'] as const;
const TOL = { logits: 1e-5, loss: 1e-5, grads: 1e-4, weights: 1e-3 };
const B = 2;
const T = 16;

/**
 * `train()` for 3 steps (warm-up, global-norm clipping at 1.0, AdamW) from `init` on the active
 * backend: the final weights and the mean loss of the last log interval.
 */
async function trainSteps(config: ModelConfig, init: Weights, batches: BatchSource): Promise<{ weights: Weights; finalLoss: number }> {
  const tensors = new Map([...init].map(([n, w]) => [n, tf.tensor(w.data, w.shape)] as const));
  const model = modelFromTensors(config, tensors);
  tf.dispose([...tensors.values()]);
  try {
    const s = await train({ model, batches, steps: 3, lr: { peak: 1e-3, warmup: 1 }, logEvery: 1, clipNorm: 1 });
    return { weights: await toArrays(model.params), finalLoss: s.finalLoss };
  } finally {
    disposeModel(model);
  }
}

interface Case {
  config: ModelConfig;
  init: Weights;
  wasm: StepResult;
  webgpu?: StepResult;
}

// Skipped without mesa-egl (the run's last line names it; CI=true fails instead): tools/test/components.ts.
const hasMesa = await needs('mesa-egl');

describe.runIf(hasMesa)('the webgpu backend on the smoke preset', () => {
  const cases = new Map<string, Case>();
  let choice: BackendChoice;
  const inputs = tokenArray(B, T, 256, 11);
  const targets = tokenArray(B, T, 256, 12);
  const batches: BatchSource = {
    batch: (step) => ({ inputs: tokenArray(B, T, 256, 100 + 2 * step), targets: tokenArray(B, T, 256, 101 + 2 * step), batchSize: B, seqLen: T }),
  };
  let trainedWasm: { weights: Weights; finalLoss: number };
  let trainedWebGpu: { weights: Weights; finalLoss: number };
  const gpuErrors: string[] = [];

  beforeAll(async () => {
    await selectBackend({ prefer: 'wasm', log: () => {} });
    for (const v of VARIANTS) {
      const config = parseModelConfig(variantConfig(loadPreset('smoke'), v));
      const model = createModel(config, 7);
      const init = await toArrays(model.params);
      disposeModel(model);
      cases.set(v, { config, init, wasm: await forwardAndStep(config, init, inputs, targets, B, T) });
    }
    const kv = cases.get('bam-kv-shared')!;
    trainedWasm = await trainSteps(kv.config, kv.init, batches);
    choice = await useWebGpu();
    takeWebGpuErrors();
    for (const c of cases.values()) c.webgpu = await forwardAndStep(c.config, c.init, inputs, targets, B, T);
    trainedWebGpu = await trainSteps(kv.config, kv.init, batches);
    gpuErrors.push(...takeWebGpuErrors());
  });

  it('reports no GPU errors (invalid shaders or pipelines would mean silently wrong ops)', () => {
    expect(gpuErrors).toEqual([]);
  });

  it('runs on tfjs webgpu and names the adapter and why it may be used', () => {
    expect([choice.name, choice.tfBackend, tf.getBackend()]).toEqual(['webgpu', 'webgpu', 'webgpu']);
    const a = choice.adapter!;
    expect(a.device.length + a.description.length).toBeGreaterThan(0);
    expect(choice.reason).toContain(a.device || a.description);
    // A software adapter is only ever used because it was allowed; the reason must say so.
    if (a.software) expect(choice.reason).toMatch(/software adapter allowed by BAM_WEBGPU_ALLOW_SOFTWARE/);
  });

  it.each(VARIANTS)('gives the %s logits of wasm within 1e-5 relative', (v) => {
    const c = cases.get(v)!;
    expect(c.webgpu!.logits.length).toBe(B * T * 256);
    expect(relDiff(c.webgpu!.logits, c.wasm.logits)).toBeLessThan(TOL.logits);
  });

  it.each(VARIANTS)('gives the %s loss and gradients of wasm (1e-5, 1e-4 relative) for every parameter', (v) => {
    const c = cases.get(v)!;
    const g = c.webgpu!;
    expect(Math.abs(g.loss - c.wasm.loss) / Math.abs(c.wasm.loss)).toBeLessThan(TOL.loss);
    expect(Math.abs(g.nll - c.wasm.nll) / Math.abs(c.wasm.nll)).toBeLessThan(TOL.loss);
    // The same parameters get gradients on both (webgpu's dense dispatch gives unrouted experts
    // zero gradients where wasm gives none: a difference only if some expert got no token).
    expect([...g.grads.keys()].sort()).toEqual([...c.wasm.grads.keys()].sort());
    expect(g.grads.size).toBe(c.init.size);
    const worst = worstParam(g.grads, c.wasm.grads);
    expect(worst.rel, `worst gradient: ${worst.name}`).toBeLessThan(TOL.grads);
  });

  it.each(VARIANTS)('gives the %s weights of wasm within 1e-3 relative after one AdamW step', (v) => {
    const c = cases.get(v)!;
    const worst = worstParam(c.webgpu!.updated, c.wasm.updated);
    expect(worst.rel, `worst weight: ${worst.name}`).toBeLessThan(TOL.weights);
    // The step really moved the weights (the comparison is not of two untouched copies).
    const moved = worstParam(c.wasm.updated, c.init);
    expect(moved.rel).toBeGreaterThan(1e-4);
  });

  it('trains bam-kv-shared for 3 steps with train() (warm-up, clipping over all parameters, AdamW) like wasm', () => {
    // Clipping sums one term per parameter (more than a shader may bind: the AddN fix).
    expect(trainedWasm.weights.size).toBeGreaterThan(16);
    expect(Math.abs(trainedWebGpu.finalLoss - trainedWasm.finalLoss) / trainedWasm.finalLoss).toBeLessThan(TOL.loss);
    const worst = worstParam(trainedWebGpu.weights, trainedWasm.weights);
    expect(worst.rel, `worst weight: ${worst.name}`).toBeLessThan(TOL.weights);
  });
});
