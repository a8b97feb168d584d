/**
 * The whole upcycling pipeline (BAM paper §4.1; docs/method.md): seed → branch → experts
 * → mix (one per recipe) → train-mixture (one per recipe × budget), every stage content-addressed
 * in the artifact store, so a second run with the same preset trains nothing, and an interrupted
 * run resumes inside the stage it stopped in. The experts, and the mixture trainings, run in
 * parallel on worker threads (`workers`), or in order on this thread with `workers: 1`.
 */
import { BamError, InvariantError, type Domain, type ModelConfig } from '@bam/core';
import { canonicalJson } from '@bam/utils';
import { planMixtureTraining, type MixturePlan } from './budget.ts';
import { BUDGETS, loadUpcyclePreset, parseUpcyclePreset, recipeEntries, withMixtureSeed, type Budget, type ExpertDomain, type ResolvedRecipeEntry, type UpcyclePreset, type UpcyclePresetInput } from './config.ts';
import type { UpcycleJob } from './jobs.ts';
import { JobRunner } from './parallel.ts';
import { recipeConfig, resolveRecipe } from './recipes/index.ts';
import type { StageOutcome } from './store.ts';
import { runBranchStage } from './stages/branch.ts';
import { createStageContext, type CheckpointStageResult, type StageContext } from './stages/context.ts';
import { runMixStage, type DenseInput } from './stages/mix.ts';
import { runSeedStage } from './stages/seed.ts';
import { checkMixtureData, trainMixtureOptions } from './stages/train-mixture.ts';
import { checkGivenDense, givenOutcome, type GivenDense } from './stages/given.ts';

/** The pipeline's stages in order; `until` stops after one of them. */
export const PIPELINE_STAGES = ['seed', 'branch', 'experts', 'mix', 'train-mixture'] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

/** Options of `upcycle`. */
export interface UpcycleOptions {
  /** Root of the content-addressed artifacts (`<dir>/<stage>/<hash>/`). */
  artifactsDir: string;
  /** Recipe names of the preset (or any recipe id, with default options) to build; default: the preset's. */
  recipes?: readonly string[];
  /** Budgets to train each mixture under; default: the preset's. */
  budgets?: readonly Budget[];
  /** Worker threads for the parallel stages (default: one per core; 1 = on this thread). */
  workers?: number;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Overrides the preset's seed: a new seed model, new experts, new mixtures. */
  seed?: number;
  /** Overrides the preset's mixtureSeed: new mixtures (router init, data order) on the same seed model and experts. */
  mixtureSeed?: number;
  /** Stop after this stage (default: train-mixture, the whole pipeline). */
  until?: PipelineStage;
  /** Abort: the running stage stops at its next log point; its checkpoints stay for a resume. */
  signal?: AbortSignal;
  /**
   * A training stage that stopped on divergence continues from its last healthy checkpoint with
   * its peak LR multiplied by this (recorded in its checkpoints); without it, such a stage refuses
   * to run past its stop.
   */
  resumeLrScale?: number;
  /**
   * Dense models trained elsewhere (bam checkpoints, e.g. imported): the seed and expert stages are
   * skipped, the preset's domains become the given experts' (in the given order), and the model
   * config and tokenizer are the seed's. They must share one config and tokenizer.
   */
  given?: GivenDense;
  /**
   * The user's own text for the mixture phase, by domain (plain text, or JSONL with `{"text": ...}`
   * per line): replaces bam's corpus of that domain in the mixture training batches. Checked (and
   * each file's sha256 hashed into the train-mixture artifacts) before any work.
   */
  data?: Partial<Record<Domain, string>>;
}

/** One dense model of the pipeline (the seed or a domain expert). */
export interface DenseArtifact {
  /** `general` for the seed, else the expert's domain. */
  domain: string;
  role: 'seed' | 'expert';
  checkpoint: string;
  hash: string;
  reused: boolean;
  tokensSeen: number;
  flopsSpent: number;
  metrics: Record<string, number | null>;
  params: { total: number; active: number };
}

/** One trained mixture: a recipe under a budget. */
export interface MixtureArtifact {
  /** The recipe entry's name (the id unless the preset renames it). */
  recipe: string;
  recipeId: string;
  budget: Budget;
  /** The trained mixture checkpoint. */
  checkpoint: string;
  /** The untrained mixture the recipe built. */
  mixCheckpoint: string;
  hash: string;
  reused: boolean;
  plan: MixturePlan;
  tokensSeen: number;
  flopsSpent: number;
  metrics: Record<string, number | null>;
  /**
   * The untrained mixture's validation losses (`val.<domain>`, `val.mean`, on the batches of
   * `metrics`): the loss at step 0, against which `metrics` shows what the mixture phase recovered.
   */
  step0: Record<string, number | null>;
  params: { total: number; active: number };
}

