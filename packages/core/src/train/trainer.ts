/**
 * The training loop: AdamW with the paper's warm-up + cosine schedule, gradient clipping by
 * global norm, periodic validation, JSONL logs, a TTY progress bar, checkpoints every K steps
 * and exact resume.
 *
 * Exact resume rests on three facts: the data is `batches.batch(step)` (a pure function of the
 * step), the optimizer state is saved beside the weights, and nothing else is random. A resumed
 * run therefore recomputes bit for bit what the uninterrupted run computed, on the same backend.
 *
 * Scalars are read back from the device only at flush points (log interval, evaluation,
 * checkpoint, end). Every flush checks that each step's loss and gradient norm were finite, and
 * a checkpoint is saved only after such a check, so a NaN stops the run with the last good
 * checkpoint intact.
 */
import * as tf from '@tensorflow/tfjs';
import cliProgress from 'cli-progress';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BamError, ConfigError, DataError } from '../errors.ts';
import { configHash, writeFileAtomic } from '@bam/utils';
import {
  listCheckpoints,
  readCheckpoint,
  restoreCheckpoint,
  saveCheckpoint,
  stepCheckpointName,
  type CheckpointTokenizer,
  type ParamsModel,
  type TrainState,
} from '../checkpoint/checkpoint.ts';
import { ModelConfigSchema } from '../model/config.ts';
import { computeLoss } from '../model/loss.ts';
import type { BamModel } from '../model/model.ts';
import { trainingFlops } from '../model/count.ts';
import { AdamW, resolveTrainable, type TrainableSpec } from './adamw.ts';
import { learningRate, type LrSchedule } from './schedule.ts';

/** One batch of token ids, row-major [B, T] (docs/internals.md). */
export interface TokenBatch {
  inputs: Int32Array;
  targets: Int32Array;
  batchSize: number;
  seqLen: number;
}

/** Batches as a pure function of the step index. */
export interface BatchSource {
  batch(step: number): TokenBatch;
}

/** The scalars a loss function returns; `loss` is what is minimised. */
export interface LossParts {
  loss: tf.Scalar;
  nll: tf.Scalar;
  loadBalance: tf.Scalar;
  zLoss: tf.Scalar;
}

/** A loss: `(model, inputs [B, T] int32, targets [B, T] int32) → LossParts`, inside the caller's tidy. */
export type LossFn<M> = (model: M, inputs: tf.Tensor2D, targets: tf.Tensor2D) => LossParts;

/** What `onProgress` receives at every flush. */
export interface TrainProgress {
  step: number;
  steps: number;
  lr: number;
  loss: number;
  nll: number;
  gradNorm: number;
  tokensSeen: number;
  tokensPerSecond: number;
  etaSeconds: number;
  valLoss?: number;
  /** `tf.memory().numTensors` at this flush (steady across steps when nothing leaks). */
  numTensors: number;
}

