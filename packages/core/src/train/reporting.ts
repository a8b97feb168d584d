/**
 * Reporting: the flush points of a run. Scalars stay on the device between flushes; a flush reads
 * the pending rows back, checks every step's loss and gradient norm are finite, writes the log
 * line and tells the reporter and `onProgress`.
 */
import * as tf from '@tensorflow/tfjs';
import { BamError } from '../errors.ts';
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
  /** The newest checkpoint saved or resumed from. */
  lastCheckpoint?: string;
}

/** Where a flush sends its numbers. */
export interface ReportSinks {
  log: TrainLog;
  reporter?: TrainReporter;
  onProgress?: (p: TrainProgress) => void;
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

  /** Checks one step's scalars (`at` is the step number, 1-based) and records its loss. */
  private accept(at: number, row: Float32Array): void {
    const [loss, , , , gradNorm] = row;
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      const last = this.run.lastCheckpoint;
      throw new BamError(
        `non-finite ${Number.isFinite(loss) ? 'gradient norm' : 'loss'} at step ${at} (batch ${at - 1}): loss=${loss}, gradNorm=${gradNorm}; training stopped` +
          (last ? `. The last good checkpoint is ${last}` : ' before any checkpoint was saved'),
        'E_NONFINITE',
        'lower the learning rate (--lr) or the clip norm, check the data for bad tokens, then resume from the last good checkpoint',
      );
    }
    this.losses.push(loss);
    if (Number.isNaN(this.initialLoss)) this.initialLoss = loss;
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
