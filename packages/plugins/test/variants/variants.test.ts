import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LanguageModel, Logger, PluginContext, VariantPlugin } from '@bam/eval';
import { loadUpcyclePreset, upcyclePresetNames } from '@bam/upcycle';
import {
  bamKvSharedVariant,
  budgetsWith,
  builtinPlugins,
  builtinVariants,
  btxExpertsVariant,
  btxVariant,
  denseVariant,
  presetForSeed,
  recipeEntryFor,
} from '../../src/index.ts';

const WORK = mkdtempSync(join(tmpdir(), 'bam-variants-'));
afterAll(() => rmSync(WORK, { recursive: true, force: true }));

/**
 * The smoke preset cut down to two experts (code, math) and two recipes: the cheapest pipeline
 * that still has experts to share and a budget that changes what BAM trains on.
 */
const MINI = join(WORK, 'mini.json');
writeFileSync(MINI, JSON.stringify({ ...loadUpcyclePreset('smoke'), name: 'mini', numExperts: 3, domains: ['code', 'math'], recipes: ['btx', 'bam-kv-shared'] }));

/** A logger that keeps its lines, and the lines upcycle's summary writes ("N stage(s) built, M reused"). */
function capture(): Logger & { lines: string[]; builds(): Array<{ built: number; reused: number }> } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(m),
    warn: (m) => lines.push(`warning: ${m}`),
    builds: () => lines.flatMap((l) => [...l.matchAll(/: (\d+) stage\(s\) built, (\d+) reused/g)].map((m) => ({ built: Number(m[1]), reused: Number(m[2]) }))),
  };
}

function context(logger: Logger, over: Partial<PluginContext> = {}): PluginContext {
  return { artifactsDir: join(WORK, 'artifacts'), seed: 0, logger, ...over };
}

function manifest(checkpointDir: string): { configHash: string; trainState: { tokensSeen: number } } {
  return JSON.parse(readFileSync(join(checkpointDir, 'checkpoint.json'), 'utf8'));
}

describe('the built-in variants: options', () => {
  it('lists nine variants under the paper ids and puts them in builtinPlugins after the tasks', () => {
    expect(builtinVariants.map((v) => v.id)).toEqual([
      'dense',
      'btx',
      'bam-full',
      'bam-kv-shared',
      'btx-experts',
      'btx-top3-6',
      'bam-moa-top1',
      'bam-moa-top2',
      'sparse-upcycle',
    ]);
    expect(builtinPlugins.slice(-9)).toEqual([...builtinVariants]);
    expect(builtinVariants.map((v) => v.usesBudget ?? false)).toEqual([false, true, true, true, true, true, true, true, true]);
  });

  it("defaults every variant to the tiny upcycle preset, the mixtures to their recipe's defaults", () => {
    expect(upcyclePresetNames()).toContain('tiny');
    expect(denseVariant.options.parse({})).toEqual({ model: 'seed', preset: 'tiny' });
    expect(btxVariant.options.parse({})).toEqual({ preset: 'tiny', routerInit: { std: 0.02, seed: 0 } });
    expect(btxExpertsVariant.options.parse({ experts: 6 })).toEqual({ preset: 'tiny', routerInit: { std: 0.02, seed: 0 }, experts: 6, matchTo: 'bam-full' });
    for (const v of builtinVariants) expect((v.options.parse({}) as { preset: string }).preset).toBe('tiny');
  });

  it('rejects an unknown key, a bad recipe option and an unknown preset, naming each', () => {
    for (const v of builtinVariants) {
      const r = v.options.safeParse({ preset: 'smoke', presett: 'tiny' });
      expect(r.success).toBe(false);
      expect(JSON.stringify(r.error?.issues)).toContain('presett');
    }
    const badRouter = btxVariant.options.safeParse({ ffnRouter: { kind: 'topk', k: 0 } });
    expect(badRouter.success).toBe(false);
    expect(badRouter.error?.issues[0].path).toEqual(['ffnRouter', 'k']);
    const unknown = bamKvSharedVariant.options.safeParse({ preset: 'tiyn' });
    expect(unknown.error?.issues.map((i) => i.message)).toEqual([`unknown upcycle preset 'tiyn': use one of ${upcyclePresetNames().join(', ')} or the path of a preset .json file`]);
    expect(denseVariant.options.safeParse({ model: 'general' }).success).toBe(false);
    expect(denseVariant.options.parse({ preset: MINI, model: 'math' })).toEqual({ preset: MINI, model: 'math' });
  });
});