/** Options of `train`. Defaults follow the BAM paper (AdamW, λ = 0.1, warm-up + cosine to 10%). */
export interface TrainOptions<M extends ParamsModel = BamModel> {
  /** The model to train, updated in place (still owned by the caller). */
  model: M;
  /** Training batches; step `s` uses `batches.batch(s)`. */
  batches: BatchSource;
  /** Total optimizer steps of the run; a resumed run continues up to this number. */
  steps: number;
  /** LR schedule: peak, warm-up steps, decay floor ratio (default 0.1). */
  lr: LrSchedule;
  /** AdamW decoupled weight decay (default 0.1; only rank ≥ 2 parameters, see adamw.ts). */
  weightDecay?: number;
  /** AdamW betas and epsilon (defaults 0.9, 0.95, 1e-8). */
  adam?: { beta1?: number; beta2?: number; epsilon?: number };
  /** Clip gradients to this global L2 norm (default 1.0; 0 disables clipping). */
  clipNorm?: number;
  /** Recorded in checkpoints; a resume must use the same seed. Default 0. */
  seed?: number;
  /** Validation batches; evaluated at the start, every `evalEvery` steps and at the end. */
  evalBatches?: BatchSource;
  /** Evaluate every this many steps (default 0: only at the start and the end). */
  evalEvery?: number;
  /** Validation batches per evaluation: batches 0..evalSteps−1 of `evalBatches` (default 4). */
  evalSteps?: number;
  /** Save a checkpoint every this many steps (default 0: only at the end). Needs `outDir`. */
  checkpointEvery?: number;
  /** Trainer checkpoints to keep in `outDir` (oldest are deleted; default 2). */
  keepCheckpoints?: number;
  /** Checkpoints go to `outDir/step-NNNNNNNN/`; a run resumes from the newest one there. */
  outDir?: string;
  /** Tokenizer `{id, vocabSize}` recorded in checkpoints (needed with `outDir`). */
  tokenizer?: CheckpointTokenizer;
  /** Resume from the newest checkpoint in `outDir` (default true). */
  resume?: boolean;
  /** JSONL log path (default `outDir/train.jsonl` when `outDir` is given, else none). */
  log?: string;
  /** Read scalars back and log every this many steps (default 10). */
  logEvery?: number;
  /** Show a progress bar on stderr (default: stderr is a TTY). */
  progress?: boolean;
  /** Called at every flush, after logging. */
  onProgress?: (p: TrainProgress) => void;
  /** Which parameters train (names or predicate); the others stay bit-identical. Default: all. */
  trainable?: TrainableSpec;
  /** The loss (default: the model's `computeLoss`; required when `model` is not a `BamModel`). */
  loss?: LossFn<M>;
  /**
   * Training FLOPs per token, for `flopsSpent`. Default: `trainingFlops(config, 1, seqLen)` (3 ×
   * the paper's analytic forward count) for a model config, else 6 × trainable parameters.
   */
  flopsPerToken?: number;
  /** Extra JSON recorded in every checkpoint's `meta`. */
  meta?: Record<string, unknown>;
}

/** What `train` returns. Losses are means over the log interval; val losses are mean NLL. */
export interface TrainSummary {
  /** Loss (total objective) of the first step this call ran, before its update. */
  initialLoss: number;
  /** Mean loss over the last log interval. */
  finalLoss: number;
  /** Mean validation NLL at the start of this call (NaN without `evalBatches`). */
  initialValLoss: number;
  /** Mean validation NLL at the end (NaN without `evalBatches`). */
  finalValLoss: number;
  /** Tokens consumed by the whole run (including steps before a resume). */
  tokensSeen: number;
  /** Training throughput of this call (excluding evaluation and checkpoint time). */
  tokensPerSecond: number;
  /** Total steps done (equals `steps` on success). */
  steps: number;
  /** The step this call started from (0, or the resumed checkpoint's step). */
  startStep: number;
  /** The checkpoint resumed from, if any. */
  resumedFrom?: string;
  /** The final checkpoint, if `outDir` was given. */
  checkpoint?: string;
  /** Per-step training losses of this call, index 0 = step `startStep + 1`. */
  losses: number[];
  /** Training FLOPs spent by the whole run. */
  flopsSpent: number;
}

interface LogLine {
  kind: 'train' | 'eval';
  step: number;
  [k: string]: unknown;
}

/** Mean validation loss parts over batches 0..n−1 of `source`. Reads scalars back (async). */
export async function evaluateLoss<M extends ParamsModel>(
  model: M,
  source: BatchSource,
  n: number,
  lossFn: LossFn<M>,
): Promise<{ loss: number; nll: number }> {
  let loss = 0;
  let nll = 0;
  for (let i = 0; i < n; i++) {
    const b = checkBatch(source.batch(i), i, 'validation');
    const parts = tf.tidy(() => {
      const inputs = tf.tensor2d(b.inputs, [b.batchSize, b.seqLen], 'int32');
      const targets = tf.tensor2d(b.targets, [b.batchSize, b.seqLen], 'int32');
      const out = lossFn(model, inputs, targets);
      return tf.stack([out.loss, out.nll]);
    });
    const v = await parts.data();
    parts.dispose();
    loss += v[0];
    nll += v[1];
  }
  return { loss: loss / n, nll: nll / n };
}