/** What `upcycle` returns (plain JSON). */
export interface UpcycleResult {
  preset: UpcyclePreset;
  artifactsDir: string;
  seed: DenseArtifact;
  /** The branched copies of the seed, by domain (before CPT). */
  branches: Partial<Record<ExpertDomain, { checkpoint: string; hash: string; reused: boolean }>>;
  /** The trained domain experts, by domain. */
  experts: Partial<Record<ExpertDomain, DenseArtifact>>;
  /** The N dense models in mixture order: the experts in the preset's domain order, the seed last. */
  dense: DenseArtifact[];
  /** The untrained mixtures, by recipe name. */
  mixes: Record<string, { checkpoint: string; hash: string; reused: boolean; recipeId: string }>;
  /** Every trained mixture, recipe-major then budget. */
  mixtures: MixtureArtifact[];
  /** Trained mixture checkpoint paths by recipe name and budget. */
  checkpoints: Record<string, Partial<Record<Budget, string>>>;
  /** Every stage artifact this call returned, with whether it was reused. */
  artifacts: Array<{ stage: string; name: string; hash: string; reused: boolean; elapsedS: number }>;
  elapsedS: number;
}

function denseArtifact(domain: string, role: 'seed' | 'expert', o: StageOutcome<CheckpointStageResult>): DenseArtifact {
  const r = o.result;
  return { domain, role, checkpoint: o.checkpointDir, hash: o.hash, reused: o.reused, tokensSeen: r.tokensSeen, flopsSpent: r.flopsSpent, metrics: r.metrics, params: r.params };
}

/** Picks the preset's recipe entries named in `names` (a name not in the preset but a known recipe id is added with default options). */
function selectRecipes(preset: UpcyclePreset, names: readonly string[] | undefined): ResolvedRecipeEntry[] {
  const all = recipeEntries(preset);
  if (!names) return all;
  return names.map((n) => {
    const hit = all.find((e) => e.name === n);
    if (hit) return hit;
    resolveRecipe(n); // throws the unknown-recipe error with the known ids
    return withMixtureSeed({ id: n, name: n, options: {} }, preset.mixtureSeed);
  });
}

/** The reference recipe's config (the preset's entry of that name if any, else the recipe id with defaults). */
function referenceConfig(ctx: StageContext, n: number): ModelConfig {
  const ref = ctx.preset.reference;
  const entry = recipeEntries(ctx.preset).find((e) => e.name === ref);
  return recipeConfig(entry?.id ?? ref, ctx.config, n, entry?.options ?? {});
}

/**
 * Runs (or reuses) the upcycling pipeline of `preset` (a built-in name, a preset file path, or a
 * preset object) in `opts.artifactsDir`, and returns every checkpoint: dense seed and experts,
 * and the trained mixtures per (recipe, budget), each with tokens, FLOPs, parameter counts and
 * per-domain validation losses, and whether it was reused.
 */
export async function upcycle(preset: string | UpcyclePreset | UpcyclePresetInput, opts: UpcycleOptions): Promise<UpcycleResult> {
  const runner = new JobRunner({ workers: opts.workers, log: opts.log ?? (() => {}), signal: opts.signal });
  try {
    return await runPipeline(preset, opts, runner);
  } finally {
    await runner.close();
  }
}

/** A checked pipeline run: the preset (with overrides), the recipes and budgets, and every mixture plan. */
interface PipelinePlan {
  preset: UpcyclePreset;
  ctx: StageContext;
  /** Index of the last stage to run in `PIPELINE_STAGES`. */
  until: number;
  entries: ResolvedRecipeEntry[];
  budgets: Budget[];
  /** Each recipe's mixture config and its training plan per budget. */
  planned: Array<{ entry: ResolvedRecipeEntry; config: ModelConfig; plans: MixturePlan[] }>;
  /** The user's dense checkpoints, standing in for the seed and experts stages. */
  given?: GivenDense;
}

/** The pipeline's running state: what it returns, filled stage by stage. */
interface PipelineRun {
  plan: PipelinePlan;
  runner: JobRunner;
  log: (line: string) => void;
  result: UpcycleResult;
  /** The seed stage's outcome (the branches' parent and the mixtures' last dense model). */
  seed: StageOutcome<CheckpointStageResult>;
  /** Records a stage artifact in `result.artifacts` (and logs a reuse). */
  note(stage: string, name: string, o: StageOutcome): void;
}

