/**
 * Resume: where a run starts (the newest checkpoint in `outDir`, or a chosen one such as the last
 * healthy checkpoint of a stopped run, restored into the model and the optimizer) and its JSONL
 * log cut back to that step, so a resumed run's log equals an uninterrupted one.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { listCheckpoints, readCheckpoint, restoreCheckpoint, type ParamsModel, type RawCheckpoint } from '../checkpoint/checkpoint.ts';
import { BamError } from '../errors.ts';
import { configHash, writeFileAtomic } from '@bam/utils';
import type { AdamW } from './adamw.ts';
import { setAsideCheckpointsAfter } from './checkpointing.ts';
import type { DivergenceState } from './divergence.ts';
import { STOP_RECORD, type StopRecord } from './reporting.ts';

/** Where a run starts: step 0, or the state of the checkpoint it resumed from. */
export interface StartPoint {
  step: number;
  tokensSeen: number;
  flopsSpent: number;
  /** The checkpoint resumed from. */
  from?: string;
  /** That checkpoint's recorded training loss (NaN when none). */
  loss: number;
  /** The divergence detector's baselines saved with it. */
  divergence?: DivergenceState;
}

/** The start of a fresh run. */
export const FRESH_START: StartPoint = { step: 0, tokensSeen: 0, flopsSpent: 0, loss: NaN };

/**
 * Restores the newest checkpoint in `outDir` into `model` and `optimizer` and returns its state;
 * returns `FRESH_START` when there is none.
 */
export function resumeFromNewest(outDir: string, model: ParamsModel, optimizer: AdamW, seed: number, steps: number): StartPoint {
  const all = listCheckpoints(outDir);
  if (all.length === 0) return FRESH_START;
  return restoreStart(readCheckpoint(all[all.length - 1].dir), model, optimizer, seed, steps);
}

/**
 * Continues from checkpoint `dir` (e.g. the last healthy one of a stopped run): the step
 * checkpoints of `outDir` newer than it, and its stop record, are moved aside (never deleted), so
 * later resumes continue from this new line; then restores it.
 */
export function resumeFromChosen(dir: string, outDir: string, model: ParamsModel, optimizer: AdamW, seed: number, steps: number): StartPoint {
  const raw = readCheckpoint(dir);
  const start = restoreStart(raw, model, optimizer, seed, steps);
  setAsideCheckpointsAfter(outDir, start.step);
  setAsideStopRecord(outDir);
  return start;
}

/** The stop record a stopped run left in `outDir` (`diverged.json`), if any. */
export function readStopRecord(outDir: string): StopRecord | undefined {
  const path = join(outDir, STOP_RECORD);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as StopRecord) : undefined;
}

/** Renames the stop record of `outDir` to `diverged-<time>.json` (kept as history) once a run continues past it. */
export function setAsideStopRecord(outDir: string): void {
  const record = join(outDir, STOP_RECORD);
  if (existsSync(record)) renameSync(record, join(outDir, `diverged-${new Date().toISOString().replace(/[:.]/g, '-')}.json`));
}

/**
 * Restores a checkpoint into `model` and `optimizer` and returns its state. A checkpoint of
 * another config or seed, or past `steps`, is refused with a `BamError` (code `E_RESUME`) saying
 * what to change.
 */
function restoreStart(raw: RawCheckpoint, model: ParamsModel, optimizer: AdamW, seed: number, steps: number): StartPoint {
  const { dir } = raw;
  if (raw.manifest.configHash !== configHash(model.config)) {
    throw new BamError(
      `cannot resume from ${dir}: it was trained with config ${raw.manifest.configHash}, this model has ${configHash(model.config)}`,
      'E_RESUME',
      'use a new --out directory, or the same model config as the interrupted run',
    );
  }
  if (raw.manifest.trainState.seed !== seed) {
    throw new BamError(`cannot resume from ${dir}: it used seed ${raw.manifest.trainState.seed}, this run seed ${seed}`, 'E_RESUME', `pass seed ${raw.manifest.trainState.seed} or use a new --out directory`);
  }
  if (raw.manifest.trainState.step > steps) {
    throw new BamError(`cannot resume from ${dir}: it is at step ${raw.manifest.trainState.step}, past the requested ${steps} steps`, 'E_RESUME', 'ask for at least as many steps, or use a new --out directory');
  }
  const state = restoreCheckpoint(raw, model, optimizer);
  const divergence = (raw.manifest.meta.divergence as { state?: DivergenceState } | undefined)?.state;
  return { step: state.step, tokensSeen: state.tokensSeen, flopsSpent: state.flopsSpent, from: dir, loss: raw.manifest.metrics.loss ?? NaN, divergence };
}

/** One line of the JSONL training log. */
export interface LogLine {
  kind: 'train' | 'eval' | 'stop';
  step: number;
  [k: string]: unknown;
}

/**
 * The run's JSONL log (or nowhere, without a path). Opening it for a resumed run keeps only the
 * lines up to the start step; for a fresh run it starts empty.
 */
export class TrainLog {
  /** Whether the log already holds the evaluation of the start step (a resumed run does not log it twice). */
  readonly startEvalLogged: boolean;

  constructor(
    private readonly path: string | undefined,
    start: StartPoint,
  ) {
    let evalLogged = false;
    if (path) {
      mkdirSync(dirname(path), { recursive: true });
      if (start.from) evalLogged = truncateLog(path, start.step).some((l) => l.kind === 'eval' && l.step === start.step);
      else writeFileAtomic(path, '');
    }
    this.startEvalLogged = evalLogged;
  }

  /** Appends one line. */
  write(line: LogLine): void {
    if (this.path) appendFileSync(this.path, `${JSON.stringify(line)}\n`);
  }
}

/** Keeps only the log lines up to `step` and returns them. */
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