function checkBatch(b: TokenBatch, step: number, what: string): TokenBatch {
  const n = b.batchSize * b.seqLen;
  if (!(b.inputs instanceof Int32Array) || !(b.targets instanceof Int32Array) || b.inputs.length !== n || b.targets.length !== n) {
    throw new DataError(
      `${what} batch ${step} is malformed: expected Int32Array inputs and targets of ${b.batchSize}×${b.seqLen} = ${n} ids, got ${b.inputs?.length} and ${b.targets?.length}`,
      'a BatchSource must return {inputs, targets: Int32Array, batchSize, seqLen} row-major [B, T]',
    );
  }
  return b;
}

function checkOptions<M extends ParamsModel>(o: TrainOptions<M>): void {
  const issues: Array<{ path: string; message: string }> = [];
  const int = (v: number | undefined, path: string, min: number) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= min)) issues.push({ path, message: `must be an integer >= ${min}, got ${v}` });
  };
  int(o.steps, 'steps', 1);
  int(o.evalEvery, 'evalEvery', 0);
  int(o.evalSteps, 'evalSteps', 1);
  int(o.checkpointEvery, 'checkpointEvery', 0);
  int(o.keepCheckpoints, 'keepCheckpoints', 1);
  int(o.logEvery, 'logEvery', 1);
  int(o.seed, 'seed', Number.MIN_SAFE_INTEGER);
  if (o.clipNorm !== undefined && !(o.clipNorm >= 0)) issues.push({ path: 'clipNorm', message: `must be >= 0, got ${o.clipNorm}` });
  if (o.flopsPerToken !== undefined && !(o.flopsPerToken >= 0)) issues.push({ path: 'flopsPerToken', message: `must be >= 0, got ${o.flopsPerToken}` });
  if (o.checkpointEvery && !o.outDir) issues.push({ path: 'checkpointEvery', message: 'needs outDir' });
  if (o.outDir && !o.tokenizer) issues.push({ path: 'tokenizer', message: 'is required with outDir (checkpoints record it)' });
  if (issues.length) throw new ConfigError('training options', issues);
}

/**
 * Keeps only the log lines up to `step`, so a resumed run's log equals an uninterrupted one.
 * Returns the kept lines.
 */
function truncateLog(path: string, step: number): LogLine[] {
  if (!existsSync(path)) return [];
  const kept = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => {
      if (!line.trim()) return false;
      try {
        return (JSON.parse(line) as LogLine).step <= step;
      } catch {
        return false;
      }
    });
  writeFileAtomic(path, kept.length ? `${kept.join('\n')}\n` : '');
  return kept.map((line) => JSON.parse(line) as LogLine);
}

const num = (x: number): number | null => (Number.isFinite(x) ? x : null);

/**
 * Trains `model` in place and returns a summary. With `outDir`, saves checkpoints there and
 * resumes from the newest one (same seed and config required). A non-finite loss or gradient
 * norm throws `BamError` (code `E_NONFINITE`) naming the step; checkpoints already saved are
 * left as they are. The loss function's tensors are disposed every step (the tensor count is
 * steady across steps).
 */