/** Runs the stages in order up to `opts.until`, each a named step that fills the result. */
async function runPipeline(preset: string | UpcyclePreset | UpcyclePresetInput, opts: UpcycleOptions, runner: JobRunner): Promise<UpcycleResult> {
  const t0 = performance.now();
  const plan = planPipeline(preset, opts);
  const { preset: p, ctx, entries, budgets } = plan;
  const log = opts.log ?? (() => {});
  log(`upcycle ${p.name}: N=${p.numExperts} (${p.domains.join(', ')} + general seed), recipes ${entries.map((e) => e.name).join(', ')}, budgets ${budgets.join(', ')}, artifacts in ${ctx.store.root}`);
  const run = await runSeed(plan, runner, log);
  if (plan.given) {
    const experts = plan.given.experts.map((e) => givenOutcome(e.checkpoint, 'expert'));
    p.domains.forEach((d, i) => (run.result.experts[d] = denseArtifact(d, 'expert', experts[i])));
    run.result.dense = [...p.domains.map((d) => run.result.experts[d]!), run.result.seed];
    log(`given dense models: ${p.domains.map((d, i) => `${d} ${plan.given!.experts[i].checkpoint}`).join(', ')}, seed ${plan.given.seed}`);
    const mixes = await runMixes(run, experts);
    if (plan.until >= PIPELINE_STAGES.indexOf('train-mixture')) await runMixtureTrainings(run, mixes);
    run.result.elapsedS = Math.round((performance.now() - t0) / 100) / 10;
    return run.result;
  }
  const finish = () => {
    run.result.elapsedS = Math.round((performance.now() - t0) / 100) / 10;
    return run.result;
  };
  const reached = (stage: PipelineStage) => plan.until >= PIPELINE_STAGES.indexOf(stage);
  if (!reached('branch')) return finish();
  const branches = await runBranches(run);
  if (!reached('experts')) return finish();
  const experts = await runExperts(run, branches);
  if (!reached('mix')) return finish();
  const mixes = await runMixes(run, experts);
  if (!reached('train-mixture')) return finish();
  await runMixtureTrainings(run, mixes);
  return finish();
}

/**
 * Plan: loads the preset with the seed overrides, checks the budgets and recipes, and resolves
 * every recipe and mixture plan up front, so a bad recipe or budget fails before any training.
 */
function planPipeline(preset: string | UpcyclePreset | UpcyclePresetInput, opts: UpcycleOptions): PipelinePlan {
  let p = typeof preset === 'string' ? loadUpcyclePreset(preset) : parseUpcyclePreset(preset);
  if (opts.seed !== undefined) p = parseUpcyclePreset({ ...p, seed: opts.seed });
  if (opts.mixtureSeed !== undefined) p = parseUpcyclePreset({ ...p, mixtureSeed: opts.mixtureSeed });
  if (opts.resumeLrScale !== undefined && !(opts.resumeLrScale > 0 && opts.resumeLrScale < 1)) {
    throw new BamError(`resumeLrScale must be in (0, 1), got ${opts.resumeLrScale}`, 'E_OPTION', 'e.g. 0.1 continues a diverged stage at a tenth of its learning rate');
  }
  if (opts.given) {
    checkGivenDense(opts.given);
    const domains = opts.given.experts.map((e) => e.domain);
    p = parseUpcyclePreset({ ...p, domains, numExperts: domains.length + 1 });
  }
  const ctx = createStageContext(p, opts.artifactsDir, { log: opts.log ?? (() => {}), signal: opts.signal, resumeLrScale: opts.resumeLrScale, seedCheckpoint: opts.given?.seed, data: opts.data });
  if (ctx.data) checkMixtureData(ctx);
  const entries = selectRecipes(p, opts.recipes);
  const budgets = [...new Set(opts.budgets ?? p.budgets)];
  const badBudget = budgets.find((b) => !(BUDGETS as readonly string[]).includes(b));
  if (badBudget !== undefined) throw new BamError(`unknown budget '${badBudget}'`, 'E_BUDGET', `use ${BUDGETS.join(' or ')}`);
  const dup = entries.find((e, i) => entries.findIndex((f) => f.name === e.name) !== i);
  if (dup) throw new BamError(`recipe '${dup.name}' is asked for twice`, 'E_RECIPE', 'name each recipe once');
  const n = p.numExperts;
  const refConfig = referenceConfig(ctx, n);
  const planned = entries.map((e) => {
    const config = recipeConfig(e.id, ctx.config, n, e.options);
    // A recipe's `mixtureSteps` sets its data-matched length; its compute-matched run gets the reference's FLOPs at that length.
    const steps = (resolveRecipe(e.id, e.options).options.mixtureSteps as number | undefined) ?? p.stages.mixture.steps;
    const plans = budgets.map((budget) =>
      planMixtureTraining({ budget, config, referenceConfig: refConfig, reference: p.reference, steps, batchSize: p.batchSize, seqLen: p.seqLen }),
    );
    return { entry: e, config, plans };
  });
  return { preset: p, ctx, until: PIPELINE_STAGES.indexOf(opts.until ?? 'train-mixture'), entries, budgets, planned, given: opts.given };
}

