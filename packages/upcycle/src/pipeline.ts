/**
 * The whole upcycling pipeline (BAM paper §4.1; DESIGN.md "The method"): seed → branch → experts
 * → mix (one per recipe) → train-mixture (one per recipe × budget), every stage content-addressed
 * in the artifact store, so a second run with the same preset trains nothing, and an interrupted
 * run resumes inside the stage it stopped in. The experts, and the mixture trainings, run in
 * parallel on worker threads (`workers`), or in order on this thread with `workers: 1`.
 */
import { BamError, InvariantError, type ModelConfig } from '@bam/core';
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

async function runPipeline(preset: string | UpcyclePreset | UpcyclePresetInput, opts: UpcycleOptions, runner: JobRunner): Promise<UpcycleResult> {
  const t0 = performance.now();
  let p = typeof preset === 'string' ? loadUpcyclePreset(preset) : parseUpcyclePreset(preset);
  if (opts.seed !== undefined) p = parseUpcyclePreset({ ...p, seed: opts.seed });
  if (opts.mixtureSeed !== undefined) p = parseUpcyclePreset({ ...p, mixtureSeed: opts.mixtureSeed });
  const log = opts.log ?? (() => {});
  const ctx = createStageContext(p, opts.artifactsDir, { log, signal: opts.signal });
  const until = PIPELINE_STAGES.indexOf(opts.until ?? 'train-mixture');
  const entries = selectRecipes(p, opts.recipes);
  const budgets = [...new Set(opts.budgets ?? p.budgets)];
  const badBudget = budgets.find((b) => !(BUDGETS as readonly string[]).includes(b));
  if (badBudget !== undefined) throw new BamError(`unknown budget '${badBudget}'`, 'E_BUDGET', `use ${BUDGETS.join(' or ')}`);
  const dup = entries.find((e, i) => entries.findIndex((f) => f.name === e.name) !== i);
  if (dup) throw new BamError(`recipe '${dup.name}' is asked for twice`, 'E_RECIPE', 'name each recipe once');
  const n = p.numExperts;
  const artifacts: UpcycleResult['artifacts'] = [];
  const note = (stage: string, name: string, o: StageOutcome) => {
    artifacts.push({ stage, name, hash: o.hash, reused: o.reused, elapsedS: o.elapsedS });
    if (o.reused) log(`${stage} ${name}: reused ${o.dir}`);
  };
  // Resolve every recipe and plan up front, so a bad recipe or budget fails before any training.
  const refConfig = referenceConfig(ctx, n);
  const planned = entries.map((e) => {
    const config = recipeConfig(e.id, ctx.config, n, e.options);
    const plans = budgets.map((budget) =>
      planMixtureTraining({ budget, config, referenceConfig: refConfig, reference: p.reference, steps: p.stages.mixture.steps, batchSize: p.batchSize, seqLen: p.seqLen }),
    );
    return { entry: e, config, plans };
  });

  log(`upcycle ${p.name}: N=${n} (${p.domains.join(', ')} + general seed), recipes ${entries.map((e) => e.name).join(', ')}, budgets ${budgets.join(', ')}, artifacts in ${ctx.store.root}`);
  log(`stage seed: ${p.stages.seed.steps} steps of ${p.batchSize}×${p.seqLen} on general text`);
  const seed = await runSeedStage(ctx);
  note('seed', 'general', seed);
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
  const finish = () => {
    result.elapsedS = Math.round((performance.now() - t0) / 100) / 10;
    return result;
  };
  if (until < PIPELINE_STAGES.indexOf('branch')) return finish();

  log(`stage branch: ${p.domains.length} copies of the seed`);
  const branches: Array<StageOutcome<CheckpointStageResult>> = [];
  for (const d of p.domains) {
    const b = await runBranchStage(ctx, seed, d);
    note('branch', d, b);
    result.branches[d] = { checkpoint: b.checkpointDir, hash: b.hash, reused: b.reused };
    branches.push(b);
  }
  if (until < PIPELINE_STAGES.indexOf('experts')) return finish();

  log(`stage experts: ${p.domains.length} × ${p.stages.experts.steps} steps of continued pre-training (${Math.round(p.generalShare * 100)}% general, peak LR ${p.stages.experts.lrRatio} × the seed's)`);
  const expertJobs: UpcycleJob[] = p.domains.map((domain, i) => ({ kind: 'expert', preset: p, artifactsDir: ctx.store.root, branch: branches[i], domain }));
  const experts = await runner.run(expertJobs);
  p.domains.forEach((d, i) => {
    note('expert', d, experts[i]);
    result.experts[d] = denseArtifact(d, 'expert', experts[i]);
  });
  result.dense = [...p.domains.map((d) => result.experts[d]!), result.seed];
  if (until < PIPELINE_STAGES.indexOf('mix')) return finish();

  log(`stage mix: ${entries.length} recipe(s)`);
  const dense: DenseInput[] = [...p.domains.map((d, i) => ({ domain: d, outcome: experts[i] })), { domain: 'general', outcome: seed }];
  const mixes: Array<StageOutcome<CheckpointStageResult>> = [];
  for (const { entry } of planned) {
    const m = await runMixStage(ctx, entry, dense);
    note('mix', entry.name, m);
    result.mixes[entry.name] = { checkpoint: m.checkpointDir, hash: m.hash, reused: m.reused, recipeId: entry.id };
    mixes.push(m);
  }
  if (until < PIPELINE_STAGES.indexOf('train-mixture')) return finish();

  // One job per distinct artifact: runs whose plans coincide (BTX's two budgets) train once; a
  // frozen-experts run of the same mixture is another artifact.
  const jobs: UpcycleJob[] = [];
  const jobIndex = new Map<string, number>();
  const wanted: Array<{ name: string; id: string; budget: Budget; mix: StageOutcome<CheckpointStageResult>; plan: MixturePlan; job: number }> = [];
  planned.forEach(({ entry, plans }, i) => {
    for (const plan of plans) {
      const key = `${mixes[i].result.contentHash}/${plan.rows}${entry.options.freezeExperts === true ? '/frozen-experts' : ''}`;
      if (!jobIndex.has(key)) {
        jobIndex.set(key, jobs.length);
        jobs.push({ kind: 'train-mixture', preset: p, artifactsDir: ctx.store.root, name: entry.name, recipe: { id: entry.id, options: entry.options }, numExperts: n, mix: mixes[i], plan });
      }
      wanted.push({ name: entry.name, id: entry.id, budget: plan.budget, mix: mixes[i], plan, job: jobIndex.get(key)! });
    }
  });
  log(`stage train-mixture: ${wanted.length} run(s) (${jobs.length} distinct), ${p.stages.mixture.steps} data-matched steps; compute-matched budget = ${p.reference}'s data-matched FLOPs`);
  const trained = await runner.run(jobs);
  const seenJobs = new Set<number>();
  for (const w of wanted) {
    // A second run mapped onto the same artifact reuses what the first one just trained.
    const o = seenJobs.has(w.job) ? { ...trained[w.job], reused: true, elapsedS: 0 } : trained[w.job];
    seenJobs.add(w.job);
    note('train-mixture', `${w.name} (${w.budget})`, o);
    const r = o.result;
    result.mixtures.push({
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
      params: r.params,
    });
    (result.checkpoints[w.name] ??= {})[w.budget] = o.checkpointDir;
  }
  const bad = result.mixtures.find((m) => m.tokensSeen !== m.plan.tokens);
  if (bad) throw new InvariantError(`train-mixture ${bad.recipe} (${bad.budget}) trained on ${bad.tokensSeen} tokens, its plan says ${bad.plan.tokens}`);
  return finish();
}
