/**
 * Reporting: the flush points of a run. Scalars stay on the device between flushes; a flush reads
 * the pending rows back, checks every step's loss and gradient norm (finite, and no divergence:
 * divergence.ts), confirms the checkpoints those steps prove healthy, writes the log line and
 * tells the reporter and `onProgress`. A failed check stops the run with `TrainingStoppedError`
 * naming the last healthy checkpoint.
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { BamError } from '../errors.ts';
import { writeFileAtomic } from '@bam/utils';
import type { CheckpointKeeper } from './checkpointing.ts';
import { describeAlarm, type DivergenceDetector } from './divergence.ts';
import type { TrainLog } from './resume.ts';
import type { TrainProgress, TrainReporter } from './types.ts';

/** The run's counters the reports read: steps, tokens, FLOPs, time, LR and the last validation. */
export interface RunCounters {
  readonly steps: number;
  readonly startStep: number;
  tokensSeen: number;
  flopsSpent: number;
  /** Tokens of this call (throughput excludes the steps before a resume). */
  runTokens: number;
  /** Milliseconds spent in steps and read-backs of this call (not evaluation or checkpoints). */
  trainMs: number;
  /** The LR of the newest step. */
  lr: number;
  /** The newest validation NLL and the step it was measured at. */
  valLoss: number;
  valStep: number;
}

/** Where a flush sends its numbers. */
export interface ReportSinks {
  log: TrainLog;
  reporter?: TrainReporter;
  onProgress?: (p: TrainProgress) => void;
}

/** The checks a flush runs on each step: divergence, and the checkpoints a healthy step confirms. */
export interface StepChecks {
  detector: DivergenceDetector;
  keeper?: CheckpointKeeper;
  /** Where the stop record `diverged.json` goes (the checkpoint folder). */
  outDir?: string;
}

/** The file a stopped run leaves in its checkpoint folder: why it stopped and where to continue from. */
export const STOP_RECORD = 'diverged.json';

/** What a stopped run records (in `diverged.json`, the log's `stop` line and the error). */
export interface StopRecord {
  /** The step whose loss or gradient norm failed a check. */
  step: number;
  reason: 'non-finite' | 'divergence';
  /** What failed, e.g. `non-finite loss`, `divergence`. */
  what: string;
  /** The numbers, e.g. `loss=NaN, gradNorm=NaN` or `loss 2351 is 423.2× its running baseline 5.555`. */
  detail: string;
  /** The last checkpoint from before the divergence (undefined when none was saved). */
  healthyCheckpoint?: string;
  /** Checkpoints saved after it, holding weights from the divergence. */
  suspectCheckpoints: string[];
  lr: number;
  thresholds: Record<string, number>;
}

/**
 * A run stopped by a failed check: code `E_NONFINITE` (a NaN or infinity) or `E_DIVERGED` (a
 * finite loss or gradient norm far above its baseline). `record.healthyCheckpoint` is the
 * checkpoint to continue from with a lower learning rate (trainer option `resumeFrom`).
 */
export class TrainingStoppedError extends BamError {
  /** `earlier`: the record was found on disk by a later run (which refuses to resume past it). */
  constructor(
    readonly record: StopRecord,
    earlier = false,
  ) {
    const { step, healthyCheckpoint, suspectCheckpoints } = record;
    super(
      `${earlier ? 'this run stopped earlier: ' : ''}${record.what} at step ${step} (batch ${step - 1}): ${record.detail}; training stopped` +
        (healthyCheckpoint ? `. The last healthy checkpoint (from before the divergence) is ${healthyCheckpoint}` : ' before any healthy checkpoint was saved') +
        (suspectCheckpoints.length ? `; the newer ${suspectCheckpoints.join(', ')} holds weights from the divergence` : ''),
      record.reason === 'divergence' ? 'E_DIVERGED' : 'E_NONFINITE',
      healthyCheckpoint
        ? 'continue from the last healthy checkpoint with a lower learning rate (trainer option resumeFrom), or check the data for bad tokens'
        : 'start again with a lower learning rate, or check the data for bad tokens',
    );
  }
}

const ROW = 5; // [loss, nll, loadBalance, zLoss, gradNorm]

/** Per-step scalars waiting on the device, and the losses read back so far. */
export class StepMetrics {
  /** Per-step training losses read back, index 0 = the call's first step. */
  readonly losses: number[] = [];
  initialLoss = NaN;
  /** Mean loss of the newest flushed interval (the resumed checkpoint's loss before any). */
  finalLoss: number;
  private readonly pending: tf.Tensor1D[] = [];
  private pendingFrom: number;
  private lastFlushTime = performance.now();