describe('the built-in variants: which pipeline they ask for', () => {
  const smoke = loadUpcyclePreset('smoke');

  it("sets the upcycle seed to the job's seed and keeps everything else of the preset", () => {
    const p = presetForSeed('smoke', 3);
    expect(p.seed).toBe(3);
    expect({ ...p, seed: smoke.seed }).toEqual(smoke);
    expect(() => presetForSeed('smoke', -1)).toThrow(/cannot seed upcycle preset 'smoke'/);
  });

  it("finds the preset's own entry for default recipe options, written out or not", () => {
    expect(recipeEntryFor(smoke, 'btx', {}, 'btx')).toEqual({ preset: smoke, name: 'btx' });
    expect(recipeEntryFor(smoke, 'btx', { routerInit: { std: 0.02, seed: 0 } }, 'btx').name).toBe('btx');
    expect(recipeEntryFor(smoke, 'btx-experts-M', {}, 'btx-experts').name).toBe('btx-experts-M');
    expect(recipeEntryFor(smoke, 'bam-moa-top1', { kvShared: true }, 'bam-moa-top1').name).toBe('bam-moa-top1');
  });

  it('adds one entry, named by a hash of its options, for recipe options the preset does not build', () => {
    const { preset, name } = recipeEntryFor(smoke, 'btx', { routerInit: { std: 0.02, seed: 7 } }, 'btx');
    expect(name).toMatch(/^btx-[0-9a-f]{8}$/);
    expect(preset.recipes).toEqual([...smoke.recipes, { id: 'btx', name, options: { routerInit: { std: 0.02, seed: 7 } } }]);
    expect(recipeEntryFor(smoke, 'btx', { routerInit: { seed: 7 } }, 'btx').name).toBe(name);
    expect(recipeEntryFor(smoke, 'btx', { routerInit: { seed: 8 } }, 'btx').name).not.toBe(name);
  });

  it('takes the mixture-phase study options on every mixture variant, each value its own preset entry (and so its own artifacts)', () => {
    const studies: Array<Record<string, unknown>> = [
      { start: 'renormalised' },
      { start: 'gate-compensated' },
      { loadBalance: 0.1 },
      { loadBalance: 0 },
      { routerLrScale: 10 },
      { mixtureSteps: 300 },
    ];
    for (const v of builtinVariants.filter((x) => x.id !== 'dense')) {
      for (const o of studies) expect(v.options.safeParse({ preset: 'smoke', ...o }).success).toBe(true);
    }
    expect(btxVariant.options.parse({ start: 'paper' })).toEqual({ preset: 'tiny', routerInit: { std: 0.02, seed: 0 } });
    for (const bad of [{ start: 'renormalized' }, { loadBalance: -1 }, { routerLrScale: 0 }, { mixtureSteps: 1.5 }]) {
      const r = btxVariant.options.safeParse(bad);
      expect(r.success).toBe(false);
      expect(r.error?.issues[0].path).toEqual(Object.keys(bad));
    }
    const names = studies.map((o) => recipeEntryFor(smoke, 'btx', o, 'btx').name);
    expect(new Set([...names, 'btx']).size).toBe(studies.length + 1);
    expect(recipeEntryFor(smoke, 'btx', { start: 'paper' }, 'btx').name).toBe('btx');
  });

  it("builds the job's budget only, the preset's when the job has none", () => {
    expect(budgetsWith(smoke, 'compute-matched')).toEqual(['compute-matched']);
    expect(budgetsWith(smoke, 'data-matched')).toEqual(['data-matched']);
    expect(budgetsWith({ ...smoke, budgets: ['compute-matched', 'data-matched'] }, undefined)).toEqual(['data-matched', 'compute-matched']);
    const dmOnly = { ...smoke, budgets: ['data-matched' as const] };
    expect(budgetsWith(dmOnly, undefined)).toEqual(['data-matched']);
    expect(budgetsWith(dmOnly, 'compute-matched')).toEqual(['compute-matched']);
  });
});

