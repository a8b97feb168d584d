/**
 * The bridge from a variant's options to @bam/upcycle's pipeline. Every built-in variant names an
 * upcycle preset; its `prepare` builds (or reuses) that preset's whole pipeline for the job's seed —
 * the seed, the N−1 experts and, for mixture variants, every recipe of the preset under the job's
 * budget at once, so upcycle trains the mixtures in parallel on its own workers and every variant
 * of a sweep shares one seed and one set of experts (the artifacts are content-addressed: the
 * same preset and seed give the same hashes). `create` then only looks up a checkpoint.
 *
 * Each thread remembers the pipelines it has built (keyed by artifacts folder, preset, seed and
 * stages), so a worker asks upcycle once per pipeline; a second worker's first ask reuses every
 * stage from disk (DONE markers) without training.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { BamError, readTextFile, TRAINING_DOMAINS } from '@bam/core';
import { configHash, defaultWorkers } from '@bam/utils';
import {
  BUDGETS,
  checkGivenDense,
  EXPERT_DOMAINS,
  loadUpcyclePreset,
  parseGivenExperts,
  parseUpcyclePreset,
  recipeEntries,
  resolveRecipe,
  stageTrainingLog,
  upcycle,
  upcyclePresetNames,
  withMixtureSeed,
  type Budget,
  type ExpertDomain,
  type GivenDense,
  type TrainingDomain,
  type UpcyclePreset,
  type UpcycleResult,
} from '@bam/upcycle';
import type { Logger, SeedKind } from '@bam/eval';

/** The upcycle preset every built-in variant uses unless its options name another. */
export const DEFAULT_PRESET = 'tiny';

/**
 * The `preset` option of every built-in variant: a built-in upcycle preset name (`smoke`, `tiny`,
 * ...) or the path of a preset JSON file (absolute, or relative to the current directory).
 * Checked when the sweep config is, so a misspelt name fails before any work.
 */
export const PresetOption = z
  .string()
  .min(1)
  .default(DEFAULT_PRESET)
  .superRefine((name, ctx) => {
    if (upcyclePresetNames().includes(name)) return;
    if (name.endsWith('.json') && existsSync(resolve(name))) return;
    ctx.addIssue({
      code: 'custom',
      message: `unknown upcycle preset '${name}': use one of ${upcyclePresetNames().join(', ')} or the path of a preset .json file`,
    });
  });

/**
 * The bring-your-own options of the mixture variants: dense checkpoints trained elsewhere
 * (`seedCheckpoint` and `expertCheckpoints`, domain → folder, in mixture order) that replace the
 * preset's seed and experts, and the user's own text for the mixture phase (`data`, domain →
 * plain-text or JSONL file). Checked with the sweep config — paths, one architecture and
 * tokenizer (upcycle's own check), readable text — so a bad path fails before any work.
 */
export const ByoOptions = {
  seedCheckpoint: z.string().min(1).optional(),
  expertCheckpoints: z.partialRecord(z.enum(EXPERT_DOMAINS as [ExpertDomain, ...ExpertDomain[]]), z.string().min(1)).optional(),
  data: z.partialRecord(z.enum(TRAINING_DOMAINS), z.string().min(1)).optional(),
};

/** The parsed bring-your-own options (see `ByoOptions`). */
export interface ByoValues {
  seedCheckpoint?: string;
  expertCheckpoints?: Partial<Record<ExpertDomain, string>>;
  data?: Partial<Record<TrainingDomain, string>>;
}

/** The given dense checkpoints of bring-your-own options, or undefined. */
export function givenOf(opts: ByoValues): GivenDense | undefined {
  if (opts.seedCheckpoint === undefined || opts.expertCheckpoints === undefined) return undefined;
  return { seed: opts.seedCheckpoint, experts: parseGivenExperts(Object.entries(opts.expertCheckpoints).map(([d, dir]) => `${d}=${dir}`), 'expertCheckpoints') };
}

/** Checks bring-your-own options as the sweep config is checked: an issue per bad path, pairing or mismatch. */
export function checkByoOptions(opts: ByoValues, ctx: z.RefinementCtx): void {
  if ((opts.seedCheckpoint === undefined) !== (opts.expertCheckpoints === undefined)) {
    ctx.addIssue({ code: 'custom', path: [opts.seedCheckpoint === undefined ? 'seedCheckpoint' : 'expertCheckpoints'], message: 'give seedCheckpoint and expertCheckpoints together' });
    return;
  }
  const issue = (path: string[], err: unknown) => {
    if (!(err instanceof BamError)) throw err;
    ctx.addIssue({ code: 'custom', path, message: err.message.split('\n')[0] });
  };
  try {
    const given = givenOf(opts);
    if (given) checkGivenDense(given);
  } catch (err) {
    issue(['expertCheckpoints'], err);
  }
  for (const [domain, path] of Object.entries(opts.data ?? {})) {
    try {
      readTextFile(path!);
    } catch (err) {
      issue(['data', domain], err);
    }
  }
}

