/**
 * What a sweep may do with a results folder that already holds results: continue them only with
 * `resume`, and only with a config that keeps every row the folder holds. results.csv and the
 * tables are rebuilt from the plan alone, so a config without some of the journaled rows (other
 * variants, tasks, seeds, budgets or labels: another sweep) would silently drop them; it is
 * refused, and with `force` the old results are moved aside into `<out>.previous-<time>/` (never
 * deleted) and the sweep starts afresh. A config that adds rows, edits a variant's or task's
 * options (those jobs run again; one line says how many), or changes run settings (workers,
 * jobTimeout) continues.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ResultsError } from './errors.ts';
import { FOLDER_LOCK } from './folder-lock.ts';
import { FILES, readJournal, type JobRecord, type SweepPlanFile } from './results.ts';

/** Options of guardResults (the sweep's own). */
export interface GuardOptions {
  resume?: boolean;
  force?: boolean;
  /** Where the line about moved results goes. */
  log?: (line: string) => void;
}

/** A result row's place: variant label, budget, task label, seed (the config hash aside). */
function slotOf(j: { variant: string; budget: string; task: string; seed: number }): string {
  return JSON.stringify([j.variant, j.budget, j.task, j.seed]);
}

function labelOf(j: { variant: string; budget: string; task: string; seed: number }): string {
  return `${j.variant}${j.budget ? ` [${j.budget}]` : ''} × ${j.task} · seed ${j.seed}`;
}

/**
 * Compares the folder's journaled jobs with `plan`: `lost` are jobs whose row the plan no longer
 * has (another variant, task, seed, budget or label), `changed` those whose row it keeps with
 * another config hash (edited options: they run again and their rows are replaced).
 */
function compareWithJournal(outDir: string, plan: SweepPlanFile): { lost: JobRecord[]; changed: number; recorded: number } {
  const records = [...readJournal(outDir).records.values()];
  const slots = new Set(plan.jobs.map(slotOf));
  const keys = new Set(plan.jobs.map((j) => j.key));
  const lost = records.filter((r) => !slots.has(slotOf(r)));
  // A shard's record belongs to the job it is part of: resharding a job does not change it.
  const changed = new Set(records.filter((r) => slots.has(slotOf(r)) && !keys.has(r.shard?.of ?? r.key)).map(slotOf)).size;
  return { lost, changed, recorded: records.length };
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
  let why: string | undefined = `it already holds a sweep (${FILES.journal})`;
  if (opts.resume) {
    const { lost, changed, recorded } = compareWithJournal(outDir, plan);
    why = lost.length > 0 ? `its results come from another sweep config: ${lost.length} of its ${recorded} jobs (e.g. ${lost.map(labelOf).sort()[0]}) are not in this config` : undefined;
    if (!why && changed > 0) opts.log?.(`${changed} job(s) whose config changed run again; their new rows replace the old ones`);
  }
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
