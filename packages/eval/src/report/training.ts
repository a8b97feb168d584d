/**
 * Training logs for the report's loss curves. Looked up in the results folder and then in the
 * artifacts folder (when given), first match per stage wins:
 *
 *   training_logs.json           an index: { "<stage>": "<path to a JSONL log>", ... }, paths
 *                                relative to the index file's folder
 *   training/<stage>.jsonl       one log per stage
 *   training/<stage>/train.jsonl the trainer's own layout (`train({ outDir })` writes outDir/train.jsonl)
 *
 * A log has one JSON object per line. Lines `{ step, loss, ... }` (any `kind` but `eval`) are
 * training points; lines with a numeric `valLoss` (the trainer's `kind: 'eval'` lines) are
 * validation points. Other lines are ignored; unparseable lines are counted.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '@bam/utils';
import { ResultsError } from '../errors.ts';
import type { JobPlan, JobRecord } from '../results.ts';

/** The index file name that maps stage names to JSONL logs. */
export const TRAINING_INDEX_FILE = 'training_logs.json';
/** The folder of per-stage JSONL logs. */
export const TRAINING_DIR = 'training';
/** Curves longer than this are thinned to every k-th point (the last point is always kept). */
export const MAX_POINTS_PER_SERIES = 1000;

const IndexSchema = z.record(z.string().min(1), z.string().min(1));

/** One point of a loss curve. */
export interface LossPoint {
  stage: string;
  series: 'train' | 'validation';
  step: number;
  loss: number;
}

/** One stage's log. */
export interface TrainingLog {
  stage: string;
  path: string;
  points: LossPoint[];
  /** Lines that were not JSON. */
  badLines: number;
}

function thin(points: LossPoint[]): LossPoint[] {
  if (points.length <= MAX_POINTS_PER_SERIES) return points;
  const k = Math.ceil(points.length / MAX_POINTS_PER_SERIES);
  return points.filter((_, i) => i % k === 0 || i === points.length - 1);
}

/** Reads one JSONL training log into loss points (training and validation series, sorted by step). */
export function readTrainingLog(stage: string, path: string): TrainingLog {
  if (!existsSync(path)) throw new ResultsError(`training log of stage '${stage}' not found: ${path}`, `fix the path in ${TRAINING_INDEX_FILE} or remove the entry`);
  const train: LossPoint[] = [];
  const val: LossPoint[] = [];
  let badLines = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      badLines++;
      continue;
    }
    if (!o || typeof o !== 'object' || typeof o.step !== 'number' || !Number.isFinite(o.step)) continue;
    if (o.kind !== 'eval' && typeof o.loss === 'number' && Number.isFinite(o.loss)) train.push({ stage, series: 'train', step: o.step, loss: o.loss });
    if (typeof o.valLoss === 'number' && Number.isFinite(o.valLoss)) val.push({ stage, series: 'validation', step: o.step, loss: o.valLoss });
  }
  const byStep = (a: LossPoint, b: LossPoint): number => a.step - b.step;
  return { stage, path, points: [...thin(train.sort(byStep)), ...thin(val.sort(byStep))], badLines };
}

function fromIndex(dir: string): Array<[string, string]> {
  const path = join(dir, TRAINING_INDEX_FILE);
  if (!existsSync(path)) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ResultsError(`${path} is not valid JSON: ${(err as Error).message}`, 'it must map stage names to JSONL paths: { "seed": "seed/train.jsonl" }');
  }
  const r = IndexSchema.safeParse(raw);
  if (!r.success) throw new ResultsError(`${path} must map stage names to JSONL paths, e.g. { "seed": "seed/train.jsonl" }`, r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  return Object.entries(r.data).map(([stage, p]) => [stage, resolve(dirname(path), p)]);
}

function fromFolder(dir: string): Array<[string, string]> {
  const folder = join(dir, TRAINING_DIR);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) return [];
  const out: Array<[string, string]> = [];
  for (const name of readdirSync(folder).sort()) {
    const p = join(folder, name);
    if (name.endsWith('.jsonl') && statSync(p).isFile()) out.push([basename(name, '.jsonl'), p]);
    else if (statSync(p).isDirectory() && existsSync(join(p, 'train.jsonl'))) out.push([name, join(p, 'train.jsonl')]);
  }
  return out;
}

/** Every stage's training log found in `dirs` (in order; the first log of a stage name wins), and where it looked. */
export function findTrainingLogs(dirs: readonly string[]): { logs: TrainingLog[]; searched: string[] } {
  const logs: TrainingLog[] = [];
  const searched: string[] = [];
  for (const dir of dirs) {
    searched.push(join(dir, TRAINING_INDEX_FILE), join(dir, TRAINING_DIR));
    for (const [stage, path] of [...fromIndex(dir), ...fromFolder(dir)]) {
      if (logs.some((l) => l.stage === stage)) continue;
      logs.push(readTrainingLog(stage, path));
    }
  }
  return { logs, searched };
}

/**
 * Writes `<outDir>/training_logs.json` from the training logs the evaluated models named
 * (ModelInfo.trainingLogs, kept in each ok job's journal record), in plan order: one entry per
 * distinct log file that exists (BTX's two budgets are one run: the first label wins), labelled
 * `<label> · seed <s>` where one label names different files for different seeds (the
 * mixtures under mixture seeds; everything under pipeline seeds). Paths are relative to the
 * results folder. Returns the index (empty, and no file written, when no model named a log).
 */
export function writeTrainingIndex(outDir: string, plan: readonly JobPlan[], records: ReadonlyMap<string, JobRecord>): Record<string, string> {
  const found: Array<{ label: string; seed: number; path: string }> = [];
  const sorted = [...plan].sort((a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1] || a.order[2] - b.order[2] || a.order[3] - b.order[3]);
  for (const j of sorted) {
    const rec = records.get(j.key);
    if (rec?.status !== 'ok' || !rec.trainingLogs) continue;
    for (const [label, path] of Object.entries(rec.trainingLogs)) {
      const abs = resolve(path);
      if (found.some((f) => f.path === abs) || !existsSync(abs)) continue;
      found.push({ label, seed: j.seed, path: abs });
    }
  }
  const index: Record<string, string> = {};
  for (const f of found) {
    const shared = found.some((g) => g.label === f.label && g.path !== f.path);
    index[shared ? `${f.label} · seed ${f.seed}` : f.label] = relative(outDir, f.path);
  }
  if (Object.keys(index).length > 0) writeFileAtomic(join(outDir, TRAINING_INDEX_FILE), `${JSON.stringify(index, null, 2)}\n`);
  return index;
}
