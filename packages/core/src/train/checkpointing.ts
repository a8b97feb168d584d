/**
 * Checkpointing: saving the trainer's step checkpoints (weights, optimizer state, train state,
 * metrics, the divergence detector's baselines) and rotating them, never deleting the last
 * healthy one.
 *
 * A checkpoint after step k holds weights whose loss is first measured by step k + 1, so it is
 * healthy only once step k + 1 passed the finite and divergence checks. Until a checkpoint is
 * confirmed, the previous healthy one stays on disk whatever `keep` says; a fresh run saves its
 * starting point (`step-00000000`) as the first healthy checkpoint, removed once a later one is
 * confirmed.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { listCheckpoints, saveCheckpoint, stepCheckpointName, type CheckpointTokenizer, type ParamsModel } from '../checkpoint/checkpoint.ts';
import type { AdamW } from './adamw.ts';
import type { DivergenceDetector } from './divergence.ts';
import type { RunCounters } from './reporting.ts';

/** What every checkpoint of a run records besides the counters. */
export interface CheckpointPlan {
  outDir: string;
  tokenizer: CheckpointTokenizer;
  seed: number;
  /** Checkpoints kept on disk besides the last healthy one (the oldest are deleted). */
  keep: number;
  /** Recorded in each checkpoint's `meta` (the caller's meta and the trainer settings). */
  meta: Record<string, unknown>;
}

/** Saves step checkpoints and knows which one is the last healthy. */
export class CheckpointKeeper {
  /** The newest checkpoint confirmed healthy (or resumed from). */
  healthy?: { step: number; dir: string };
  /** Checkpoints saved but not yet confirmed, oldest first. */
  private unconfirmed: Array<{ step: number; dir: string }> = [];

  constructor(
    private readonly plan: CheckpointPlan,
    private readonly detector: DivergenceDetector,
    resumedFrom?: { step: number; dir: string },
  ) {
    this.healthy = resumedFrom;
  }

  /**
   * Saves the checkpoint after `step` steps into `outDir/step-NNNNNNNN/` (metrics: the newest
   * train loss, and the validation loss when it was measured at this step; meta: the detector's
   * thresholds and baselines), then rotates. Returns the directory.
   */
  async save(step: number, model: ParamsModel, optimizer: AdamW, run: RunCounters, loss: number): Promise<string> {
    const dir = join(this.plan.outDir, stepCheckpointName(step));
    await saveCheckpoint(dir, {
      model,
      tokenizer: this.plan.tokenizer,
      trainState: { step, tokensSeen: run.tokensSeen, flopsSpent: run.flopsSpent, seed: this.plan.seed, dataPosition: step },
      optimizer,
      metrics: { loss, ...(run.valStep === step ? { valLoss: run.valLoss } : {}) },
      meta: { ...this.plan.meta, divergence: { thresholds: this.detector.thresholds, state: this.detector.state } },
    });
    if (step === 0) this.healthy = { step, dir };
    else this.unconfirmed.push({ step, dir });
    this.rotate();
    return dir;
  }

  /** Step `step` passed the checks: every checkpoint saved before it is healthy. */
  confirmThrough(step: number): void {
    const confirmed = this.unconfirmed.filter((c) => c.step < step);
    if (confirmed.length === 0) return;
    this.unconfirmed = this.unconfirmed.filter((c) => c.step >= step);
    const previous = this.healthy;
    this.healthy = confirmed[confirmed.length - 1];
    // The starting point was kept only as a fallback; a later healthy checkpoint replaces it.
    if (previous?.step === 0 && existsSync(previous.dir)) rmSync(previous.dir, { recursive: true, force: true });
    this.rotate();
  }

  /** The checkpoints saved after the last healthy one (they hold weights from the divergence). */
  get suspect(): string[] {
    return this.unconfirmed.map((c) => c.dir);
  }

  /** Deletes all but the newest `keep` step checkpoints, never the healthy one. */
  private rotate(): void {
    const all = listCheckpoints(this.plan.outDir);
    for (const old of all.slice(0, Math.max(0, all.length - this.plan.keep))) {
      if (old.dir !== this.healthy?.dir) rmSync(old.dir, { recursive: true, force: true });
    }
  }
}

/**
 * Moves the step checkpoints of `outDir` newer than `step` aside (to `step-NNNNNNNN.diverged-<time>`,
 * never deleted), so a run continuing from an older checkpoint is not resumed past it later.
 * Returns the new paths.
 */
export function setAsideCheckpointsAfter(outDir: string, step: number): string[] {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return listCheckpoints(outDir)
    .filter((c) => c.step > step)
    .map((c) => {
      const to = `${c.dir}.diverged-${stamp}`;
      renameSync(c.dir, to);
      return to;
    });
}
