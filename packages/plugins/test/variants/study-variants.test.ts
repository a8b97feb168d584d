import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isExpertKey, parseParamName, readCheckpoint, type SafeTensor } from '@bam/core';
import { PluginRegistry, checkSweepConfig, evaluateTask, readSweepConfigFile, silentLogger, type LanguageModel, type PluginContext, type VariantPlugin } from '@bam/eval';
import { loadUpcyclePreset, upcycle, type UpcycleResult } from '@bam/upcycle';
import {
  bamFullVariant,
  builtinPlugins,
  denseVariant,
  ensurePipeline,
  expertChoiceRoutingVariant,
  frozenExpertsVariant,
  hashRoutingVariant,
  loadLanguageModel,
  oracleModelFor,
  oracleSpecialistVariant,
  perExampleRoutingVariant,
  presetForSeed,
  pplCode,
  pplGeneral,
  recipeEntryFor,
  routingTasks,
  sharedRouterVariant,
  studyVariants,
  tiedRoutingVariant,
} from '../../src/index.ts';

/**
 * One artifacts folder for the file: the smoke preset cut to the mixture the studies vary (bam-full)
 * and one budget, so the seed and the three experts train once and each study variant adds one
 * mixture (6 smoke steps).
 */
const WORK = mkdtempSync(join(tmpdir(), 'bam-study-'));
afterAll(() => rmSync(WORK, { recursive: true, force: true }));
const PRESET = join(WORK, 'smoke-study.json');
writeFileSync(PRESET, JSON.stringify({ ...loadUpcyclePreset('smoke'), recipes: ['bam-full'], budgets: ['data-matched'] }));

const ctx = (over: Partial<PluginContext> = {}): PluginContext => ({ artifactsDir: join(WORK, 'artifacts'), seed: 0, budget: 'data-matched', logger: silentLogger, ...over });

async function model(variant: VariantPlugin, options: Record<string, unknown>, over: Partial<PluginContext> = {}): Promise<LanguageModel> {
  const o = variant.options.parse({ preset: PRESET, ...options });
  await variant.setup?.({ artifactsDir: ctx().artifactsDir, logger: silentLogger, threadId: 0 });
  await variant.prepare?.(o, ctx(over));
  return variant.create(o, ctx(over));
}

/** The pipeline a bam-full study with `options` built (memoised: no training), and its trained mixture. */
async function mixtureOf(variantId: string, options: Record<string, unknown>): Promise<{ r: UpcycleResult; mix: string; trained: string }> {
  const { preset, name } = recipeEntryFor(presetForSeed(PRESET, 0), 'bam-full', options, variantId);
  const r = await ensurePipeline({ preset, until: 'train-mixture', budgets: ['data-matched'] }, { artifactsDir: ctx().artifactsDir, logger: silentLogger });
  const m = r.mixtures.find((x) => x.recipe === name)!;
  return { r, mix: m.mixCheckpoint, trained: m.checkpoint };
}

const same = (a: SafeTensor, b: SafeTensor): boolean => a.data.length === b.data.length && a.data.every((v, i) => v === b.data[i]);
const TEXTS = ['export const x = 1;', 'Permission is hereby granted.', '3 + 4 = 7', 'The cat sat.'];

