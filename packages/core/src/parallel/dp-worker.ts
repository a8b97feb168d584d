/**
 * One replica of data-parallel training, run in a worker thread (see ./data-parallel.ts). The
 * thread lives as long as its pool and builds a fresh replica for each run (`init` … `finish`).
 *
 * The replica holds its own copy of the model and its own AdamW. Every step it computes the loss
 * and gradients of its shard of the batch, writes the gradients (scaled by its share of the
 * batch's tokens) into its region of a shared buffer, waits at a barrier for the other replicas,
 * sums all regions in a fixed order, clips and applies AdamW. Every replica sums the same numbers
 * in the same order, so the replicas stay bit-identical without ever sending weights.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendName } from '../backend/index.ts';
import { parseModelConfig } from '../model/config.ts';
import { computeLoss } from '../model/loss.ts';
import { disposeModel, modelFromTensors, type BamModel } from '../model/model.ts';
import { AdamW } from '../train/adamw.ts';
import { learningRate, type LrSchedule } from '../train/schedule.ts';

/** What the coordinator hands each replica at the start of a run (plain data and shared buffers). */
export interface ReplicaSetup {
  rank: number;
  world: number;
  backend: BackendName;
  config: unknown;
  /** Parameter names, shapes and offsets into the flat buffers (model order). */
  layout: Array<{ name: string; shape: number[]; offset: number; size: number }>;
  /** Total floats of all parameters (P). */
  paramCount: number;
  /** The initial weights, flat [P] (shared, read once). */
  weights: SharedArrayBuffer;
  /** world regions of P floats: replica r writes its scaled gradients into region r. */
  grads: SharedArrayBuffer;
  /** Int32: [0] the barrier counter, then world × params flags (1: replica r has a gradient for param i). */
  sync: SharedArrayBuffer;
  steps: number;
  lr: LrSchedule;
  weightDecay: number;
  clipNorm: number;
  adam: { beta1?: number; beta2?: number; epsilon?: number };
}

/** One step for one replica: its rows of the batch and its share of the batch's scored tokens. */
export interface StepMessage {
  kind: 'step';
  step: number;
  inputs: Int32Array;
  targets: Int32Array;
  rows: number;
  seqLen: number;
  share: number;
}

/** What a replica answers after a step: its shard's loss parts and the global gradient norm. */
export interface StepReply {
  kind: 'done';
  step: number;
  loss: number;
  nll: number;
  loadBalance: number;
  zLoss: number;
  gradNorm: number;
}

const port = parentPort!;

/** One training run's replica: built by `init`, used by `step`, torn down by `finish`. */
interface Replica {
  setup: ReplicaSetup;
  model: BamModel;
  optimizer: AdamW;
  vars: tf.Variable[];
  layoutOf: Map<string, ReplicaSetup['layout'][number] & { index: number }>;
  grads: Float32Array;
  sync: Int32Array;
  summed: Float32Array;
}

let backendReady: Promise<unknown> | null = null;
let replica: Replica | null = null;

async function init(setup: ReplicaSetup): Promise<void> {
  backendReady ??= selectBackend({ prefer: setup.backend, log: () => {} });
  await backendReady;
  const config = parseModelConfig(setup.config, 'data-parallel replica');
  const flat = new Float32Array(setup.weights);
  const tensors = new Map<string, tf.Tensor>();
  for (const p of setup.layout) tensors.set(p.name, tf.tensor(flat.subarray(p.offset, p.offset + p.size), p.shape, 'float32'));
  const model = modelFromTensors(config, tensors);
  tensors.forEach((t) => t.dispose());
  replica = {
    setup,
    model,
    optimizer: new AdamW(model.params, { ...setup.adam, weightDecay: setup.weightDecay }),
    vars: setup.layout.map((p) => model.params.get(p.name)!),
    layoutOf: new Map(setup.layout.map((p, i) => [model.params.get(p.name)!.name, { ...p, index: i }])),
    grads: new Float32Array(setup.grads),
    sync: new Int32Array(setup.sync),
    summed: new Float32Array(setup.paramCount),
  };
}

function finish(): Float32Array {
  const r = replica!;
  const out = new Float32Array(r.setup.paramCount);
  for (const p of r.setup.layout) out.set(r.model.params.get(p.name)!.dataSync() as Float32Array, p.offset);
  r.optimizer.dispose();
  disposeModel(r.model);
  replica = null;
  return out;
}

