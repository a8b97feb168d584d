/** The two comparison regimes of the paper: same mix-phase tokens, or same FLOPs. */
export type Budget = 'data-matched' | 'compute-matched';

/** The budgets a sweep config may name. */
export const BUDGETS: readonly Budget[] = ['data-matched', 'compute-matched'];

/**
 * What a sweep's seeds vary: `pipeline` — everything the variant builds (for upcycled models: a
 * new seed model, new experts and new mixtures per seed); `mixture` — only the mixture phase
 * (router init and data order), on one seed model and one set of experts shared by every seed,
 * which is the training-run variance a comparison of mixtures is about, at a fraction of the cost.
 */
export const SEED_KINDS = ['pipeline', 'mixture'] as const;
/** One of SEED_KINDS. */
export type SeedKind = (typeof SEED_KINDS)[number];

/** Where a plugin writes progress and notes (stderr in the CLI, prefixed with the worker). */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

/** What a plugin gets when it runs: where artifacts go, which seed and budget this job uses. */
export interface PluginContext {
  /** Directory for checkpoints and other artifacts, shared by every job of the sweep (and across sweeps). */
  artifactsDir: string;
  /** The job's seed: use it for anything random (training, sampling, few-shot picks). */
  seed: number;
  /** What the seed varies (the sweep config's `seedKind`; undefined = `pipeline`). */
  seedKind?: SeedKind;
  /** The comparison regime, for variants that declare `usesBudget`; undefined otherwise. */
  budget?: Budget;
  logger: Logger;
  /**
   * The task this job evaluates (its id and parsed options), so a variant may build its model per
   * task (e.g. an oracle that answers each domain with its own expert). Set for `create()` (and the
   * task's own calls) in evaluate jobs; undefined in `prepare()`.
   */
  task?: { id: string; options: unknown };
}

/** What a variant's `setup()` gets: run once in each worker before its first job with that variant. */
export interface SetupContext {
  artifactsDir: string;
  logger: Logger;
  /** The worker thread's id (0 on the main thread). */
  threadId: number;
}

/** A logger that writes `prefix message` lines to stderr. */
export function stderrLogger(prefix: string): Logger {
  return {
    info: (m) => process.stderr.write(`${prefix} ${m}\n`),
    warn: (m) => process.stderr.write(`${prefix} warning: ${m}\n`),
  };
}

/** A logger that drops everything (tests, quiet runs). */
export const silentLogger: Logger = { info: () => {}, warn: () => {} };
