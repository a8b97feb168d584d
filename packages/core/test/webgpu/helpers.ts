/**
 * Shared helpers of the webgpu suite: start webgpu on whatever adapter this machine has (a
 * software one in CI), one forward + one AdamW step of a model as plain arrays, and relative
 * differences. Each test file runs in its own vitest fork, so the backend switch stays there.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendChoice } from '../../src/backend/index.ts';
import { modelFromTensors, disposeModel, forward, computeLossAndGrads, type ModelConfig } from '../../src/model/index.ts';
import { AdamW } from '../../src/train/index.ts';

/**
 * Makes webgpu active, software adapters allowed (CI has no GPU). Fails — never skips — with
 * the reason and the fix when no adapter exists, so a CI machine that lost its Mesa EGL/GLES
 * libraries turns the suite red instead of silently testing nothing. With env
 * BAM_WEBGPU_EXPECT_HARDWARE=1 a software adapter fails too.
 */
export async function useWebGpu(): Promise<BackendChoice> {
  let choice: BackendChoice;
  try {
    choice = await selectBackend({ prefer: 'webgpu', env: { ...process.env, BAM_WEBGPU_ALLOW_SOFTWARE: '1' }, log: () => {} });
  } catch (err) {
    throw new Error(
      `the webgpu suite needs a WebGPU adapter (hardware, or Mesa llvmpipe through Dawn's OpenGL ES route) and found none.\n` +
        `.ci/run installs libegl1 libgles2 libegl-mesa0 libgl1-mesa-dri for this; check them with ` +
        `\`ldconfig -p | grep -i -E 'egl|gles'\` and see docs/gpu.md.\n${(err as Error).message}`,
    );
  }
  // benchmarks/gpu/run.sh sets this on a GPU machine, so the suite cannot pass on llvmpipe there.
  if (process.env.BAM_WEBGPU_EXPECT_HARDWARE === '1' && choice.adapter?.software) {
    throw new Error(`BAM_WEBGPU_EXPECT_HARDWARE=1 but the adapter is a software one: ${choice.reason}`);
  }
  return choice;
}

/** Parameters as plain arrays, by name. */
export type Weights = Map<string, { shape: number[]; data: Float32Array }>;

/** Copies named tensors to plain arrays. */
export async function toArrays(tensors: ReadonlyMap<string, tf.Tensor>): Promise<Weights> {
  const out: Weights = new Map();
  for (const [name, t] of tensors) out.set(name, { shape: [...t.shape], data: Float32Array.from(await t.data()) });
  return out;
}

/** Deterministic tokens [B, T] in [0, V) (an LCG), as a plain array. */
export function tokenArray(B: number, T: number, V: number, seed: number): Int32Array {
  let s = seed >>> 0;
  const out = new Int32Array(B * T);
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s % V;
  }
  return out;
}

/** What one forward and one training step gave, as plain numbers. */
export interface StepResult {
  logits: Float32Array; // [B, T, V]
  loss: number;
  nll: number;
  grads: Weights;
  updated: Weights;
}

/**
 * On the active backend: builds the model from `init`, runs a forward on `inputs` [B, T], then
 * one AdamW step (lr 1e-3, paper defaults) on (inputs, targets), and returns everything as
 * arrays. Frees every tensor it made.
 */
export async function forwardAndStep(config: ModelConfig, init: Weights, inputs: Int32Array, targets: Int32Array, B: number, T: number): Promise<StepResult> {
  const tensors = new Map([...init].map(([n, w]) => [n, tf.tensor(w.data, w.shape)] as const));
  const model = modelFromTensors(config, tensors);
  tf.dispose([...tensors.values()]);
  const x = tf.tensor2d(inputs, [B, T], 'int32');
  const y = tf.tensor2d(targets, [B, T], 'int32');
  try {
    const f = forward(model, x);
    const logits = Float32Array.from(await f.logits.data());
    tf.dispose([f.logits, f.aux.loadBalance, f.aux.zLoss]);
    const lg = computeLossAndGrads(model, x, y);
    const loss = (await lg.loss.data())[0];
    const nll = (await lg.nll.data())[0];
    const grads = await toArrays(lg.grads);
    const opt = new AdamW(model.params);
    opt.apply(lg.grads, 1e-3);
    tf.dispose([lg.loss, lg.nll, lg.loadBalance, lg.zLoss, ...lg.grads.values()]);
    const updated = await toArrays(model.params);
    opt.dispose();
    return { logits, loss, nll, grads, updated };
  } finally {
    disposeModel(model);
    tf.dispose([x, y]);
  }
}

/** max |a − b| / max |b| (0/0 = 0): a difference relative to the reference's scale. */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return m === 0 ? d : d / m;
}

/** The largest `relDiff` over parameters (each relative to its own scale), and which one. */
export function worstParam(a: Weights, b: Weights): { name: string; rel: number } {
  let worst = { name: '', rel: 0 };
  for (const [name, ref] of b) {
    const got = a.get(name);
    if (!got) throw new Error(`parameter ${name} missing`);
    const rel = relDiff(got.data, ref.data);
    if (rel >= worst.rel) worst = { name, rel };
  }
  return worst;
}