function step(msg: StepMessage): StepReply {
  const { setup, model, optimizer, vars, layoutOf, grads, sync, summed } = replica!;
  const { step, rows, seqLen, share } = msg;
  const P = setup.paramCount;
  const K = setup.layout.length;
  const mine = grads.subarray(setup.rank * P, (setup.rank + 1) * P);
  const flags = sync.subarray(1, 1 + setup.world * K);
  const myFlags = flags.subarray(setup.rank * K, (setup.rank + 1) * K);
  // 1. Loss and gradients of this shard; gradients scaled by its share, into region `rank`.
  const parts = tf.tidy(() => {
    const inputs = tf.tensor2d(msg.inputs, [rows, seqLen], 'int32'); // [b, T]
    const targets = tf.tensor2d(msg.targets, [rows, seqLen], 'int32'); // [b, T]
    let side: tf.Scalar[] = [];
    const { value, grads: g } = tf.variableGrads(() => {
      const out = computeLoss(model, inputs, targets);
      side = [tf.keep(out.nll), tf.keep(out.loadBalance), tf.keep(out.zLoss)];
      return out.loss;
    }, vars);
    // A parameter this shard did not reach (an expert no token chose) has no gradient here.
    myFlags.fill(0);
    for (const [varName, t] of Object.entries(g)) {
      const p = layoutOf.get(varName)!;
      const v = t.dataSync() as Float32Array;
      for (let i = 0; i < p.size; i++) mine[p.offset + i] = v[i] * share;
      myFlags[p.index] = 1;
    }
    const stacked = tf.stack([value, ...side]);
    side.forEach((t) => t.dispose());
    return stacked.dataSync().slice();
  });
  // 2. Barrier: every replica has written its region for this step.
  const target = setup.world * (step + 1);
  Atomics.add(sync, 0, 1);
  Atomics.notify(sync, 0);
  for (let seen = Atomics.load(sync, 0); seen < target; seen = Atomics.load(sync, 0)) Atomics.wait(sync, 0, seen);
  // 3. The same sum in every replica (region 0, then 1, ...), clip, AdamW. A parameter no
  //    replica reached gets no gradient at all, so AdamW skips it as the one-thread trainer does.
  const reached = new Map<string, { offset: number; size: number; shape: number[] }>();
  setup.layout.forEach((p, k) => {
    let first = true;
    for (let r = 0; r < setup.world; r++) {
      if (!flags[r * K + k]) continue;
      const region = grads.subarray(r * P + p.offset, r * P + p.offset + p.size);
      if (first) summed.set(region, p.offset);
      else for (let i = 0; i < p.size; i++) summed[p.offset + i] += region[i];
      first = false;
    }
    if (!first) reached.set(p.name, p);
  });
  const gradNorm = tf.tidy(() => {
    const gradsByName = new Map<string, tf.Tensor>();
    for (const [n, p] of reached) gradsByName.set(n, tf.tensor(summed.subarray(p.offset, p.offset + p.size), p.shape, 'float32'));
    const norm = tf.sqrt(tf.addN([...gradsByName.values()].map((t) => tf.sum(tf.square(t))))) as tf.Scalar;
    // torch.nn.utils.clip_grad_norm_: scale = min(1, max_norm / (norm + 1e-6)), as the trainer.
    const scale = setup.clipNorm > 0 ? (tf.minimum(1, tf.div(setup.clipNorm, tf.add(norm, 1e-6))) as tf.Scalar) : undefined;
    optimizer.apply(gradsByName, learningRate(setup.lr, step, setup.steps), scale);
    return norm.dataSync()[0];
  });
  return { kind: 'done', step, loss: parts[0], nll: parts[1], loadBalance: parts[2], zLoss: parts[3], gradNorm };
}

port.on('message', (msg: { kind: 'init'; setup: ReplicaSetup } | StepMessage | { kind: 'finish' }) => {
  void (async () => {
    try {
      if (msg.kind === 'init') {
        await init(msg.setup);
        port.postMessage({ kind: 'ready' });
      } else if (msg.kind === 'step') {
        port.postMessage(step(msg));
      } else {
        const weights = finish();
        port.postMessage({ kind: 'weights', weights }, [weights.buffer as ArrayBuffer]);
      }
    } catch (err) {
      const e = err as Error;
      port.postMessage({ kind: 'error', message: e.message, stack: e.stack });
    }
  })();
});
