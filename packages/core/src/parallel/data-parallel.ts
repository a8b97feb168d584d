/**
 * Data-parallel training over worker threads: the second core of a CPU machine, for the wasm
 * backend whose Node build is single-threaded (docs/method.md, runtime facts).
 *
 * W replicas (./dp-worker.ts) each hold a copy of the model and an AdamW. Every step the
 * coordinator (this thread) splits the batch's rows into W shards; each replica computes the
 * gradients of its shard, weighted by the shard's share of the batch's scored tokens, and the
 * replicas sum them through shared memory (a barrier, then the same fixed-order sum in every
 * replica), clip by the global norm and take the same AdamW step, so they stay identical. The
 * final weights are copied back into the caller's model.
 *
 * What differs from `train()` on one thread: the router losses (load balance, z-loss) are computed
 * per shard and averaged (as on each device of Switch / GShard data parallelism), not over the
 * whole batch, so a mixture's objective differs slightly; for a dense model the update is
 * `train()`'s up to float rounding. No evaluation, logs or checkpoints: it is the inner loop.
 */
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { BamError, ConfigError } from '../errors.ts';
import type { BackendName } from '../backend/index.ts';
import type { BamModel } from '../model/model.ts';
import type { BatchSource } from '../train/trainer.ts';
import type { LrSchedule } from '../train/schedule.ts';
import type { ReplicaSetup, StepMessage, StepReply } from './dp-worker.ts';

/** Options of `trainDataParallel`. */
export interface DataParallelOptions {
  /** The model to train; its weights are replaced by the trained ones at the end (caller keeps ownership). */
  model: BamModel;
  /** Training batches; step `s` uses `batches.batch(s)`, split by rows among the workers. */
  batches: BatchSource;
  /** Optimizer steps. */
  steps: number;
  /** LR schedule (as `train`). */
  lr: LrSchedule;
  /** Worker threads (replicas), ≥ 1; at most the batch size. */
  workers: number;
  /** AdamW decoupled weight decay (default 0.1, rank ≥ 2 parameters). */
  weightDecay?: number;
  /** AdamW betas and epsilon (defaults 0.9, 0.95, 1e-8). */
  adam?: { beta1?: number; beta2?: number; epsilon?: number };
  /** Clip the summed gradient to this global L2 norm (default 1.0; 0 disables). */
  clipNorm?: number;
  /** Backend of the workers (default: this thread's `tf.getBackend()`). */
  backend?: BackendName;
}

/** What `trainDataParallel` returns. Losses are per step, averaged over the shards by token share. */
export interface DataParallelSummary {
  losses: number[];
  initialLoss: number;
  finalLoss: number;
  /** Global gradient norm of each step (before clipping). */
  gradNorms: number[];
  /** Tokens of the steps / wall time of the step loop (worker start-up excluded). */
  tokensPerSecond: number;
  /** CPU time of this process (every thread, the workers included) during the step loop, seconds. */
  cpuSeconds: number;
  tokensSeen: number;
  workers: number;
  /** Time to build the replicas (and, on a new pool, start the workers' backends), ms. */
  startupMs: number;
}

/** Rows [start, end) of the batch each of `world` shards takes (sizes differ by at most one). */
export function shardRows(batchSize: number, world: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let r = 0, start = 0; r < world; r++) {
    const n = Math.floor(batchSize / world) + (r < batchSize % world ? 1 : 0);
    out.push([start, start + n]);
    start += n;
  }
  return out;
}

type WorkerMessage = StepReply | { kind: 'ready' } | { kind: 'weights'; weights: Float32Array } | { kind: 'error'; message: string; stack?: string };

/** Waits for the next message of a worker, failing on its errors and exits. */
function nextMessage(w: Worker): Promise<WorkerMessage> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: WorkerMessage) => {
      cleanup();
      if (m.kind === 'error') reject(new BamError(`data-parallel worker failed: ${m.message}`, 'E_PARALLEL', m.stack));
      else resolve(m);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new BamError(`data-parallel worker failed: ${err.message}`, 'E_PARALLEL'));
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new BamError(`data-parallel worker exited with code ${code}`, 'E_PARALLEL'));
    };
    const cleanup = () => {
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
    };
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
  });
}

/**
 * A pool of data-parallel worker threads, kept between training runs (a thread starts its tfjs
 * backend once; later runs only build their replicas). `train` runs one training at a time.
 * Dispose it with `dispose()`.
 */
export class DataParallelPool {
  /** Worker threads (replicas per run). */
  readonly size: number;
  private readonly workers: Worker[];
  private busy = false;

  /** Starts `workers` threads (≥ 1); `backend` defaults to this thread's `tf.getBackend()`. */
  constructor(workers: number, private readonly opts: { backend?: BackendName } = {}) {
    if (!(Number.isInteger(workers) && workers >= 1)) {
      throw new ConfigError('data-parallel pool', [{ path: 'workers', message: `must be an integer >= 1, got ${workers}` }]);
    }
    this.size = workers;
    this.workers = Array.from({ length: workers }, () => new Worker(new URL('./dp-worker-entry.mjs', import.meta.url)));
  }

  /**
   * Trains `model` for `steps` steps on the pool's replicas and copies the trained weights back
   * into it. A non-finite loss or gradient norm stops the run with a `BamError` naming the step
   * (the model keeps its initial weights).
   */
  async train(opts: Omit<DataParallelOptions, 'workers' | 'backend'>): Promise<DataParallelSummary> {
    if (this.busy) throw new BamError('this data-parallel pool is already training', 'E_PARALLEL', 'await the running train() call, or make a second pool');
    this.busy = true;
    try {
      return await this.run(opts);
    } finally {
      this.busy = false;
    }
  }