export async function train<M extends ParamsModel = BamModel>(opts: TrainOptions<M>): Promise<TrainSummary> {
  checkOptions(opts);
  const { model, batches, steps } = opts;
  const isModelConfig = ModelConfigSchema.safeParse(model.config).success;
  if (!opts.loss && !isModelConfig) {
    throw new ConfigError('training options', [{ path: 'loss', message: 'is required when the model config is not a bam ModelConfig' }]);
  }
  const lossFn = opts.loss ?? (computeLoss as unknown as LossFn<M>);
  const seed = opts.seed ?? 0;
  const clipNorm = opts.clipNorm ?? 1.0;
  const logEvery = opts.logEvery ?? 10;
  const evalEvery = opts.evalEvery ?? 0;
  const evalSteps = opts.evalSteps ?? 4;
  const checkpointEvery = opts.checkpointEvery ?? 0;
  const keep = opts.keepCheckpoints ?? 2;
  const logPath = opts.log ?? (opts.outDir ? join(opts.outDir, 'train.jsonl') : undefined);

  const trainableNames = resolveTrainable(model.params, opts.trainable);
  if (trainableNames.length === 0) throw new ConfigError('training options', [{ path: 'trainable', message: 'selects no parameter' }]);
  const trainVars = trainableNames.map((n) => model.params.get(n)!);
  const paramOfVar = new Map(trainableNames.map((n) => [model.params.get(n)!.name, n]));
  const firstBatch = checkBatch(batches.batch(0), 0, 'training');
  const flopsPerToken =
    opts.flopsPerToken ??
    (isModelConfig
      ? trainingFlops(ModelConfigSchema.parse(model.config), 1, firstBatch.seqLen)
      : 6 * trainVars.reduce((a, v) => a + v.size, 0));

  const optimizer = new AdamW(model.params, {
    ...opts.adam,
    weightDecay: opts.weightDecay ?? 0.1,
    trainable: trainableNames,
  });

  let startStep = 0;
  let tokensSeen = 0;
  let flopsSpent = 0;
  let resumedFrom: string | undefined;
  let lastCheckpoint: string | undefined;
  let resumedLoss = NaN;
  let bar: InstanceType<typeof cliProgress.SingleBar> | undefined;
  const pending: tf.Tensor1D[] = [];
  try {
    if (opts.outDir && opts.resume !== false) {
      const all = listCheckpoints(opts.outDir);
      if (all.length) {
        const latest = all[all.length - 1];
        const raw = readCheckpoint(latest.dir);
        if (raw.manifest.configHash !== configHash(model.config)) {
          throw new BamError(
            `cannot resume from ${latest.dir}: it was trained with config ${raw.manifest.configHash}, this model has ${configHash(model.config)}`,
            'E_RESUME',
            'use a new --out directory, or the same model config as the interrupted run',
          );
        }
        if (raw.manifest.trainState.seed !== seed) {
          throw new BamError(`cannot resume from ${latest.dir}: it used seed ${raw.manifest.trainState.seed}, this run seed ${seed}`, 'E_RESUME', `pass seed ${raw.manifest.trainState.seed} or use a new --out directory`);
        }
        if (raw.manifest.trainState.step > steps) {
          throw new BamError(`cannot resume from ${latest.dir}: it is at step ${raw.manifest.trainState.step}, past the requested ${steps} steps`, 'E_RESUME', 'ask for at least as many steps, or use a new --out directory');
        }
        const state: TrainState = restoreCheckpoint(raw, model, optimizer);
        startStep = state.step;
        tokensSeen = state.tokensSeen;
        flopsSpent = state.flopsSpent;
        resumedFrom = latest.dir;
        lastCheckpoint = latest.dir;
        resumedLoss = raw.manifest.metrics.loss ?? NaN;
      }
    }
    let evalLogged = false;
    if (logPath) {
      mkdirSync(dirname(logPath), { recursive: true });
      if (resumedFrom) evalLogged = truncateLog(logPath, startStep).some((l) => l.kind === 'eval' && l.step === startStep);
      else writeFileAtomic(logPath, '');
    }
    const writeLog = (line: LogLine) => {
      if (logPath) appendFileSync(logPath, `${JSON.stringify(line)}\n`);
    };

    let initialValLoss = NaN;
    let finalValLoss = NaN;
    let lastValStep = -1;
    const runEval = async (step: number, log = true) => {
      if (!opts.evalBatches) return NaN;
      const r = await evaluateLoss(model, opts.evalBatches, evalSteps, lossFn);
      if (log) writeLog({ kind: 'eval', step, valLoss: num(r.nll), valTotalLoss: num(r.loss), batches: evalSteps });
      lastValStep = step;
      return r.nll;
    };
    // A resumed run re-evaluates its starting point but does not log it twice.
    initialValLoss = await runEval(startStep, !evalLogged);
    finalValLoss = initialValLoss;

    const showBar = opts.progress ?? Boolean(process.stderr.isTTY);
    if (showBar && startStep < steps) {
      bar = new cliProgress.SingleBar(
        { format: 'train |{bar}| {value}/{total} steps | loss {loss} | {tps} tok/s | ETA {left}', stream: process.stderr, hideCursor: true, clearOnComplete: false },
        cliProgress.Presets.shades_classic,
      );
      bar.start(steps, startStep, { loss: '-', tps: '-', left: '-' });
    }

    const losses: number[] = [];
    let initialLoss = NaN;
    let finalLoss = resumedLoss;
    let trainMs = 0;
    let runTokens = 0;
    let lastLr = 0;
    let pendingFrom = startStep;
    let lastFlushTime = performance.now();

    const flush = async (step: number): Promise<void> => {
      if (pending.length === 0) return;
      const t0 = performance.now();
      const stacked = tf.stack(pending) as tf.Tensor2D; // [steps, 5]
      const vals = await stacked.data();
      stacked.dispose();
      const count = pending.length;
      pending.splice(0).forEach((t) => t.dispose());
      trainMs += performance.now() - t0;
      const sums = [0, 0, 0, 0, 0];
      for (let i = 0; i < count; i++) {
        const [loss, , , , gradNorm] = vals.subarray(5 * i, 5 * i + 5);
        const at = pendingFrom + i + 1;
        if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
          throw new BamError(
            `non-finite ${Number.isFinite(loss) ? 'gradient norm' : 'loss'} at step ${at} (batch ${at - 1}): loss=${loss}, gradNorm=${gradNorm}; training stopped` +
              (lastCheckpoint ? `. The last good checkpoint is ${lastCheckpoint}` : ' before any checkpoint was saved'),
            'E_NONFINITE',
            'lower the learning rate (--lr) or the clip norm, check the data for bad tokens, then resume from the last good checkpoint',
          );
        }
        losses.push(loss);
        if (Number.isNaN(initialLoss)) initialLoss = loss;
        for (let k = 0; k < 5; k++) sums[k] += vals[5 * i + k];
      }
      const mean = sums.map((s) => s / count);
      finalLoss = mean[0];
      pendingFrom = step;
      const tps = trainMs > 0 ? (runTokens / trainMs) * 1000 : 0;
      const eta = tps > 0 ? ((steps - step) * (runTokens / Math.max(1, step - startStep))) / tps : NaN;
      writeLog({
        kind: 'train',
        step,
        lr: lastLr,
        loss: mean[0],
        nll: mean[1],
        loadBalance: mean[2],
        zLoss: mean[3],
        gradNorm: mean[4],
        tokens: tokensSeen,
        tokensPerSecond: Math.round(tps),
        flops: flopsSpent,
        elapsedS: Math.round((performance.now() - lastFlushTime) / 10) / 100,
      });
      lastFlushTime = performance.now();
      bar?.update(step, { loss: mean[0].toFixed(4), tps: Math.round(tps), left: Number.isFinite(eta) ? `${Math.round(eta)}s` : '-' });
      opts.onProgress?.({
        step,
        steps,
        lr: lastLr,
        loss: mean[0],
        nll: mean[1],
        gradNorm: mean[4],
        tokensSeen,
        tokensPerSecond: tps,
        etaSeconds: eta,
        valLoss: lastValStep === step ? finalValLoss : undefined,
        numTensors: tf.memory().numTensors,
      });
    };

    for (let s = startStep; s < steps; s++) {
      const b = checkBatch(batches.batch(s), s, 'training');
      const lr = learningRate(opts.lr, s, steps);
      const t0 = performance.now();
      const row = tf.tidy(() => {
        const inputs = tf.tensor2d(b.inputs, [b.batchSize, b.seqLen], 'int32'); // [B, T]
        const targets = tf.tensor2d(b.targets, [b.batchSize, b.seqLen], 'int32'); // [B, T]
        let side: tf.Scalar[] = [];
        // variableGrads runs f inside its own tidy that keeps only the returned loss, so the other
        // parts are kept explicitly and disposed once they are stacked.
        const { value, grads } = tf.variableGrads(() => {
          const out = lossFn(model, inputs, targets);
          side = [tf.keep(out.nll), tf.keep(out.loadBalance), tf.keep(out.zLoss)];
          return out.loss;
        }, trainVars);
        const byParam = new Map<string, tf.Tensor>();
        for (const [varName, g] of Object.entries(grads)) byParam.set(paramOfVar.get(varName)!, g);
        const gradNorm = tf.sqrt(tf.addN([...byParam.values()].map((g) => tf.sum(tf.square(g))))) as tf.Scalar;
        // torch.nn.utils.clip_grad_norm_: scale = min(1, max_norm / (norm + 1e-6)).
        const scale = clipNorm > 0 ? (tf.minimum(1, tf.div(clipNorm, tf.add(gradNorm, 1e-6))) as tf.Scalar) : undefined;
        optimizer.apply(byParam, lr, scale);
        const stacked = tf.stack([value, ...side, gradNorm]) as tf.Tensor1D; // [5]
        side.forEach((t) => t.dispose());
        return stacked;
      });
      pending.push(row);
      trainMs += performance.now() - t0;
      lastLr = lr;
      const done = s + 1;
      tokensSeen += b.batchSize * b.seqLen;
      runTokens += b.batchSize * b.seqLen;
      flopsSpent += flopsPerToken * b.batchSize * b.seqLen;

      const evalDue = opts.evalBatches !== undefined && ((evalEvery > 0 && done % evalEvery === 0) || done === steps);
      const ckptDue = opts.outDir !== undefined && ((checkpointEvery > 0 && done % checkpointEvery === 0) || done === steps);
      if (done % logEvery === 0 || done === steps || evalDue || ckptDue) await flush(done);
      if (evalDue) {
        finalValLoss = await runEval(done);
      }
      if (ckptDue) {
        const dir = join(opts.outDir!, stepCheckpointName(done));
        await saveCheckpoint(dir, {
          model,
          tokenizer: opts.tokenizer!,
          trainState: { step: done, tokensSeen, flopsSpent, seed, dataPosition: done },
          optimizer,
          metrics: { loss: finalLoss, ...(lastValStep === done ? { valLoss: finalValLoss } : {}) },
          meta: { ...opts.meta, trainer: { lr: opts.lr, weightDecay: opts.weightDecay ?? 0.1, clipNorm, steps, trainable: trainableNames.length === model.params.size ? 'all' : trainableNames } },
        });
        lastCheckpoint = dir;
        const all = listCheckpoints(opts.outDir!);
        for (const old of all.slice(0, Math.max(0, all.length - keep))) rmSync(old.dir, { recursive: true, force: true });
      }
    }
    return {
      initialLoss,
      finalLoss,
      initialValLoss,
      finalValLoss,
      tokensSeen,
      tokensPerSecond: trainMs > 0 ? (runTokens / trainMs) * 1000 : 0,
      steps,
      startStep,
      resumedFrom,
      checkpoint: lastCheckpoint,
      losses,
      flopsSpent,
    };
  } finally {
    bar?.stop();
    pending.splice(0).forEach((t) => t.dispose());
    optimizer.dispose();
  }
}
