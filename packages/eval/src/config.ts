/**
 * The sweep config: a strict, zod-validated JSON file listing variants × tasks × seeds (× budgets)
 * and the plugin modules to load. Defaults live in the schema. `checkSweepConfig` validates the
 * structure and then every variant's and task's options against its plugin's schema, and fails
 * before any work with one error that lists every bad field.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { BUDGETS, SEED_KINDS } from './api/context.ts';
import { SweepConfigError, issuesFromZod, unknownIdMessage, type ConfigIssue } from './errors.ts';
import type { PluginRegistry } from './registry.ts';
import { nearestMatch } from '@bam/utils';
import { MAX_ITERS } from './compare/stats.ts';

const Options = z.record(z.string(), z.unknown()).default({});
/** Seconds an evaluation job may run before it is stopped and recorded as failed (see timeout.ts). */
const JobTimeout = z.number().positive().max(7 * 86_400, 'at most a week (604800 s)').optional();

/** One variant of a sweep: a registered variant id, its options, and a row label (default: the id). */
export const VariantEntrySchema = z
  .object({
    id: z.string().min(1),
    name: z.string().min(1).optional(),
    options: Options,
    jobTimeout: JobTimeout,
    /**
     * Evaluate this variant under these of the sweep's seeds only (default all): e.g. the dense
     * models under `seedKind: "mixture"`, whose checkpoints every mixture seed shares. Or per
     * budget, `{ "data-matched": [0, 1, 2, 3], "compute-matched": [0] }` (a budget left out runs
     * under every seed): e.g. the headline comparison across seeds, the other budget once.
     */
    seeds: z
      .union([z.array(z.number().int()).min(1), z.partialRecord(z.enum(BUDGETS as [string, ...string[]]), z.array(z.number().int()).min(1))])
      .optional(),
    /**
     * Evaluate this variant under these of the sweep's budgets only (default all; only for
     * variants that use a budget): e.g. a routing study run data-matched beside mixtures compared
     * under both.
     */
    budgets: z.array(z.enum(BUDGETS as [string, ...string[]])).min(1).optional(),
  })
  .strict();

/** One task of a sweep: a registered task id, its options, a column label (default: the id) and an optional document limit. */
export const TaskEntrySchema = z
  .object({
    id: z.string().min(1),
    name: z.string().min(1).optional(),
    options: Options,
    limit: z.number().int().min(1).optional(),
    jobTimeout: JobTimeout,
    /**
     * Run this task on these variants only (labels: a variant's name, else its id); default all.
     * E.g. the routing-analysis tasks on the mixtures (a dense model has no routers).
     */
    variants: z.array(z.string().min(1)).min(1).optional(),
    /**
     * Run this task under these of the sweep's seeds only (default all; with a variant's own
     * `seeds`, the seeds both allow): e.g. downstream tasks and routing analysis under one mixture
     * seed, while the perplexity tasks carry the comparison across all of them.
     */
    seeds: z.array(z.number().int()).min(1).optional(),
    /**
     * Split this task's documents into this many shards, each a job of its own (see shards.ts):
     * their per-document scores are merged, in document order, before aggregation, so results
     * equal the unsplit run's. More shards than documents run one document per shard. Wins over
     * the sweep's `shardDocs`.
     */
    shards: z.number().int().min(1).optional(),
  })
  .strict();

/** Refinement: no value twice in a list (`what` names the item, e.g. 'seed'). */
function unique<T>(what: string) {
  return (xs: readonly T[], ctx: z.RefinementCtx): void => {
    xs.forEach((x, i) => {
      if (xs.indexOf(x) !== i) ctx.addIssue({ code: 'custom', path: [i], message: `${what} ${JSON.stringify(x)} is listed twice` });
    });
  };
}

/** Refinement: every entry's label (name, else id) is distinct, so rows and columns are unambiguous. */
function uniqueLabels(xs: ReadonlyArray<{ id: string; name?: string }>, ctx: z.RefinementCtx): void {
  const labels = xs.map((e) => e.name ?? e.id);
  labels.forEach((l, i) => {
    const first = labels.indexOf(l);
    if (first !== i) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `label '${l}' is already used by entry ${first}; give this entry a distinct "name"` });
  });
}

