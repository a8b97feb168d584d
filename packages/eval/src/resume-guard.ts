/**
 * What a sweep may do with a results folder that already holds results: continue them only with
 * `resume` and the same job plan. Another plan (other variants, tasks, seeds, options or labels)
 * would rewrite results.csv and the tables from the new plan alone and drop the old rows, so it is
 * refused; with `force` the old results are moved aside into `<out>.previous-<time>/` (never
 * deleted) and the sweep starts afresh. Run-only settings (workers, jobTimeout, chunkSize) do not
 * change the plan.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { configHash } from '@bam/utils';
import { ResultsError } from './errors.ts';
import { FOLDER_LOCK } from './folder-lock.ts';
import { FILES, readJournal, type JobPlan, type SweepPlanFile } from './results.ts';

/** Options of guardResults (the sweep's own). */
export interface GuardOptions {
  resume?: boolean;
  force?: boolean;
  /** Where the line about moved results goes. */
  log?: (line: string) => void;
}

/** What determines a sweep's rows: its name and each job's key and labels, in row order. */
function planFingerprint(plan: SweepPlanFile): string {
  return configHash({ name: plan.name, jobs: plan.jobs.map((j: JobPlan) => [j.key, j.variant, j.task, j.budget, j.seed]) });
}

/** The plan recorded in the folder, or undefined when absent or unreadable. */
function recordedPlan(outDir: string): SweepPlanFile | undefined {
  try {
    const p = JSON.parse(readFileSync(join(outDir, FILES.plan), 'utf8')) as SweepPlanFile;
    return Array.isArray(p?.jobs) ? p : undefined;
  } catch {
    return undefined;
  }
}

/** Why the folder's results are not a resumable part of `plan`, or undefined when they are. */
function mismatch(outDir: string, plan: SweepPlanFile): string | undefined {
  const old = recordedPlan(outDir);
  const keys = new Set(plan.jobs.map((j) => j.key));
  if (old) {
    if (planFingerprint(old) === planFingerprint(plan)) return undefined;
    const dropped = new Set(old.jobs.filter((j) => !keys.has(j.key)).map((j) => j.key)).size;
    const added = new Set(plan.jobs.filter((j) => !old.jobs.some((o) => o.key === j.key)).map((j) => j.key)).size;
    return `its results come from another sweep config ('${old.name}': ${dropped} of its jobs are not in this config, ${added} of this config's are new${dropped + added === 0 ? ', labels or order differ' : ''})`;
  }
  const foreign = [...readJournal(outDir).records.keys()].filter((k) => !keys.has(k)).length;
  return foreign > 0 ? `${foreign} job(s) in its ${FILES.journal} are not in this config` : undefined;
}

/** A time stamp usable in a file name: 2026-12-04T15-20-31Z. */
function stamp(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

/** Moves everything in `outDir` but its lock into a new sibling `<out>.previous-<time>/`; returns that folder. */
export function moveResultsAside(outDir: string): string {
  let aside = join(dirname(outDir), `${basename(outDir)}.previous-${stamp()}`);
  for (let i = 2; existsSync(aside); i++) aside = join(dirname(outDir), `${basename(outDir)}.previous-${stamp()}-${i}`);
  mkdirSync(aside);
  for (const name of readdirSync(outDir)) if (name !== FOLDER_LOCK) renameSync(join(outDir, name), join(aside, name));
  return aside;
}

/**
 * Checks the folder before a sweep touches it (call with the folder locked). A folder with a
 * journal is continued only with `resume` and the same plan; otherwise ResultsError, or with
 * `force` its contents are moved aside (the line through `log` says where) and the sweep starts afresh.
 */
export function guardResults(outDir: string, plan: SweepPlanFile, opts: GuardOptions): void {
  const journal = join(outDir, FILES.journal);
  if (!existsSync(journal) || statSync(journal).size === 0) return;
  const why = opts.resume ? mismatch(outDir, plan) : `it already holds a sweep (${FILES.journal})`;
  if (why === undefined) return;
  if (!opts.force) {
    throw new ResultsError(
      `${outDir}: ${why}`,
      opts.resume
        ? 'choose another --out, or pass --force to move its results aside (kept in <out>.previous-<time>/) and start this sweep afresh'
        : 'pass --resume to continue it, --force to move its results aside and start afresh, or choose another --out',
    );
  }
  const aside = moveResultsAside(outDir);
  opts.log?.(`--force: ${why}; moved its results to ${aside}`);
}