/** The pipeline stages a variant needs: the dense models only, or the mixtures too. */
export type PipelineScope = 'experts' | 'train-mixture';

/** What one pipeline run builds: a preset (with the job's seed) up to a stage, under budgets. */
export interface PipelineRequest {
  /** The parsed preset, its `seed` set to the job's seed. */
  preset: UpcyclePreset;
  until: PipelineScope;
  /** The budgets every mixture is trained under (ignored for `experts`). */
  budgets: Budget[];
  /** Only these recipe entries of the preset (by name; default: all of them). */
  recipes?: readonly string[];
  /** Dense checkpoints trained elsewhere, replacing the seed and experts (`upcycle`'s `given`). */
  given?: GivenDense;
  /** The user's text for the mixture phase by domain (`upcycle`'s `data`). */
  data?: Partial<Record<TrainingDomain, string>>;
}

/**
 * Loads the preset `nameOrPath` seeded by the job's `seed`. With seed kind `pipeline` (the
 * default) the sweep seed is the preset's `seed`: a new seed model, new experts, new mixtures.
 * With `mixture` it is the preset's `mixtureSeed` and the preset keeps its own `seed`: every
 * sweep seed shares one seed model and one set of experts (their stage hashes do not cover
 * `mixtureSeed`) and re-trains only the mixture phase (router init and data order).
 */
export function presetForSeed(nameOrPath: string, seed: number, kind: SeedKind = 'pipeline'): UpcyclePreset {
  const base = loadUpcyclePreset(nameOrPath);
  if (!Number.isInteger(seed) || seed < 0) {
    throw new BamError(`the sweep seed ${seed} cannot seed upcycle preset '${base.name}'`, 'E_VARIANT_SEED', 'use non-negative integer seeds in the sweep config');
  }
  return parseUpcyclePreset(kind === 'mixture' ? { ...base, mixtureSeed: seed } : { ...base, seed });
}

/** A model's name suffix for its seed: `seed3` for a pipeline seed, `mixture-seed3` for a mixture seed. */
export function seedLabel(seed: number, kind: SeedKind = 'pipeline'): string {
  return kind === 'mixture' ? `mixture-seed${seed}` : `seed${seed}`;
}

/**
 * The training logs behind a model of pipeline `r`, for the report's loss curves (ModelInfo's
 * `trainingLogs`): the seed's, the domain experts' (all of them for a mixture, `experts` for a
 * dense expert), and the mixture's own run (`mixture`: its label and checkpoint).
 */
export function pipelineTrainingLogs(
  r: Pick<UpcycleResult, 'seed' | 'experts'>,
  parts: { experts: readonly string[]; mixture?: { label: string; checkpoint: string } },
): Record<string, string> {
  const logs: Record<string, string> = { seed: stageTrainingLog(r.seed.checkpoint) };
  for (const d of parts.experts) {
    const e = r.experts[d as keyof UpcycleResult['experts']];
    if (e) logs[`${d} expert`] = stageTrainingLog(e.checkpoint);
  }
  if (parts.mixture) logs[parts.mixture.label] = stageTrainingLog(parts.mixture.checkpoint);
  return logs;
}

/**
 * The budgets a job's prepare builds: the job's own (`wanted`), else the preset's. Only what the
 * sweep evaluates is trained: a sweep that runs the compute-matched mixtures under one seed
 * (a variant's per-budget `seeds`) trains them once, not once per seed.
 */
export function budgetsWith(preset: UpcyclePreset, wanted: Budget | undefined): Budget[] {
  return wanted ? [wanted] : BUDGETS.filter((b) => preset.budgets.includes(b));
}

/**
 * The preset entry that builds recipe `recipeId` with `options` (compared after the recipe's own
 * parsing, so `{}` matches an entry with the defaults written out). When the preset has none, the
 * returned preset gets one more entry, named `<variantId>-<hash of the options>`; mixture hashes
 * do not cover names, so the same recipe and options built under any name is one artifact.
 */