/** Stage seed: trains (or reuses) the dense seed model and starts the result with it. */
async function runSeed(plan: PipelinePlan, runner: JobRunner, log: (line: string) => void): Promise<PipelineRun> {
  const { preset: p, ctx } = plan;
  const artifacts: UpcycleResult['artifacts'] = [];
  const note = (stage: string, name: string, o: StageOutcome) => {
    artifacts.push({ stage, name, hash: o.hash, reused: o.reused, elapsedS: o.elapsedS });
    if (o.reused) log(`${stage} ${name}: reused ${o.dir}`);
  };
  if (!plan.given) log(`stage seed: ${p.stages.seed.steps} steps of ${p.batchSize}×${p.seqLen} on general text`);
  const seed = plan.given ? givenOutcome(plan.given.seed, 'seed') : await runSeedStage(ctx);
  if (!plan.given) note('seed', 'general', seed);
  const result: UpcycleResult = {
    preset: p,
    artifactsDir: ctx.store.root,
    seed: denseArtifact('general', 'seed', seed),
    branches: {},
    experts: {},
    dense: [],
    mixes: {},
    mixtures: [],
    checkpoints: {},
    artifacts,
    elapsedS: 0,
  };
  return { plan, runner, log, result, seed, note };
}

/** Stage branch: one copy of the seed per domain (before continued pre-training). */
async function runBranches(run: PipelineRun): Promise<Array<StageOutcome<CheckpointStageResult>>> {
  const { preset: p, ctx } = run.plan;
  run.log(`stage branch: ${p.domains.length} copies of the seed`);
  const branches: Array<StageOutcome<CheckpointStageResult>> = [];
  for (const d of p.domains) {
    const b = await runBranchStage(ctx, run.seed, d);
    run.note('branch', d, b);
    run.result.branches[d] = { checkpoint: b.checkpointDir, hash: b.hash, reused: b.reused };
    branches.push(b);
  }
  return branches;
}

/** Stage experts: continued pre-training of each branch on its domain, in parallel on the runner. */
async function runExperts(run: PipelineRun, branches: ReadonlyArray<StageOutcome<CheckpointStageResult>>): Promise<Array<StageOutcome<CheckpointStageResult>>> {
  const { preset: p, ctx } = run.plan;
  run.log(`stage experts: ${p.domains.length} × ${p.stages.experts.steps} steps of continued pre-training (${Math.round(p.generalShare * 100)}% general, peak LR ${p.stages.experts.lrRatio} × the seed's)`);
  const expertJobs: UpcycleJob[] = p.domains.map((domain, i) => ({ kind: 'expert', preset: p, artifactsDir: ctx.store.root, resumeLrScale: ctx.resumeLrScale, ...(ctx.seedCheckpoint !== undefined ? { seedCheckpoint: ctx.seedCheckpoint } : {}), ...(ctx.data ? { data: ctx.data } : {}), branch: branches[i], domain }));
  const experts = await run.runner.run(expertJobs);
  p.domains.forEach((d, i) => {
    run.note('expert', d, experts[i]);
    run.result.experts[d] = denseArtifact(d, 'expert', experts[i]);
  });
  run.result.dense = [...p.domains.map((d) => run.result.experts[d]!), run.result.seed];
  return experts;
}

