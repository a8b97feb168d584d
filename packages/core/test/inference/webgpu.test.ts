/**
 * Inference on the webgpu backend against wasm (the reference): the same weights give the same
 * token scores and the same greedy generations. Before scoreTokens and generate read their results
 * with `await t.data()`, both threw on webgpu (`dataSync()` needs an OffscreenCanvas, which Node
 * lacks), so no eval task could run there. In CI the adapter is Mesa llvmpipe through Dawn's
 * OpenGL ES route; without Mesa's EGL/GLES it is skipped (tools/test/components.ts), and with
 * them but no adapter this file FAILS with the reason (see useWebGpu).
 *
 * Tolerances: log-probs and logits 1e-5 absolute (float32 noise of a few ulps on values of
 * magnitude ≤ ~20; measured ≤ 2.9e-6 for log-probs and ≤ 2.3e-6 for logits on llvmpipe), greedy flags and generated tokens exact
 * (initStd 0.5 keeps the random-init logits well apart, so no argmax is a near-tie).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { takeWebGpuErrors, type BackendChoice } from '../../src/backend/index.ts';
import { createModel, disposeModel, modelFromTensors, type BamModel, type ModelConfig } from '../../src/model/index.ts';
import { generate, scoreTokens, type Generation, type TokenScores } from '../../src/inference/index.ts';
import { useWasm } from '../mixture/helpers.ts';
import { toArrays, useWebGpu, type Weights } from '../webgpu/helpers.ts';
import { maxDiff, randomIds, variant } from './helpers.ts';
import { needs } from '../../../../tools/test/components.ts';

const VARIANTS = ['dense', 'btx', 'bam-full', 'bam-kv-shared'] as const;
const TOL = 1e-5;
// Mixed lengths up to maxSeqLen + 1 = 17 (scored in length-sorted batches of 3), and prompts of
// lengths 3, 5, 5, 2 (the two of length 5 decode together with one KV cache).
const SEQS = [6, 17, 2, 9, 9, 13, 4].map((n, i) => randomIds(n, 64, 200 + i));
const PROMPTS = [randomIds(3, 64, 21), randomIds(5, 64, 22), randomIds(5, 64, 23), randomIds(2, 64, 24)];
const STEPS = 6;

interface Run {
  scores: TokenScores[];
  gens: Generation[];
  /** Generations without the KV cache (a full forward per step). */
  recomputed: Generation[];
  /** tf.memory().numTensors after minus before the calls. */
  leaked: number;
}

/** scoreTokens and generate (cached and recomputed) on the active backend, from weights `init`. */
async function infer(config: ModelConfig, init: Weights): Promise<Run> {
  const tensors = new Map([...init].map(([n, w]) => [n, tf.tensor(w.data, w.shape)] as const));
  const model: BamModel = modelFromTensors(config, tensors);
  tf.dispose([...tensors.values()]);
  try {
    const before = tf.memory().numTensors;
    const scores = await scoreTokens(model, SEQS, { batchSize: 3 });
    const gens = await generate(model, PROMPTS, { maxNewTokens: STEPS, returnLogits: true });
    const recomputed = await generate(model, PROMPTS.slice(0, 2), { maxNewTokens: 3, useCache: false });
    return { scores, gens, recomputed, leaked: tf.memory().numTensors - before };
  } finally {
    disposeModel(model);
  }
}

// Skipped without mesa-egl (the run's last line names it; CI=true fails instead): tools/test/components.ts.
const hasMesa = await needs('mesa-egl');

describe.runIf(hasMesa)('scoreTokens and generate on the webgpu backend', () => {
  const wasm = new Map<string, Run>();
  const webgpu = new Map<string, Run>();
  const gpuErrors: string[] = [];
  let choice: BackendChoice;

  beforeAll(async () => {
    await useWasm();
    const inits = new Map<string, { config: ModelConfig; init: Weights }>();
    for (const v of VARIANTS) {
      const config = variant(v);
      const m = createModel(config, 31);
      const init = await toArrays(m.params);
      disposeModel(m);
      inits.set(v, { config, init });
      wasm.set(v, await infer(config, init));
    }
    choice = await useWebGpu();
    takeWebGpuErrors();
    for (const [v, { config, init }] of inits) webgpu.set(v, await infer(config, init));
    gpuErrors.push(...takeWebGpuErrors());
  });

  it('runs on a webgpu adapter and reports no GPU errors', () => {
    expect(choice.name).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    expect(gpuErrors).toEqual([]);
  });

  it.each(VARIANTS)('scores every token as on wasm (log-probs to 1e-5, the same greedy flags), for %s', (v) => {
    const a = webgpu.get(v)!.scores;
    const b = wasm.get(v)!.scores;
    expect(a).toHaveLength(SEQS.length);
    let worst = 0;
    SEQS.forEach((seq, i) => {
      expect(a[i].logprobs).toHaveLength(seq.length - 1);
      worst = Math.max(worst, maxDiff(a[i].logprobs, b[i].logprobs));
      expect(a[i].greedy).toEqual(b[i].greedy);
    });
    expect(worst).toBeLessThan(TOL);
    // Not all zeros: the scores are real log-probabilities of a 64-token vocabulary.
    expect(Math.min(...b.flatMap((s) => s.logprobs))).toBeLessThan(-1);
  });

  it.each(VARIANTS)('generates the same greedy tokens as on wasm, with per-step logits to 1e-5, cached and recomputed, for %s', (v) => {
    const a = webgpu.get(v)!;
    const b = wasm.get(v)!;
    PROMPTS.forEach((_, i) => {
      expect(a.gens[i].cached).toBe(true);
      expect(a.gens[i].tokens).toEqual(b.gens[i].tokens);
      expect(a.gens[i].tokens).toHaveLength(STEPS);
      for (let s = 0; s < STEPS; s++) expect(maxDiff(a.gens[i].logits![s], b.gens[i].logits![s])).toBeLessThan(TOL);
    });
    expect(a.recomputed.map((g) => g.cached)).toEqual([false, false]);
    expect(a.recomputed.map((g) => g.tokens)).toEqual(b.recomputed.map((g) => g.tokens));
    // Recomputing the full forward gives the cached decoding's first tokens.
    expect(a.recomputed.map((g) => g.tokens)).toEqual(a.gens.slice(0, 2).map((g) => g.tokens.slice(0, 3)));
  });

  it('leaks no tensor on either backend', () => {
    for (const v of VARIANTS) {
      expect(wasm.get(v)!.leaked).toBe(0);
      expect(webgpu.get(v)!.leaked).toBe(0);
    }
  });
});
