/**
 * The training loop: AdamW with the paper's warm-up + cosine schedule, gradient clipping by
 * global norm, periodic validation, JSONL logs, checkpoints every K steps and exact resume.
 * `train` strings together named steps, each in its own module:
 *
 *     resume.ts         where the run starts (newest checkpoint) and the log cut back to it
 *     step.ts           one optimizer step; one validation pass
 *     reporting.ts      flush points: read scalars back, check them, log, report progress
 *     checkpointing.ts  save a step checkpoint, rotate old ones, keep the last healthy one
 *     divergence.ts     stop on a loss or gradient norm far above its running baseline
 *
 * Progress display is the caller's: it passes a `TrainReporter` (the CLI draws a progress bar,
 * upcycle writes log lines); core draws nothing.
 *
 * Exact resume rests on three facts: the data is `batches.batch(step)` (a pure function of the
 * step), the optimizer state is saved beside the weights, and nothing else is random. A resumed
 * run therefore recomputes bit for bit what the uninterrupted run computed, on the same backend.
 *
 * Scalars are read back from the device only at flush points (log interval, evaluation,
 * checkpoint, end). Every flush checks that each step's loss and gradient norm were finite and
 * not diverging; a checkpoint counts as healthy once the step after it passed, and rotation never
 * deletes the last healthy one, so a stopped run names a checkpoint from before the divergence.
 */
import { join } from 'node:path';
import type { ParamsModel } from '../checkpoint/checkpoint.ts';
import { ConfigError } from '../errors.ts';
import { trainingFlops } from '../model/count.ts';
import { ModelConfigSchema } from '../model/config.ts';
import { computeLoss } from '../model/loss.ts';
import type { BamModel } from '../model/model.ts';
import { AdamW, resolveTrainable } from './adamw.ts';
import { CheckpointKeeper, type CheckpointPlan } from './checkpointing.ts';
import { DivergenceDetector } from './divergence.ts';
import { StepMetrics, TrainingStoppedError, type RunCounters } from './reporting.ts';
import { FRESH_START, readStopRecord, resumeFromChosen, resumeFromNewest, setAsideStopRecord, TrainLog, type StartPoint } from './resume.ts';
import { learningRate } from './schedule.ts';
import { checkBatch, evaluateLoss, trainStep, type StepRunner } from './step.ts';
import type { LossFn, TokenBatch, TrainOptions, TrainSummary } from './types.ts';

export { evaluateLoss } from './step.ts';
export type { BatchSource, LossFn, LossParts, TokenBatch, TrainOptions, TrainProgress, TrainReporter, TrainSummary } from './types.ts';

const num = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** Checks the options' numbers and combinations; one `ConfigError` lists every bad field. */
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
  if (o.resumeFrom && !o.outDir) issues.push({ path: 'resumeFrom', message: 'needs outDir' });
  if (o.resumeFrom && o.resume === false) issues.push({ path: 'resumeFrom', message: 'contradicts resume: false' });
  if (issues.length) throw new ConfigError('training options', issues);
}

/** The run's fixed parts: the loss, the step runner, the optimizer and FLOPs per token. */
interface RunSetup<M extends ParamsModel> extends StepRunner<M> {
  trainableNames: string[];
  flopsPerToken: number;
}

