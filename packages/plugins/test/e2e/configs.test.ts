import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PluginRegistry, checkSweepConfig, planJobs } from '@bam/eval';
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
  it('default.json: the seed, three experts and btx, bam-full, bam-kv-shared × both budgets on the tiny preset, four mixture seeds for perplexity, against btx', () => {
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
    // 4 dense rows × 10 tasks under seed 0 only (every mixture seed shares them), and
    // 3 mixtures × 2 budgets × (5 perplexity tasks under four seeds + 5 downstream and 4 routing tasks under seed 0)
    for (const v of config.variants) expect(v.seeds).toEqual(v.id === 'dense' ? [0] : undefined);
    for (const t of config.tasks) expect(t.seeds).toEqual(t.id.startsWith('ppl-') ? undefined : [0]);
    expect(jobs).toHaveLength(4 * 10 + 6 * (5 * 4 + 9));
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

  it('the eval:sweep Nx targets run these configs into results/<name>, resuming, with artifacts in the default ./artifacts', () => {
    const project = JSON.parse(readFileSync(PROJECT, 'utf8')) as {
      targets: { sweep: { options: { command: string; cwd: string }; configurations: { smoke: { command: string } } } };
    };
    const { sweep } = project.targets;
    expect(sweep.options.cwd).toBe('{workspaceRoot}');
    expect(sweep.options.command).toBe('node packages/cli/bin/bam.mjs sweep --config packages/eval/configs/default.json --out results/default --resume');
    expect(sweep.configurations.smoke.command).toBe('node packages/cli/bin/bam.mjs sweep --config packages/eval/configs/smoke.json --out results/smoke --resume');
    for (const name of ['default', 'smoke']) {
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