/** The sweep config schema (strict: a misspelt key fails). */
export const SweepConfigSchema = z
  .object({
    $schema: z.string().optional(),
    /** Shown in progress lines and tables. */
    name: z.string().min(1),
    description: z.string().optional(),
    /** Results folder, relative to the config file (the CLI's --out overrides it). */
    outDir: z.string().min(1).optional(),
    /** Checkpoints and other artifacts, relative to the config file (default: ./artifacts under the current directory). */
    artifactsDir: z.string().min(1).optional(),
    /** Worker threads (default: available cores). */
    workers: z.number().int().min(1).optional(),
    seeds: z.array(z.number().int()).min(1).superRefine(unique<number>('seed')),
    /**
     * What the seeds vary (PluginContext.seedKind): `pipeline` (default) — everything a variant
     * builds; `mixture` — only the mixture phase of upcycled variants (router init, data order),
     * on one shared seed model and set of experts: error bars across mixture training runs at the
     * cost of the mixture phase alone.
     */
    seedKind: z.enum(SEED_KINDS).default('pipeline'),
    /** Budgets for variants that declare `usesBudget`; others run once with no budget. */
    budgets: z.array(z.enum(BUDGETS as [string, ...string[]])).min(1).superRefine(unique<string>('budget')).optional(),
    /** Plugin modules: file paths (relative to the config file) or package names. */
    plugins: z.array(z.string().min(1)).default([]),
    variants: z.array(VariantEntrySchema).min(1).superRefine(uniqueLabels),
    tasks: z.array(TaskEntrySchema).min(1).superRefine(uniqueLabels),
    /** Use only the first `limit` documents of every task (a task entry's own limit wins). */
    limit: z.number().int().min(1).optional(),
    /** Bootstrap resamples for the stderr of corpus-level metrics and for the paired comparisons; 0 turns them off. */
    bootstrapIters: z
      .number()
      .int()
      .min(0)
      .max(MAX_ITERS, `at most ${MAX_ITERS.toLocaleString('en-US')} resamples (each one re-aggregates every document); 1000 is usual`)
      .default(1000),
    /**
     * Paired comparisons against a baseline (compare_<metric>.csv): `baseline` is a variant label
     * (default: the first variant whose plugin id is not `dense`, i.e. the first mixture).
     */
    compare: z.object({ baseline: z.string().min(1).optional() }).strict().default({}),
    /** How many variant `prepare` calls may run at once (1: no two builds race on shared artifacts). */
    prepareConcurrency: z.number().int().min(1).default(1),
    /**
     * Seconds each evaluation job may run (a variant's or task's own jobTimeout wins; see
     * timeout.ts); a job past it becomes a failed row and its worker is replaced. Default: no limit.
     */
    jobTimeout: JobTimeout,
    /**
     * Split every task with more than this many documents into shards of at most this many
     * (a task's own `shards` wins), so one long task is not the straggler of a many-worker sweep.
     * Default: no automatic split.
     */
    shardDocs: z.number().int().min(1).optional(),
    /** Requests per LanguageModel call. */
    chunkSize: z.number().int().min(1).default(256),
  })
  .strict();

/** A parsed sweep config (defaults filled in). */
export type SweepConfig = z.output<typeof SweepConfigSchema>;
/** A sweep config as written in JSON. */
export type SweepConfigInput = z.input<typeof SweepConfigSchema>;
/** One parsed variant entry. */
export type VariantEntry = z.output<typeof VariantEntrySchema>;
/** One parsed task entry. */
export type TaskEntry = z.output<typeof TaskEntrySchema>;

/** Parses the structure of a sweep config (no plugin checks); throws SweepConfigError listing every bad field. */
export function parseSweepConfig(raw: unknown, what = 'sweep config'): SweepConfig {
  const r = SweepConfigSchema.safeParse(raw);
  if (!r.success) throw new SweepConfigError(what, issuesFromZod(r.error.issues));
  return r.data;
}

/** Reads and JSON-parses a sweep config file (not yet validated); errors name the file. */
export function readSweepConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SweepConfigError(`sweep config ${path}`, [{ path: '', message: `cannot read the file: ${(err as Error).message}` }]);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SweepConfigError(`sweep config ${path}`, [{ path: '', message: `not valid JSON: ${(err as Error).message}` }]);
  }
}

/** A config entry checked against its plugin: the options after the plugin's schema (defaults filled in). */
export interface ResolvedEntry {
  id: string;
  label: string;
  /** Options as written (sent to workers, which parse them again). */
  rawOptions: Record<string, unknown>;
  /** Options as the plugin's schema parsed them (hashed into the job's config hash). */
  options: unknown;
}

function pluginIssues(raw: unknown, registry: PluginRegistry): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const obj = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  for (const key of ['variants', 'tasks'] as const) {
    const list = obj[key];
    if (!Array.isArray(list)) continue;
    const kind = key === 'variants' ? 'variant' : 'task';
    list.forEach((e, i) => {
      const id = (e as { id?: unknown } | null)?.id;
      if (typeof id !== 'string' || id === '') return; // the structural pass reports it
      const has = kind === 'variant' ? registry.hasVariant(id) : registry.hasTask(id);
      if (!has) {
        const known = kind === 'variant' ? registry.variantIds() : registry.taskIds();
        issues.push({ path: `${key}.${i}.id`, message: unknownIdMessage(kind, id, known, nearestMatch(id, known)) });
        return;
      }
      const opts = (e as { options?: unknown }).options;
      if (opts !== undefined && (typeof opts !== 'object' || opts === null || Array.isArray(opts))) return;
      const schema = kind === 'variant' ? registry.variant(id).options : registry.task(id).options;
      const r = schema.safeParse(opts ?? {});
      if (!r.success) issues.push(...issuesFromZod(r.error.issues, `${key}.${i}.options`));
    });
  }
  return issues;
}