export function recipeEntryFor(
  preset: UpcyclePreset,
  recipeId: string,
  options: Record<string, unknown>,
  variantId: string,
): { preset: UpcyclePreset; name: string } {
  // Compared as the preset builds its own entries: routers seeded by its mixtureSeed unless the options seed them.
  const wanted = resolveRecipe(recipeId, withMixtureSeed({ id: recipeId, name: recipeId, options }, preset.mixtureSeed).options);
  const wantedHash = configHash(wanted.options);
  for (const e of recipeEntries(preset)) {
    const r = resolveRecipe(e.id, e.options);
    if (r.recipe.id === wanted.recipe.id && configHash(r.options) === wantedHash) return { preset, name: e.name };
  }
  const taken = new Set(recipeEntries(preset).map((e) => e.name));
  let name = `${variantId}-${wantedHash.slice(0, 8)}`;
  while (taken.has(name)) name += '-x';
  return { preset: parseUpcyclePreset({ ...preset, recipes: [...preset.recipes, { id: recipeId, name, options }] }), name };
}

const built = new Map<string, Promise<UpcycleResult>>();

/** Options of `ensurePipeline`. */
export interface EnsurePipelineOptions {
  artifactsDir: string;
  logger: Logger;
  /** Upcycle worker threads (default: one per core; 1 = on this thread). */
  workers?: number;
  /**
   * Only look the checkpoints up, never train (what `create` does: `prepare` builds). A missing
   * stage throws a BamError that says to run the variant's prepare first.
   */
  lookupOnly?: boolean;
}

/**
 * Builds or reuses the pipeline of `req` in `opts.artifactsDir` and returns upcycle's result
 * (checkpoint paths of the seed, the experts and every mixture × budget). Memoised per thread;
 * a failed build is forgotten, so the next call tries again (and resumes inside the stage).
 */
export function ensurePipeline(req: PipelineRequest, opts: EnsurePipelineOptions): Promise<UpcycleResult> {
  const artifactsDir = resolve(opts.artifactsDir);
  const key = configHash({ artifactsDir, preset: req.preset, until: req.until, budgets: req.until === 'experts' ? [] : req.budgets, recipes: req.recipes ?? null, given: req.given ?? null, data: req.data ?? null });
  let p = built.get(key);
  if (!p) {
    p = runPipeline(req, artifactsDir, opts);
    built.set(key, p);
    const mine = p;
    p.catch(() => {
      if (built.get(key) === mine) built.delete(key);
    });
  }
  return p;
}

/** `upcycle`'s options for a request's recipe subset, given checkpoints and text. */
function byoOf(req: PipelineRequest): { recipes?: readonly string[]; given?: GivenDense; data?: Partial<Record<TrainingDomain, string>> } {
  return { ...(req.recipes ? { recipes: req.recipes } : {}), ...(req.given ? { given: req.given } : {}), ...(req.data ? { data: req.data } : {}) };
}

async function runPipeline(req: PipelineRequest, artifactsDir: string, opts: EnsurePipelineOptions): Promise<UpcycleResult> {
  const { preset } = req;
  const what = `upcycle ${preset.name} seed ${preset.seed}${req.until === 'experts' ? ' (seed and experts)' : ''}`;
  if (opts.lookupOnly) {
    // An aborted signal makes upcycle return every finished stage and stop at the first one it
    // would have to build (the store checks the signal before taking a stage's lock).
    const stop = new AbortController();
    stop.abort();
    try {
      return await upcycle(preset, { artifactsDir, until: req.until, budgets: req.budgets, workers: 1, signal: stop.signal, ...byoOf(req) });
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'E_ABORTED') throw err;
      throw new BamError(
        `the checkpoints of ${what} are not all built in ${artifactsDir} (${(err as Error).message.split('\n')[0]})`,
        'E_VARIANT_NOT_PREPARED',
        "run the variant's prepare first (bam sweep does, before any job), or build them with `bam upcycle`",
      );
    }
  }
  const r = await upcycle(preset, {
    artifactsDir,
    until: req.until,
    budgets: req.budgets,
    ...byoOf(req),
    workers: opts.workers ?? defaultWorkers(),
    log: (line) => opts.logger.info(`[${what}] ${line}`),
  });
  const fresh = r.artifacts.filter((a) => !a.reused).length;
  opts.logger.info(`${what}: ${fresh} stage(s) built, ${r.artifacts.length - fresh} reused, in ${r.elapsedS}s (${artifactsDir})`);
  return r;
}