/** Stage mix: each recipe builds its untrained mixture from the experts and the seed. */
async function runMixes(run: PipelineRun, experts: ReadonlyArray<StageOutcome<CheckpointStageResult>>): Promise<Array<StageOutcome<CheckpointStageResult>>> {
  const { preset: p, ctx, planned } = run.plan;
  run.log(`stage mix: ${planned.length} recipe(s)`);
  const dense: DenseInput[] = [...p.domains.map((d, i) => ({ domain: d, outcome: experts[i] })), { domain: 'general', outcome: run.seed }];
  const mixes: Array<StageOutcome<CheckpointStageResult>> = [];
  for (const { entry } of planned) {
    const m = await runMixStage(ctx, entry, dense);
    run.note('mix', entry.name, m);
    run.result.mixes[entry.name] = { checkpoint: m.checkpointDir, hash: m.hash, reused: m.reused, recipeId: entry.id };
    mixes.push(m);
  }
  return mixes;
}

/** One wanted mixture run (recipe × budget) and the distinct training job that makes it. */
interface WantedMixture {
  name: string;
  id: string;
  budget: Budget;
  mix: StageOutcome<CheckpointStageResult>;
  plan: MixturePlan;
  job: number;
}

/**
 * One job per distinct artifact: runs whose plans coincide (BTX's two budgets) train once; a
 * run of the same mixture with other training options (frozen experts, router LR) is another artifact.
 */
function mixtureJobs(plan: PipelinePlan, mixes: ReadonlyArray<StageOutcome<CheckpointStageResult>>): { jobs: UpcycleJob[]; wanted: WantedMixture[] } {
  const { preset: p, ctx } = plan;
  const jobs: UpcycleJob[] = [];
  const jobIndex = new Map<string, number>();
  const wanted: WantedMixture[] = [];
  plan.planned.forEach(({ entry, plans }, i) => {
    for (const mp of plans) {
      const key = `${mixes[i].result.contentHash}/${mp.rows}/${canonicalJson(trainMixtureOptions(resolveRecipe(entry.id, entry.options).options, p.stages.mixture))}`;
      if (!jobIndex.has(key)) {
        jobIndex.set(key, jobs.length);
        jobs.push({ kind: 'train-mixture', preset: p, artifactsDir: ctx.store.root, resumeLrScale: ctx.resumeLrScale, ...(ctx.seedCheckpoint !== undefined ? { seedCheckpoint: ctx.seedCheckpoint } : {}), ...(ctx.data ? { data: ctx.data } : {}), name: entry.name, recipe: { id: entry.id, options: entry.options }, numExperts: p.numExperts, mix: mixes[i], plan: mp });
      }
      wanted.push({ name: entry.name, id: entry.id, budget: mp.budget, mix: mixes[i], plan: mp, job: jobIndex.get(key)! });
    }
  });
  return { jobs, wanted };
}

/**
 * Stage train-mixture: trains each distinct mixture run on the runner, records every wanted
 * (recipe, budget) in the result, and checks each trained on exactly its plan's tokens.
 */
async function runMixtureTrainings(run: PipelineRun, mixes: ReadonlyArray<StageOutcome<CheckpointStageResult>>): Promise<void> {
  const { preset: p } = run.plan;
  const { jobs, wanted } = mixtureJobs(run.plan, mixes);
  run.log(`stage train-mixture: ${wanted.length} run(s) (${jobs.length} distinct), ${p.stages.mixture.steps} data-matched steps; compute-matched budget = ${p.reference}'s data-matched FLOPs`);
  const trained = await run.runner.run(jobs);
  const seenJobs = new Set<number>();
  for (const w of wanted) {
    // A second run mapped onto the same artifact reuses what the first one just trained.
    const o = seenJobs.has(w.job) ? { ...trained[w.job], reused: true, elapsedS: 0 } : trained[w.job];
    seenJobs.add(w.job);
    run.note('train-mixture', `${w.name} (${w.budget})`, o);
    const r = o.result;
    run.result.mixtures.push({
      recipe: w.name,
      recipeId: w.id,
      budget: w.budget,
      checkpoint: o.checkpointDir,
      mixCheckpoint: w.mix.checkpointDir,
      hash: o.hash,
      reused: o.reused,
      plan: w.plan,
      tokensSeen: r.tokensSeen,
      flopsSpent: r.flopsSpent,
      metrics: r.metrics,
      step0: w.mix.result.metrics,
      params: r.params,
    });
    (run.result.checkpoints[w.name] ??= {})[w.budget] = o.checkpointDir;
  }
  const bad = run.result.mixtures.find((m) => m.tokensSeen !== m.plan.tokens);
  if (bad) throw new InvariantError(`train-mixture ${bad.recipe} (${bad.budget}) trained on ${bad.tokensSeen} tokens, its plan says ${bad.plan.tokens}`);
}