/** Resolves the loss, the trainable variables, the optimizer and the FLOPs per token. */
function setUpRun<M extends ParamsModel>(opts: TrainOptions<M>): RunSetup<M> {
  const { model } = opts;
  const isModelConfig = ModelConfigSchema.safeParse(model.config).success;
  if (!opts.loss && !isModelConfig) {
    throw new ConfigError('training options', [{ path: 'loss', message: 'is required when the model config is not a bam ModelConfig' }]);
  }
  const trainableNames = resolveTrainable(model.params, opts.trainable);
  if (trainableNames.length === 0) throw new ConfigError('training options', [{ path: 'trainable', message: 'selects no parameter' }]);
  const trainVars = trainableNames.map((n) => model.params.get(n)!);
  const firstBatch = checkBatch(opts.batches.batch(0), 0, 'training');
  const flopsPerToken =
    opts.flopsPerToken ??
    (isModelConfig ? trainingFlops(ModelConfigSchema.parse(model.config), 1, firstBatch.seqLen) : 6 * trainVars.reduce((a, v) => a + v.size, 0));
  const optimizer = new AdamW(model.params, { ...opts.adam, weightDecay: opts.weightDecay ?? 0.1, trainable: trainableNames, ...(opts.lrScale ? { lrScale: opts.lrScale } : {}) });
  return {
    model,
    lossFn: opts.loss ?? (computeLoss as unknown as LossFn<M>),
    trainVars,
    paramOfVar: new Map(trainableNames.map((n) => [model.params.get(n)!.name, n])),
    optimizer,
    clipNorm: opts.clipNorm ?? 1.0,
    trainableNames,
    flopsPerToken,
  };
}

/** What every checkpoint of the run records (undefined without `outDir`). */
function checkpointPlan<M extends ParamsModel>(opts: TrainOptions<M>, setup: RunSetup<M>): CheckpointPlan | undefined {
  if (!opts.outDir) return undefined;
  const trainable = setup.trainableNames.length === opts.model.params.size ? 'all' : setup.trainableNames;
  return {
    outDir: opts.outDir,
    tokenizer: opts.tokenizer!,
    seed: opts.seed ?? 0,
    keep: opts.keepCheckpoints ?? 2,
    meta: { ...opts.meta, trainer: { lr: opts.lr, weightDecay: opts.weightDecay ?? 0.1, clipNorm: setup.clipNorm, steps: opts.steps, trainable } },
  };
}

/** Where the run starts: the chosen checkpoint, the newest in `outDir`, or step 0. */
function startPoint<M extends ParamsModel>(opts: TrainOptions<M>, optimizer: AdamW): StartPoint {
  const seed = opts.seed ?? 0;
  if (opts.resumeFrom) return resumeFromChosen(opts.resumeFrom, opts.outDir!, opts.model, optimizer, seed, opts.steps);
  if (opts.outDir && opts.resume !== false) {
    // Resuming past a stop would continue from diverging weights: the caller must choose where.
    const stopped = readStopRecord(opts.outDir);
    if (stopped?.healthyCheckpoint) throw new TrainingStoppedError(stopped, true);
    setAsideStopRecord(opts.outDir);
    return resumeFromNewest(opts.outDir, opts.model, optimizer, seed, opts.steps);
  }
  if (opts.outDir) setAsideStopRecord(opts.outDir);
  return FRESH_START;
}

/** Which flush-point actions fall on step `done`. */
function dueAt<M extends ParamsModel>(opts: TrainOptions<M>, done: number): { flush: boolean; evaluate: boolean; checkpoint: boolean } {
  const evalEvery = opts.evalEvery ?? 0;
  const checkpointEvery = opts.checkpointEvery ?? 0;
  const last = done === opts.steps;
  const evaluate = opts.evalBatches !== undefined && ((evalEvery > 0 && done % evalEvery === 0) || last);
  const checkpoint = opts.outDir !== undefined && ((checkpointEvery > 0 && done % checkpointEvery === 0) || last);
  return { flush: done % (opts.logEvery ?? 10) === 0 || last || evaluate || checkpoint, evaluate, checkpoint };
}

/** Validation at `step`: logged (unless `logIt` is false) and kept in `run` as the newest. */
async function validateAt<M extends ParamsModel>(opts: TrainOptions<M>, lossFn: LossFn<M>, log: TrainLog, run: RunCounters, step: number, logIt: boolean): Promise<void> {
  if (!opts.evalBatches) return;
  const evalSteps = opts.evalSteps ?? 4;
  const r = await evaluateLoss(opts.model, opts.evalBatches, evalSteps, lossFn);
  if (logIt) log.write({ kind: 'eval', step, valLoss: num(r.nll), valTotalLoss: num(r.loss), batches: evalSteps });
  run.valLoss = r.nll;
  run.valStep = step;
}