  private async run(opts: Omit<DataParallelOptions, 'workers' | 'backend'>): Promise<DataParallelSummary> {
    const { model, batches, steps } = opts;
    const world = this.size;
    const pool = this.workers;
    const first = batches.batch(0);
    const issues: Array<{ path: string; message: string }> = [];
    if (!(Number.isInteger(steps) && steps >= 1)) issues.push({ path: 'steps', message: `must be an integer >= 1, got ${steps}` });
    if (world > first.batchSize) issues.push({ path: 'workers', message: `${world} workers cannot split a batch of ${first.batchSize} rows` });
    if (issues.length) throw new ConfigError('data-parallel training options', issues);

    const layout: ReplicaSetup['layout'] = [];
    let P = 0;
    for (const [name, v] of model.params) {
      layout.push({ name, shape: [...v.shape], offset: P, size: v.size });
      P += v.size;
    }
    const weights = new SharedArrayBuffer(P * 4);
    const flat = new Float32Array(weights);
    for (const p of layout) flat.set((await model.params.get(p.name)!.data()) as Float32Array, p.offset);
    const grads = new SharedArrayBuffer(world * P * 4);
    const sync = new SharedArrayBuffer((1 + world * layout.length) * 4);
    const backend = this.opts.backend ?? (tf.getBackend() as BackendName);

    const t0 = performance.now();
    const started = pool.map(nextMessage);
    pool.forEach((w, rank) => {
      const setup: ReplicaSetup = {
        rank,
        world,
        backend,
        config: model.config,
        layout,
        paramCount: P,
        weights,
        grads,
        sync,
        steps,
        lr: opts.lr,
        weightDecay: opts.weightDecay ?? 0.1,
        clipNorm: opts.clipNorm ?? 1.0,
        adam: opts.adam ?? {},
      };
      w.postMessage({ kind: 'init', setup });
    });
    await Promise.all(started);
    const startupMs = performance.now() - t0;
    const losses: number[] = [];
    const gradNorms: number[] = [];
    let tokens = 0;
    let failure: unknown;
    const cpu0 = process.cpuUsage();
    const t1 = performance.now();
    for (let s = 0; s < steps; s++) {
      const b = s === 0 ? first : batches.batch(s);
      const T = b.seqLen;
      const shards = shardRows(b.batchSize, world);
      let scored = 0;
      for (let i = 0; i < b.targets.length; i++) if (b.targets[i] >= 0) scored++;
      // Each shard's share of the batch's scored tokens: the full-batch mean NLL is Σ share·(shard mean).
      const shares = shards.map(([r0, r1]) => {
        let mine = 0;
        for (let i = r0 * T; i < r1 * T; i++) if (b.targets[i] >= 0) mine++;
        return scored > 0 ? mine / scored : 1 / world;
      });
      const replies = pool.map(nextMessage);
      shards.forEach(([r0, r1], rank) => {
        const msg: StepMessage = { kind: 'step', step: s, inputs: b.inputs.slice(r0 * T, r1 * T), targets: b.targets.slice(r0 * T, r1 * T), rows: r1 - r0, seqLen: T, share: shares[rank] };
        pool[rank].postMessage(msg);
      });
      const done = (await Promise.all(replies)) as StepReply[];
      const loss = done.reduce((a, r, rank) => a + r.loss * shares[rank], 0);
      const gradNorm = done[0].gradNorm;
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
        failure = new BamError(`non-finite ${Number.isFinite(loss) ? 'gradient norm' : 'loss'} at step ${s + 1} (batch ${s}); data-parallel training stopped`, 'E_NONFINITE', 'lower the learning rate or the clip norm, or check the data');
        break;
      }
      losses.push(loss);
      gradNorms.push(gradNorm);
      tokens += b.batchSize * T;
    }
    const loopMs = performance.now() - t1;
    const cpu = process.cpuUsage(cpu0);
    // Every replica tears its run down; the first one's weights become the model's.
    const finals = pool.map(nextMessage);
    pool.forEach((w) => w.postMessage({ kind: 'finish' }));
    const final = (await Promise.all(finals))[0] as { kind: 'weights'; weights: Float32Array };
    if (failure) throw failure;
    for (const p of layout) {
      const v = model.params.get(p.name)!;
      tf.tidy(() => v.assign(tf.tensor(final.weights.subarray(p.offset, p.offset + p.size), p.shape, 'float32')));
    }
    return {
      losses,
      initialLoss: losses[0],
      finalLoss: losses[losses.length - 1],
      gradNorms,
      tokensPerSecond: (tokens / loopMs) * 1000,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      tokensSeen: tokens,
      workers: world,
      startupMs,
    };
  }

  /** Stops every worker thread. */
  async dispose(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * Trains `model` for `steps` steps with `workers` data-parallel replicas in worker threads (a
 * `DataParallelPool` made for this one run) and copies the trained weights back into it. A
 * non-finite loss or gradient norm stops the run with a `BamError` naming the step (the model
 * keeps its initial weights). Resolves when every worker has stopped.
 */
export async function trainDataParallel(opts: DataParallelOptions): Promise<DataParallelSummary> {
  const { workers } = opts;
  if (!(Number.isInteger(workers) && workers >= 1)) {
    throw new ConfigError('data-parallel training options', [{ path: 'workers', message: `must be an integer >= 1, got ${workers}` }]);
  }
  const first = opts.batches.batch(0);
  if (workers > first.batchSize) {
    throw new ConfigError('data-parallel training options', [{ path: 'workers', message: `${workers} workers cannot split a batch of ${first.batchSize} rows` }]);
  }
  const pool = new DataParallelPool(workers, { backend: opts.backend });
  try {
    return await pool.train(opts);
  } finally {
    await pool.dispose();
  }
}