/** compare.baseline must name a variant's label (its name, else its id), or a label with a budget: "btx [data-matched]". */
function baselineIssues(config: SweepConfig | undefined): ConfigIssue[] {
  const baseline = config?.compare.baseline;
  if (!config || baseline === undefined) return [];
  const labels = config.variants.map((v) => v.name ?? v.id);
  const rows = labels.flatMap((l) => (config.budgets ?? []).map((b) => `${l} [${b}]`));
  if (labels.includes(baseline) || rows.includes(baseline)) return [];
  const near = nearestMatch(baseline, labels);
  return [{ path: 'compare.baseline', message: `'${baseline}' is not a variant of this sweep; variants: ${labels.join(', ')}${near ? `; did you mean '${near}'?` : ''}` }];
}

/** A variant entry's `seeds`: one list, or one list per budget. */
export type VariantSeeds = NonNullable<z.output<typeof VariantEntrySchema>['seeds']>;

/** The seeds a variant entry allows under `budget` (undefined: every seed of the sweep). */
export function variantSeedsFor(seeds: VariantSeeds | undefined, budget: string | undefined): number[] | undefined {
  if (seeds === undefined || Array.isArray(seeds)) return seeds;
  return budget === undefined ? undefined : seeds[budget];
}

/** A variant's or task's `seeds` must be seeds of the sweep, and a variant's `budgets` budgets of the sweep. */
function variantSeedIssues(config: SweepConfig | undefined): ConfigIssue[] {
  if (!config) return [];
  const seedList = (path: string, seeds: number[]): ConfigIssue[] =>
    seeds.flatMap((seed, i) => (config.seeds.includes(seed) ? [] : [{ path: `${path}.${i}`, message: `seed ${seed} is not one of the sweep's seeds (${config.seeds.join(', ')})` }]));
  const budgetIssues = (path: string, budget: string): ConfigIssue[] =>
    (config.budgets ?? []).includes(budget) ? [] : [{ path, message: `budget '${budget}' is not one of the sweep's budgets (${(config.budgets ?? []).join(', ') || 'none'})` }];
  const check = (what: 'variants' | 'tasks') => (e: { seeds?: VariantSeeds }, ei: number): ConfigIssue[] => {
    const seeds = e.seeds ?? [];
    if (Array.isArray(seeds)) return seedList(`${what}.${ei}.seeds`, seeds);
    return Object.entries(seeds).flatMap(([budget, list]) => [...budgetIssues(`${what}.${ei}.seeds.${budget}`, budget), ...seedList(`${what}.${ei}.seeds.${budget}`, list ?? [])]);
  };
  const budgets = (v: { budgets?: string[] }, vi: number): ConfigIssue[] => (v.budgets ?? []).flatMap((b, i) => budgetIssues(`variants.${vi}.budgets.${i}`, b));
  return [...config.variants.flatMap(check('variants')), ...config.tasks.flatMap(check('tasks')), ...config.variants.flatMap(budgets)];
}

/** Every label in a task's `variants` must be a variant's label. */
function taskVariantIssues(config: SweepConfig | undefined): ConfigIssue[] {
  if (!config) return [];
  const labels = config.variants.map((v) => v.name ?? v.id);
  const issues: ConfigIssue[] = [];
  config.tasks.forEach((t, ti) =>
    (t.variants ?? []).forEach((l, i) => {
      if (labels.includes(l)) return;
      const near = nearestMatch(l, labels);
      issues.push({ path: `tasks.${ti}.variants.${i}`, message: `'${l}' is not a variant of this sweep; variants: ${labels.join(', ')}${near ? `; did you mean '${near}'?` : ''}` });
    }),
  );
  return issues;
}

/**
 * Validates a raw sweep config completely: structure, then every variant/task id against the
 * registry (unknown ids name the nearest known one) and every options object against its
 * plugin's schema. Throws one SweepConfigError listing every problem; otherwise returns the
 * parsed config with each entry's parsed options.
 */
export function checkSweepConfig(
  raw: unknown,
  registry: PluginRegistry,
  what = 'sweep config',
): { config: SweepConfig; variants: ResolvedEntry[]; tasks: ResolvedEntry[] } {
  const r = SweepConfigSchema.safeParse(raw);
  const issues = [...(r.success ? [] : issuesFromZod(r.error.issues)), ...pluginIssues(raw, registry), ...baselineIssues(r.success ? r.data : undefined), ...taskVariantIssues(r.success ? r.data : undefined), ...variantSeedIssues(r.success ? r.data : undefined)];
  if (!r.success || issues.length > 0) throw new SweepConfigError(what, issues, 'fix the fields above; nothing has run yet');
  const config = r.data;
  const resolve = (e: { id: string; name?: string; options: Record<string, unknown> }, kind: 'variant' | 'task'): ResolvedEntry => ({
    id: e.id,
    label: e.name ?? e.id,
    rawOptions: e.options,
    options: (kind === 'variant' ? registry.variant(e.id).options : registry.task(e.id).options).parse(e.options),
  });
  return { config, variants: config.variants.map((v) => resolve(v, 'variant')), tasks: config.tasks.map((t) => resolve(t, 'task')) };
}