/**
 * The run's divergence detector (continuing the resumed checkpoint's baselines) and checkpoint
 * keeper (the resumed checkpoint counts as healthy). A fresh run that checkpoints saves its start
 * as the first healthy checkpoint, for a run that diverges before its second.
 */
async function startChecks<M extends ParamsModel>(opts: TrainOptions<M>, setup: RunSetup<M>, start: StartPoint, run: RunCounters): Promise<{ detector: DivergenceDetector; keeper?: CheckpointKeeper }> {
  const detector = new DivergenceDetector(opts.divergence, start.divergence);
  const plan = checkpointPlan(opts, setup);
  if (!plan) return { detector };
  const keeper = new CheckpointKeeper(plan, detector, start.from ? { step: start.step, dir: start.from } : undefined);
  if (!start.from && (opts.checkpointEvery ?? 0) > 0) await keeper.save(0, opts.model, setup.optimizer, run, NaN);
  return { detector, keeper };
}

/** Counts one step's tokens and FLOPs. */
function countStep(run: RunCounters, b: TokenBatch, flopsPerToken: number): void {
  const tokens = b.batchSize * b.seqLen;
  run.tokensSeen += tokens;
  run.runTokens += tokens;
  run.flopsSpent += flopsPerToken * tokens;
}

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
  const setup = setUpRun(opts);
  const { optimizer } = setup;
  const { reporter } = opts;
  let metrics: StepMetrics | undefined;
  try {
    const start = startPoint(opts, optimizer);
    const log = new TrainLog(opts.log ?? (opts.outDir ? join(opts.outDir, 'train.jsonl') : undefined), start);
    const run: RunCounters = { steps, startStep: start.step, tokensSeen: start.tokensSeen, flopsSpent: start.flopsSpent, runTokens: 0, trainMs: 0, lr: 0, valLoss: NaN, valStep: -1 };
    let lastCheckpoint = start.from;
    const validate = (step: number, logIt = true) => validateAt(opts, setup.lossFn, log, run, step, logIt);
    // A resumed run re-evaluates its starting point but does not log it twice.
    await validate(start.step, !log.startEvalLogged);
    const initialValLoss = run.valLoss;
    if (start.step < steps) reporter?.start?.(start.step, steps);
    const { detector, keeper } = await startChecks(opts, setup, start, run);
    metrics = new StepMetrics(run, { log, reporter, onProgress: opts.onProgress }, { detector, keeper, outDir: opts.outDir }, start.loss);

    for (let s = start.step; s < steps; s++) {
      const b = checkBatch(batches.batch(s), s, 'training');
      run.lr = learningRate(opts.lr, s, steps);
      const t0 = performance.now();
      metrics.push(trainStep(setup, b, run.lr));
      run.trainMs += performance.now() - t0;
      countStep(run, b, setup.flopsPerToken);
      // Let timers run between steps: awaiting wasm reads never yields to them, and the artifact
      // lock's heartbeat (a timer) must beat during a long stage, or another machine takes the lock
      // over (docs/distributed.md).
      await new Promise<void>((resolveTick) => setImmediate(resolveTick));
      const done = s + 1;
      const due = dueAt(opts, done);
      if (due.flush) await metrics.flush(done);
      if (due.evaluate) await validate(done);
      if (due.checkpoint) lastCheckpoint = await keeper!.save(done, model, optimizer, run, metrics.finalLoss);
    }
    return {
      initialLoss: metrics.initialLoss,
      finalLoss: metrics.finalLoss,
      initialValLoss,
      finalValLoss: run.valLoss,
      tokensSeen: run.tokensSeen,
      tokensPerSecond: run.trainMs > 0 ? (run.runTokens / run.trainMs) * 1000 : 0,
      steps,
      startStep: start.step,
      resumedFrom: start.from,
      checkpoint: lastCheckpoint,
      losses: metrics.losses,
      flopsSpent: run.flopsSpent,
    };
  } finally {
    reporter?.stop?.();
    metrics?.dispose();
    optimizer.dispose();
  }
}