  constructor(
    private readonly run: RunCounters,
    private readonly sinks: ReportSinks,
    private readonly checks: StepChecks,
    resumedLoss: number,
  ) {
    this.finalLoss = resumedLoss;
    this.pendingFrom = run.startStep;
  }

  /** Queues one step's device row `[loss, nll, loadBalance, zLoss, gradNorm]` (owned from now on). */
  push(row: tf.Tensor1D): void {
    this.pending.push(row);
  }

  /**
   * Reads the pending rows back, stops the run with `E_NONFINITE` on a non-finite loss or gradient
   * norm, then logs the interval's means at `step` and reports them.
   */
  async flush(step: number): Promise<void> {
    if (this.pending.length === 0) return;
    const vals = await this.readBack();
    const count = vals.length / ROW;
    for (let i = 0; i < count; i++) this.accept(this.pendingFrom + i + 1, vals.subarray(ROW * i, ROW * i + ROW));
    const mean = [0, 1, 2, 3, 4].map((k) => {
      let sum = 0;
      for (let i = 0; i < count; i++) sum += vals[ROW * i + k];
      return sum / count;
    });
    this.finalLoss = mean[0];
    this.pendingFrom = step;
    this.report(step, mean);
  }

  /** Frees rows never read back (a run that stopped early). */
  dispose(): void {
    this.pending.splice(0).forEach((t) => t.dispose());
  }

  private async readBack(): Promise<Float32Array> {
    const t0 = performance.now();
    const stacked = tf.stack(this.pending) as tf.Tensor2D; // [steps, 5]
    const vals = (await stacked.data()) as Float32Array;
    stacked.dispose();
    this.dispose();
    this.run.trainMs += performance.now() - t0;
    return vals;
  }

  /**
   * Checks one step's scalars (`at` is the step number, 1-based): finite, then no divergence;
   * records its loss and confirms the checkpoints saved before it.
   */
  private accept(at: number, row: Float32Array): void {
    const [loss, , , , gradNorm] = row;
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      this.stop(at, 'non-finite', `non-finite ${Number.isFinite(loss) ? 'gradient norm' : 'loss'}`, `loss=${loss}, gradNorm=${gradNorm}`);
    }
    const alarm = this.checks.detector.observe(at, loss, gradNorm);
    if (alarm) this.stop(at, 'divergence', 'divergence', describeAlarm(alarm));
    this.checks.keeper?.confirmThrough(at);
    this.losses.push(loss);
    if (Number.isNaN(this.initialLoss)) this.initialLoss = loss;
  }

  /** Records why the run stops (log line, `diverged.json`) and throws `TrainingStoppedError`. */
  private stop(step: number, reason: StopRecord['reason'], what: string, detail: string): never {
    const keeper = this.checks.keeper;
    const record: StopRecord = {
      step,
      reason,
      what,
      detail,
      healthyCheckpoint: keeper?.healthy?.dir,
      suspectCheckpoints: keeper?.suspect ?? [],
      lr: this.run.lr,
      thresholds: { ...this.checks.detector.thresholds },
    };
    this.sinks.log.write({ kind: 'stop', ...record });
    if (this.checks.outDir) writeFileAtomic(join(this.checks.outDir, STOP_RECORD), `${JSON.stringify(record, null, 2)}\n`);
    throw new TrainingStoppedError(record);
  }

  /** Writes the train log line and tells the reporter and `onProgress`. */
  private report(step: number, mean: number[]): void {
    const r = this.run;
    const tps = r.trainMs > 0 ? (r.runTokens / r.trainMs) * 1000 : 0;
    const eta = tps > 0 ? ((r.steps - step) * (r.runTokens / Math.max(1, step - r.startStep))) / tps : NaN;
    this.sinks.log.write({
      kind: 'train',
      step,
      lr: r.lr,
      loss: mean[0],
      nll: mean[1],
      loadBalance: mean[2],
      zLoss: mean[3],
      gradNorm: mean[4],
      tokens: r.tokensSeen,
      tokensPerSecond: Math.round(tps),
      flops: r.flopsSpent,
      elapsedS: Math.round((performance.now() - this.lastFlushTime) / 10) / 100,
    });
    this.lastFlushTime = performance.now();
    const progress: TrainProgress = {
      step,
      steps: r.steps,
      lr: r.lr,
      loss: mean[0],
      nll: mean[1],
      gradNorm: mean[4],
      tokensSeen: r.tokensSeen,
      tokensPerSecond: tps,
      etaSeconds: eta,
      valLoss: r.valStep === step ? r.valLoss : undefined,
      numTensors: tf.memory().numTensors,
    };
    this.sinks.reporter?.update(progress);
    this.sinks.onProgress?.(progress);
  }
}
