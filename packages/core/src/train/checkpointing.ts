/**
 * Checkpointing: saving the trainer's step checkpoints (weights, optimizer state, train state,
 * metrics) and rotating them so only the newest few stay on disk.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { listCheckpoints, saveCheckpoint, stepCheckpointName, type CheckpointTokenizer, type ParamsModel } from '../checkpoint/checkpoint.ts';
import type { AdamW } from './adamw.ts';
import type { RunCounters } from './reporting.ts';

/** What every checkpoint of a run records besides the counters. */
export interface CheckpointPlan {
  outDir: string;
  tokenizer: CheckpointTokenizer;
  seed: number;
  /** Checkpoints kept on disk (the oldest are deleted). */
  keep: number;
  /** Recorded in each checkpoint's `meta` (the caller's meta and the trainer settings). */
  meta: Record<string, unknown>;
}

/**
 * Saves the checkpoint after `step` steps into `outDir/step-NNNNNNNN/` (metrics: the newest train
 * loss, and the validation loss when it was measured at this step), then deletes the oldest
 * checkpoints beyond `keep`. Returns the directory.
 */
export async function saveStepCheckpoint(plan: CheckpointPlan, step: number, model: ParamsModel, optimizer: AdamW, run: RunCounters, loss: number): Promise<string> {
  const dir = join(plan.outDir, stepCheckpointName(step));
  await saveCheckpoint(dir, {
    model,
    tokenizer: plan.tokenizer,
    trainState: { step, tokensSeen: run.tokensSeen, flopsSpent: run.flopsSpent, seed: plan.seed, dataPosition: step },
    optimizer,
    metrics: { loss, ...(run.valStep === step ? { valLoss: run.valLoss } : {}) },
    meta: plan.meta,
  });
  rotateCheckpoints(plan.outDir, plan.keep);
  return dir;
}

/** Deletes all but the newest `keep` step checkpoints in `outDir`. */
export function rotateCheckpoints(outDir: string, keep: number): void {
  const all = listCheckpoints(outDir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) rmSync(old.dir, { recursive: true, force: true });
}
