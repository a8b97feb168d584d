import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { trainingFlops } from '@bam/core';
import { PluginRegistry, checkSweepConfig, planJobs } from '@bam/eval';
import { loadUpcyclePreset, planMixtureTraining, presetModelConfig, recipeConfig, recipeEntries, resolveRecipe } from '@bam/upcycle';
import { builtinPlugins, builtinTasks } from '../../src/index.ts';

const CONFIGS = fileURLToPath(new URL('../../../eval/configs/', import.meta.url));
const PROJECT = fileURLToPath(new URL('../../../eval/project.json', import.meta.url));

function registry(): PluginRegistry {
  const r = new PluginRegistry();
  for (const p of builtinPlugins) r.register(p);
  return r;
}

function plan(name: string) {
  const raw = JSON.parse(readFileSync(join(CONFIGS, `${name}.json`), 'utf8'));
  const reg = registry();
  const { config, variants, tasks } = checkSweepConfig(raw, reg, `${name}.json`);
  return { config, variants, tasks, jobs: planJobs(config, variants, tasks, reg) };
}

describe('the shipped sweep configs', () => {
  it('default.json: the seed, three experts and btx, bam-full, bam-kv-shared × both budgets on the tiny preset, four mixture seeds for data-matched perplexity, against btx', () => {
    const { config, variants, tasks, jobs } = plan('default');
    expect(config.seeds).toEqual([0, 1, 2, 3]);
    expect(config.seedKind).toBe('mixture');
    expect(config.compare.baseline).toBe('btx');
    expect(config.plugins).toEqual([]);
    expect(variants.map((v) => [v.label, v.id])).toEqual([
      ['seed', 'dense'],
      ['code expert', 'dense'],
      ['law expert', 'dense'],
      ['math expert', 'dense'],
      ['btx', 'btx'],
      ['bam-full', 'bam-full'],
      ['bam-kv-shared', 'bam-kv-shared'],
    ]);
    for (const v of variants) expect((v.options as { preset: string }).preset).toBe('tiny');
    expect(variants.slice(0, 4).map((v) => (v.options as { model: string }).model)).toEqual(['seed', 'code', 'law', 'math']);
    const routing = ['routing-general', 'routing-code', 'routing-law', 'routing-math'];
    expect(tasks.map((t) => t.id)).toEqual([...builtinTasks.map((t) => t.id), ...routing]);
    for (const t of config.tasks) expect(t.variants).toEqual(routing.includes(t.id) ? ['btx', 'bam-full', 'bam-kv-shared'] : undefined);
    // 4 dense rows × 10 tasks under seed 0 only (every mixture seed shares them);
    // 3 mixtures data-matched × (5 perplexity tasks under four seeds + 5 downstream and 4 routing tasks under seed 0);
    // 3 mixtures compute-matched × 14 tasks under seed 0 only (so their prepares train them once).
    for (const v of config.variants) expect(v.seeds).toEqual(v.id === 'dense' ? [0] : { 'compute-matched': [0] });
    for (const t of config.tasks) expect(t.seeds).toEqual(t.id.startsWith('ppl-') ? undefined : [0]);
    expect(jobs).toHaveLength(4 * 10 + 3 * (5 * 4 + 9) + 3 * 14);
    expect(jobs.filter((j) => j.budget === 'compute-matched').every((j) => j.seed === 0)).toBe(true);
    expect(new Set(jobs.map((j) => j.key)).size).toBe(jobs.length);
    expect(jobs.filter((j) => j.taskId.startsWith('routing-')).every((j) => j.variantId !== 'dense')).toBe(true);
    expect(jobs.every((j) => j.seedKind === 'mixture')).toBe(true);
  });

  it('smoke.json: the seed, btx and bam-full × both budgets on the smoke preset, four small tasks', () => {
    const { variants, tasks, jobs } = plan('smoke');
    for (const v of variants) expect((v.options as { preset: string }).preset).toBe('smoke');
    expect(tasks.map((t) => t.id)).toEqual(['ppl-general', 'ppl-code', 'arithmetic', 'wordnet-cloze']);
    expect(jobs).toHaveLength(5 * 4);
  });

  it('paper.json: every recipe of Tables 1, 4/5 and 6 under both budgets, the equal-start variants, data-matched routing studies under seed 0, six mixture seeds for perplexity, against btx', () => {
    const { config, variants, tasks, jobs } = plan('paper');
    expect(config.seeds).toEqual([0, 1, 2, 3, 4, 5]);
    expect(config.seedKind).toBe('mixture');
    expect(config.budgets).toEqual(['data-matched', 'compute-matched']);
    expect(config.compare.baseline).toBe('btx');
    const tables = ['btx', 'bam-full', 'bam-kv-shared', 'btx-experts-M', 'btx-top3-6', 'bam-moa-top1', 'bam-moa-top2'];
    const equalStart = ['btx renormalised', 'bam-full renormalised'];
    const studies = ['bam-full router-lr-x10', 'bam-full load-balance-0.1', 'bam-full mixture-400'];
    expect(variants.map((v) => v.label)).toEqual(['seed', 'code expert', 'law expert', 'math expert', ...tables, ...equalStart, ...studies]);
    for (const v of variants) expect((v.options as { preset: string }).preset).toBe('paper');
    expect(variants.slice(11, 13).map((v) => (v.options as { start: string }).start)).toEqual(['renormalised', 'renormalised']);
    expect(variants.slice(13).map((v) => v.options as Record<string, unknown>)).toMatchObject([{ routerLrScale: 10 }, { loadBalance: 0.1 }, { mixtureSteps: 400 }]);
    for (const v of config.variants.slice(13)) expect([v.seeds, v.budgets]).toEqual([[0], ['data-matched']]);
    const ppl = ['ppl-general', 'ppl-code', 'ppl-law', 'ppl-math', 'ppl-ood'];
    expect(tasks.map((t) => t.id)).toEqual([...builtinTasks.map((t) => t.id), 'routing-general', 'routing-code', 'routing-law', 'routing-math']);
    for (const t of config.tasks) expect(t.seeds).toEqual(ppl.includes(t.id) ? undefined : [0]);
    // 4 dense rows × 10 tasks under seed 0; 9 mixtures × 2 budgets × (5 perplexity tasks × 6 seeds + 5 downstream + 4 routing under seed 0);
    // 3 studies × data-matched × seed 0 × 14 tasks.
    expect(jobs).toHaveLength(4 * 10 + 9 * 2 * (5 * 6 + 9) + 3 * 14);
    expect(new Set(jobs.map((j) => j.key)).size).toBe(jobs.length);
    expect(jobs.filter((j) => j.taskId.startsWith('routing-')).every((j) => j.variantId !== 'dense')).toBe(true);
  });

  it("the paper preset's mixture budgets follow the accounting: data-matched = steps · B · T tokens, compute-matched = btx's data-matched FLOPs within 1%", () => {
    const preset = loadUpcyclePreset('paper');
    const dense = presetModelConfig(preset);
    const n = preset.numExperts;
    const { batchSize: B, seqLen: T } = preset;
    const ref = recipeConfig('btx', dense, n);
    const { variants } = plan('paper');
    // The preset's recipes and every mixture variant of the sweep (its own options: start, routerLrScale, mixtureSteps, …).
    const entries = [
      ...recipeEntries(preset).map((e) => ({ label: e.name, id: e.id, options: e.options })),
      ...variants.filter((v) => v.id !== 'dense').map((v) => {
        const { preset: _p, ...options } = v.options as Record<string, unknown>;
        return { label: v.label, id: v.id === 'btx-experts' ? 'btx-experts-M' : v.id, options };
      }),
    ];
    expect(entries.length).toBe(7 + 12);
    for (const e of entries) {
      const config = recipeConfig(e.id, dense, n, e.options);
      const steps = (resolveRecipe(e.id, e.options).options.mixtureSteps as number | undefined) ?? preset.stages.mixture.steps;
      expect(steps).toBe(e.label === 'bam-full mixture-400' ? 400 : 200);
      const dm = planMixtureTraining({ budget: 'data-matched', config, referenceConfig: ref, steps, batchSize: B, seqLen: T });
      expect([dm.steps, dm.tokens]).toEqual([steps, steps * B * T]);
      const cm = planMixtureTraining({ budget: 'compute-matched', config, referenceConfig: ref, steps, batchSize: B, seqLen: T });
      // core's analytic count of what the run spends vs what btx spends on the data-matched tokens.
      const spent = trainingFlops(config, cm.tokens, T);
      const budget = trainingFlops(ref, steps * B * T, T);
      expect(spent).toBeLessThanOrEqual(budget * (1 + 1e-9));
      expect(Math.abs(spent - budget) / budget, e.label).toBeLessThan(0.01);
      // A variant that costs more per token than btx sees fewer tokens, one that costs the same sees the same.
      const perToken = trainingFlops(config, 1, T) / trainingFlops(ref, 1, T);
      if (perToken > 1 + 1e-9) expect(cm.tokens).toBeLessThan(dm.tokens);
      else expect(cm.tokens).toBe(dm.tokens);
    }
  });

  it('the eval:sweep Nx targets run these configs into results/<name>, resuming, with artifacts in the default ./artifacts', () => {
    const project = JSON.parse(readFileSync(PROJECT, 'utf8')) as {
      targets: { sweep: { options: { command: string; cwd: string }; configurations: { smoke: { command: string }; paper: { command: string } } } };
    };
    const { sweep } = project.targets;
    expect(sweep.options.cwd).toBe('{workspaceRoot}');
    expect(sweep.options.command).toBe('node packages/cli/bin/bam.mjs sweep --config packages/eval/configs/default.json --out results/default --resume');
    expect(sweep.configurations.smoke.command).toBe('node packages/cli/bin/bam.mjs sweep --config packages/eval/configs/smoke.json --out results/smoke --resume');
    expect(sweep.configurations.paper.command).toBe('node packages/cli/bin/bam.mjs sweep --config packages/eval/configs/paper.json --out results/paper --resume');
    for (const name of ['default', 'smoke', 'paper']) {
      const raw = JSON.parse(readFileSync(join(CONFIGS, `${name}.json`), 'utf8')) as Record<string, unknown>;
      // No artifactsDir: the CLI's default, ./artifacts in the workspace root (gitignored), shared by both.
      expect(raw.artifactsDir).toBeUndefined();
      expect(raw.outDir).toBeUndefined();
    }
    const ignore = readFileSync(fileURLToPath(new URL('../../../../.gitignore', import.meta.url)), 'utf8').split('\n');
    expect(ignore).toContain('/artifacts/');
    expect(ignore).toContain('/results/');
  });
});