describe('study variants on the smoke preset (one shared pipeline)', () => {
  it('lists the oracle and six bam-full studies, in builtinPlugins before the paper variants', () => {
    expect(studyVariants.map((v) => v.id)).toEqual([
      'oracle-specialist',
      'frozen-experts',
      'shared-router',
      'tied-routing',
      'per-example-routing',
      'expert-choice-routing',
      'hash-routing',
    ]);
    for (const v of studyVariants) expect(builtinPlugins).toContain(v);
    expect(builtinPlugins.indexOf(studyVariants[6])).toBeLessThan(builtinPlugins.indexOf(denseVariant));
    expect(perExampleRoutingVariant.options.parse({})).toEqual({ preset: 'tiny', routerInit: { std: 0.02, seed: 0 }, prefixTokens: 8 });
    // The option a study fixes is not an option of the study.
    expect(sharedRouterVariant.options.safeParse({ routing: { shareAcrossLayers: false } }).success).toBe(false);
    expect(frozenExpertsVariant.options.safeParse({ freezeExperts: false }).success).toBe(false);
  });

  it('oracle-specialist scores each domain exactly as its own dense expert (the seed for general text)', { timeout: 300_000 }, async () => {
    const oracleCode = await model(oracleSpecialistVariant, {}, { task: { id: 'ppl-code', options: {} } });
    const codeExpert = await model(denseVariant, { model: 'code' });
    const opts = { limit: 3, maxChars: 300 };
    const a = await evaluateTask(pplCode, opts, oracleCode, ctx());
    const b = await evaluateTask(pplCode, opts, codeExpert, ctx());
    expect(a).toEqual(b);
    expect((a[0].token_perplexity as readonly number[])[0]).toBeLessThan(0);
    expect(oracleCode.info.name).toBe('smoke/oracle-specialist/code-expert/seed0');
    const oracleGeneral = await model(oracleSpecialistVariant, {}, { task: { id: 'ppl-general', options: {} } });
    const seed = await model(denseVariant, { model: 'seed' });
    expect(await evaluateTask(pplGeneral, opts, oracleGeneral, ctx())).toEqual(await evaluateTask(pplGeneral, opts, seed, ctx()));
    expect(await evaluateTask(pplCode, opts, oracleGeneral, ctx())).not.toEqual(a);
    for (const m of [oracleCode, codeExpert, oracleGeneral, seed]) await m.dispose();
    expect([oracleModelFor('license-id'), oracleModelFor('arithmetic'), oracleModelFor('code-completion'), oracleModelFor('wordnet-cloze')]).toEqual(['law', 'math', 'code', 'general']);
    expect(oracleModelFor('my-task', { 'my-task': 'law' })).toBe('law');
  });

  it("oracle-specialist reports its routing one-hot at its expert's mixture index, and needs a task or a domain", async () => {
    const law = await model(oracleSpecialistVariant, {}, { task: { id: 'routing-law', options: {} } });
    const docs = await evaluateTask(routingTasks[2], { limit: 2, maxChars: 200 }, law, ctx());
    // Mixture order: code, law, math experts, then the seed: law is expert 1, in both layers.
    for (const d of docs) {
      for (const l of [0, 1]) {
        expect([0, 1, 2, 3].map((e) => d[`ffn_share.l${l}.e${e}`])).toEqual([0, 1, 0, 0]);
        expect([0, 1, 2, 3].map((e) => d[`attn_weight.l${l}.e${e}`])).toEqual([0, 1, 0, 0]);
      }
      expect([d.ffn_entropy_ratio, d.attn_entropy_ratio, d.agreement]).toEqual([0, 0, 1]);
      expect(d['ffn_share.l2.e0']).toBeNull();
    }
    await law.dispose();
    await expect(model(oracleSpecialistVariant, {})).rejects.toThrow(/needs the job's task to pick its expert/);
    const fixed = await model(oracleSpecialistVariant, { domain: 'math' });
    expect(fixed.info.model).toBe('math');
    await fixed.dispose();
  });

  it('frozen-experts leaves every expert weight of the mix checkpoint unchanged while the routers and averaged weights train', { timeout: 300_000 }, async () => {
    const lm = await model(frozenExpertsVariant, {});
    await lm.dispose();
    const { mix, trained } = await mixtureOf('frozen-experts', { freezeExperts: true });
    const before = readCheckpoint(mix).weights;
    const after = readCheckpoint(trained).weights;
    const experts = [...before.keys()].filter((n) => isExpertKey(parseParamName(n)));
    expect(experts).toHaveLength(2 * 4 * (3 + 4)); // 2 layers × 4 experts × (w_gate, w_up, w_down + wq, wk, wv, wo)
    for (const n of experts) expect(same(before.get(n)!, after.get(n)!), n).toBe(true);
    for (const n of ['layers.0.ffn.router', 'layers.1.attn.router', 'embed.weight', 'lm_head.weight']) expect(same(before.get(n)!, after.get(n)!), n).toBe(false);
    // The same mixture trained normally moves its experts: freezing is what kept them.
    const free = await mixtureOf('bam-full', {});
    const freeAfter = readCheckpoint(free.trained).weights;
    expect(readCheckpoint(free.mix).manifest.contentHash).toBe(readCheckpoint(mix).manifest.contentHash);
    expect(same(before.get('layers.0.ffn.experts.0.w_up')!, freeAfter.get('layers.0.ffn.experts.0.w_up')!)).toBe(false);
    expect(free.trained).not.toBe(trained);
  });

  it('per-example routing sends every token of a sequence to the same experts (per-token bam-full does not)', { timeout: 300_000 }, async () => {
    const perExample = await model(perExampleRoutingVariant, { prefixTokens: 4 });
    const stats = await perExample.routingStats!(TEXTS.map((text) => ({ text })));
    for (const s of stats) {
      expect(s.tokens).toBeLessThanOrEqual(32); // one chunk: one example
      for (const l of s.layers) {
        expect(new Set(l.ffn!.topExpert).size).toBe(1);
        expect(new Set(l.attn!.topExpert).size).toBe(1);
        expect(l.ffn!.topShare.filter((x) => x === 1)).toHaveLength(1);
      }
    }
    await perExample.dispose();
    const perToken = await model(bamFullVariant, {});
    const varied = (await perToken.routingStats!(TEXTS.map((text) => ({ text })))).some((s) => s.layers.some((l) => new Set(l.ffn!.topExpert).size > 1));
    expect(varied).toBe(true);
    await perToken.dispose();
  });

  it('shared, tied, expert-choice and hash routing build the configs and routers they name, from the same seed and experts', { timeout: 300_000 }, async () => {
    // Through upcycle up to the mix stage (the variants' training path is the one checked above and
    // in the variant contract): the untrained mixtures already route as their configs say.
    const studies = [
      { id: sharedRouterVariant.id, options: { routing: { shareAcrossLayers: true } } },
      { id: tiedRoutingVariant.id, options: { routing: { tieAttentionToFfn: true } } },
      { id: hashRoutingVariant.id, options: { ffnRouter: { kind: 'hash' } } },
      { id: expertChoiceRoutingVariant.id, options: { ffnRouter: { kind: 'expert-choice', capacityFactor: 2 } } },
    ];
    const base = presetForSeed(PRESET, 0);
    const preset = { ...base, recipes: [...base.recipes, ...studies.map((x) => ({ id: 'bam-full', name: x.id, options: x.options }))] };
    const r = await upcycle(preset, { artifactsDir: ctx().artifactsDir, until: 'mix', workers: 1 });
    expect(r.artifacts.filter((a) => !a.reused).map((a) => `${a.stage} ${a.name}`)).toEqual(studies.map((x) => `mix ${x.id}`));
    const sources = (name: string) => JSON.stringify((readCheckpoint(r.mixes[name].checkpoint).manifest.meta as { sources: unknown }).sources);
    for (const x of studies) expect(sources(x.id)).toBe(sources('bam-full'));
    const routers = (name: string) => [...readCheckpoint(r.mixes[name].checkpoint).weights.keys()].filter((n) => /router/.test(n)).sort();
    const stats = async (name: string) => {
      const lm = loadLanguageModel(r.mixes[name].checkpoint);
      try {
        return await lm.routingStats!(TEXTS.map((text) => ({ text })));
      } finally {
        await lm.dispose();
      }
    };

    expect(routers('shared-router')).toEqual(['routers.attn', 'routers.ffn']);
    expect(routers('tied-routing')).toEqual(['layers.0.ffn.router', 'layers.1.ffn.router']);
    // The attention mixes by the FFN router's probabilities: the two top experts always agree.
    for (const st of await stats('tied-routing')) for (const l of st.layers) expect(l.agreement).toBe(1);
    expect(routers('hash-routing')).toEqual(['layers.0.attn.router', 'layers.1.attn.router']);
    const ffnOf = (name: string) => (readCheckpoint(r.mixes[name].checkpoint).manifest.config as { ffn: { router: unknown } }).ffn;
    expect(ffnOf('hash-routing')).toEqual({ kind: 'moe', numExperts: 4, router: { kind: 'hash' } });
    for (const st of await stats('hash-routing')) {
      for (const l of st.layers) {
        expect(l.ffn!.entropy).toBe(0); // a hash assignment is one-hot
        expect(l.attn!.entropyRatio).toBeGreaterThan(0); // the attention router stays soft
      }
    }
    expect(ffnOf('expert-choice-routing').router).toEqual({ kind: 'expert-choice', capacityFactor: 2 });
    // Each expert takes C = ceil(2·N/E) of a sequence's N tokens (one chunk each): Σ load = E·C/N.
    for (const st of await stats('expert-choice-routing')) {
      const C = Math.ceil((2 * st.tokens) / 4);
      for (const l of st.layers) expect(l.ffn!.load.reduce((a, b) => a + b, 0)).toBeCloseTo((4 * C) / st.tokens, 6);
    }
  });
});

describe('the study sweep config', () => {
  it('packages/eval/configs/study.json checks against the built-in plugins', async () => {
    const registry = new PluginRegistry();
    for (const p of builtinPlugins) registry.register(p);
    const file = fileURLToPath(new URL('../../../eval/configs/study.json', import.meta.url));
    const { config, variants, tasks } = checkSweepConfig(readSweepConfigFile(file), registry, file);
    expect(variants.map((v) => v.id)).toEqual(['btx', 'bam-full', 'bam-kv-shared', ...studyVariants.map((v) => v.id)]);
    expect(tasks.map((t) => t.id)).toEqual(['ppl-general', 'ppl-code', 'ppl-law', 'ppl-math', 'ppl-ood', ...routingTasks.map((t) => t.id)]);
    expect(new Set(variants.map((v) => (v.options as { preset: string }).preset))).toEqual(new Set(['tiny']));
    expect(config.budgets).toEqual(['data-matched']);
  });
});