describe('the built-in variants: one shared pipeline per preset and seed', () => {
  const models: LanguageModel[] = [];
  afterAll(async () => {
    for (const m of models) await m.dispose();
  });
  const create = async (v: VariantPlugin, options: unknown, ctx: PluginContext): Promise<LanguageModel> => {
    const m = await v.create(v.options.parse(options), ctx);
    models.push(m);
    return m;
  };

  it("trains the seed and experts once, then every recipe under a prepare's own budget, and nothing twice", { timeout: 300_000 }, async () => {
    const log = capture();
    await denseVariant.setup?.({ artifactsDir: join(WORK, 'artifacts'), logger: log, threadId: 0 });
    await denseVariant.prepare?.(denseVariant.options.parse({ preset: MINI, model: 'code' }), context(log));
    // seed + 2 branches + 2 experts
    expect(log.builds()).toEqual([{ built: 5, reused: 0 }]);
    await btxVariant.prepare?.(btxVariant.options.parse({ preset: MINI }), context(log, { budget: 'data-matched' }));
    // 2 mixes, and every recipe data-matched: btx and bam-kv-shared
    expect(log.builds()).toEqual([
      { built: 5, reused: 0 },
      { built: 4, reused: 5 },
    ]);
    // The compute-matched prepare trains bam-kv-shared only: btx's compute-matched run is its data-matched one.
    await bamKvSharedVariant.prepare?.(bamKvSharedVariant.options.parse({ preset: MINI }), context(log, { budget: 'compute-matched' }));
    expect(log.builds()[2]).toEqual({ built: 1, reused: 8 });
    // Same preset, seed and budget: the pipeline this thread built already holds them.
    await btxVariant.prepare?.(btxVariant.options.parse({ preset: MINI }), context(log, { budget: 'compute-matched' }));
    await denseVariant.prepare?.(denseVariant.options.parse({ preset: MINI, model: 'math' }), context(log));
    expect(log.builds()).toHaveLength(3);
    expect(log.lines.join('\n')).not.toContain('warning');
  });

  it("loads each checkpoint with its config hash; BTX's two budgets are one model, BAM's are two", { timeout: 120_000 }, async () => {
    const log = capture();
    const seed = await create(denseVariant, { preset: MINI }, context(log));
    const code = await create(denseVariant, { preset: MINI, model: 'code' }, context(log));
    const btxDm = await create(btxVariant, { preset: MINI }, context(log, { budget: 'data-matched' }));
    const btxCm = await create(btxVariant, { preset: MINI }, context(log, { budget: 'compute-matched' }));
    const kvDm = await create(bamKvSharedVariant, { preset: MINI }, context(log, { budget: 'data-matched' }));
    const kvCm = await create(bamKvSharedVariant, { preset: MINI }, context(log, { budget: 'compute-matched' }));
    expect(log.builds().every((b) => b.built === 0)).toBe(true);
    for (const m of [seed, code, btxDm, btxCm, kvDm, kvCm]) {
      expect(m.info.configHash).toBe(manifest(m.info.checkpoint as string).configHash);
      expect(m.info.backend).toBeTruthy();
    }
    expect([seed.info.name, code.info.name, btxDm.info.name, kvCm.info.name]).toEqual([
      'mini/seed/seed0',
      'mini/code-expert/seed0',
      'mini/btx/data-matched/seed0',
      'mini/bam-kv-shared/compute-matched/seed0',
    ]);
    // The seed and the experts share a config; the mixtures have their own.
    expect(code.info.configHash).toBe(seed.info.configHash);
    expect(btxDm.info.configHash).not.toBe(seed.info.configHash);
    expect(kvDm.info.configHash).not.toBe(btxDm.info.configHash);
    expect(btxCm.info.checkpoint).toBe(btxDm.info.checkpoint);
    expect(kvCm.info.checkpoint).not.toBe(kvDm.info.checkpoint);
    // Compute-matched BAM-KV-shared pays for N attention experts with fewer tokens than BTX's.
    const tokens = (m: LanguageModel) => manifest(m.info.checkpoint as string).trainState.tokensSeen;
    expect(tokens(kvDm)).toBe(tokens(btxDm));
    expect(tokens(kvCm)).toBeLessThan(tokens(kvDm));
    expect(kvCm.info.tokensSeen).toBe(tokens(kvCm));
    // The loss at step 0: the untrained mixture's mean validation NLL, recorded with its checkpoint.
    for (const m of [btxDm, kvCm]) {
      const mix = JSON.parse(readFileSync(join(m.info.mixCheckpoint as string, 'checkpoint.json'), 'utf8')) as { metrics: Record<string, number> };
      expect(m.info.step0Loss).toBe(mix.metrics['val.mean']);
      expect(m.info.step0Loss as number).toBeGreaterThan(0);
    }
    // Different weights score the same text differently, each a finite log-probability.
    const req = [{ context: 'The law of the', continuation: ' land' }];
    const scores = await Promise.all([seed, code, btxDm, kvDm, kvCm].map(async (m) => (await m.loglikelihood(req))[0].logprob));
    for (const s of scores) {
      expect(Number.isFinite(s)).toBe(true);
      expect(s).toBeLessThan(0);
    }
    expect(new Set(scores).size).toBe(5);
  });

  it('builds only the extra mixture for recipe options the preset lacks, reusing the rest', { timeout: 120_000 }, async () => {
    const log = capture();
    const opts = btxVariant.options.parse({ preset: MINI, routerInit: { seed: 7 } });
    await btxVariant.prepare?.(opts, context(log, { budget: 'compute-matched' }));
    // one mix and one training (data- and compute-matched coincide for a btx config)
    expect(log.builds()).toEqual([{ built: 2, reused: 9 }]);
    const m = await create(btxVariant, { preset: MINI, routerInit: { seed: 7 } }, context(log, { budget: 'compute-matched' }));
    const plain = await create(btxVariant, { preset: MINI }, context(log, { budget: 'compute-matched' }));
    expect(m.info.configHash).toBe(plain.info.configHash);
    expect(m.info.checkpoint).not.toBe(plain.info.checkpoint);
  });

  it("fails only the variant whose own run fails: another variant of the preset builds its recipe alone and loads", { timeout: 120_000 }, async () => {
    // A real failure in one recipe's mixture run: a load-balance coefficient so large that the loss
    // overflows float32 at the first step (the trainer's non-finite check stops it).
    const bad = join(WORK, 'mini-overflow.json');
    writeFileSync(bad, JSON.stringify({ ...JSON.parse(readFileSync(MINI, 'utf8')), name: 'mini-overflow', recipes: ['btx', { id: 'bam-kv-shared', name: 'kv-overflow', options: { loadBalance: 1e38 } }] }));
    const log = capture();
    await btxVariant.prepare?.(btxVariant.options.parse({ preset: bad }), context(log, { budget: 'data-matched' }));
    expect(log.lines.join('\n')).toMatch(/warning: btx: the preset's shared build failed \(.*kv-overflow.*\); built btx on its own/);
    const btx = await create(btxVariant, { preset: bad }, context(log, { budget: 'data-matched' }));
    // The same artifact as the healthy preset's btx: the other recipe's failure changed nothing of it.
    expect(btx.info.artifact).toBe((await create(btxVariant, { preset: MINI }, context(log, { budget: 'data-matched' }))).info.artifact);
    const overflow = bamKvSharedVariant.options.parse({ preset: bad, loadBalance: 1e38 });
    await expect(bamKvSharedVariant.prepare?.(overflow, context(log, { budget: 'data-matched' }))).rejects.toThrow(/kv-overflow \(data-matched\).*(not finite|non-finite|NaN|Infinity)/i);
    await expect(create(bamKvSharedVariant, { preset: bad, loadBalance: 1e38 }, context(log, { budget: 'data-matched' }))).rejects.toThrow(/not all built/);
  });

  it("gives another seed its own seed model: the sweep's seed is the upcycle seed", { timeout: 120_000 }, async () => {
    const log = capture();
    await denseVariant.prepare?.(denseVariant.options.parse({ preset: MINI }), context(log, { seed: 1 }));
    expect(log.builds()).toEqual([{ built: 5, reused: 0 }]);
    const s1 = await create(denseVariant, { preset: MINI }, context(log, { seed: 1 }));
    const s0 = await create(denseVariant, { preset: MINI }, context(log));
    expect(s1.info.name).toBe('mini/seed/seed1');
    expect(s1.info.configHash).toBe(s0.info.configHash);
    expect(s1.info.artifact).not.toBe(s0.info.artifact);
  });

  it('shares one seed model and one set of experts across mixture seeds, and re-trains only the mixtures', { timeout: 300_000 }, async () => {
    const log = capture();
    const mixture = (seed: number, over: Partial<PluginContext> = {}) => context(log, { seed, seedKind: 'mixture', ...over });
    await btxVariant.prepare?.(btxVariant.options.parse({ preset: MINI }), mixture(0, { budget: 'data-matched' }));
    await btxVariant.prepare?.(btxVariant.options.parse({ preset: MINI }), mixture(1, { budget: 'data-matched' }));
    // Both mixture seeds reuse pipeline seed 0's seed model, 2 branches and 2 experts, and train their own
    // data-matched mixtures (btx and bam-kv-shared). Mixture seed 0 seeds the routers as the recipes'
    // default does, so it reuses pipeline seed 0's 2 mixes; seed 1 builds its own.
    expect(log.builds()).toEqual([
      { built: 2, reused: 7 },
      { built: 4, reused: 5 },
    ]);
    const dense = await Promise.all([mixture(0), mixture(1), context(log)].map((ctx) => create(denseVariant, { preset: MINI, model: 'code' }, ctx)));
    expect(dense[0].info.name).toBe('mini/code-expert/mixture-seed0');
    expect(new Set(dense.map((m) => m.info.artifact)).size).toBe(1);
    const [m0, m1] = await Promise.all([0, 1].map((seed) => create(btxVariant, { preset: MINI }, mixture(seed, { budget: 'data-matched' }))));
    expect(m0.info.name).toBe('mini/btx/data-matched/mixture-seed0');
    expect(m0.info.configHash).toBe(m1.info.configHash);
    expect(m0.info.artifact).not.toBe(m1.info.artifact);
    // Different router init and data order: different weights, different scores of the same text.
    const req = [{ context: 'The law of the', continuation: ' land' }];
    const [s0, s1] = await Promise.all([m0, m1].map(async (m) => (await m.loglikelihood(req))[0].logprob));
    expect(s0).not.toBe(s1);
    // Their training logs: one seed and expert log shared by both, a mixture log each, all on disk.
    const logs = [m0, m1].map((m) => m.info.trainingLogs as Record<string, string>);
    expect(Object.keys(logs[0])).toEqual(['seed', 'code expert', 'math expert', 'btx (data-matched)']);
    expect(logs[1].seed).toBe(logs[0].seed);
    expect(logs[1]['code expert']).toBe(logs[0]['code expert']);
    expect(logs[1]['btx (data-matched)']).not.toBe(logs[0]['btx (data-matched)']);
    for (const path of [...Object.values(logs[0]), ...Object.values(logs[1])]) expect(readFileSync(path, 'utf8')).toMatch(/"kind":"train"/);
    expect(dense[0].info.trainingLogs).toEqual({ seed: logs[0].seed, 'code expert': logs[0]['code expert'] });
  });

  it("sets the mixture seed, not the upcycle seed, under seed kind 'mixture'", () => {
    const p = presetForSeed(MINI, 4, 'mixture');
    const base = loadUpcyclePreset(MINI);
    expect(p.seed).toBe(base.seed);
    expect(p.mixtureSeed).toBe(4);
    expect(presetForSeed(MINI, 4).mixtureSeed).toBe(base.mixtureSeed);
  });

  it('never trains in create: without prepare it fails, naming what to run, and leaves no checkpoint', { timeout: 60_000 }, async () => {
    const empty = join(WORK, 'never-prepared');
    const attempt = btxVariant.create(btxVariant.options.parse({ preset: MINI }), context(capture(), { artifactsDir: empty, budget: 'data-matched' }));
    await expect(attempt).rejects.toThrow(/the checkpoints of upcycle mini seed 0 are not all built in .*never-prepared[\s\S]*run the variant's prepare first/);
    await expect(denseVariant.create(denseVariant.options.parse({ preset: MINI }), context(capture(), { artifactsDir: empty }))).rejects.toMatchObject({ code: 'E_VARIANT_NOT_PREPARED' });
    expect(readdirSync(empty, { recursive: true }).filter((f) => String(f).endsWith('DONE.json') || String(f).endsWith('.lock'))).toEqual([]);
  });

  it('names the domains a preset has when asked for an expert it does not train', async () => {
    const opts = denseVariant.options.parse({ preset: MINI, model: 'law' });
    await expect(denseVariant.prepare!(opts, context(capture()))).rejects.toThrow("upcycle preset 'mini' trains no 'law' expert (its domains: code, math)");
    await expect(denseVariant.create(opts, context(capture()))).rejects.toThrow(/use model 'seed' or one of 'code', 'math'/);
  });
});
