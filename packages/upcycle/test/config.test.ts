import { readdirSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@bam/core';
import { loadUpcyclePreset, parseUpcyclePreset, presetModelConfig, presetTokenizer, recipeEntries, upcycle, upcyclePresetNames } from '../src/index.ts';
import { microPreset, tempDir } from './helpers.ts';

describe('upcycle presets', () => {
  it('ships smoke, tiny, paper and small, each valid with N = 3 domains + the seed', () => {
    expect(upcyclePresetNames()).toEqual(['paper', 'small', 'smoke', 'tiny']);
    for (const name of upcyclePresetNames()) {
      const p = loadUpcyclePreset(name);
      expect(p.numExperts).toBe(4);
      expect(p.domains).toEqual(['code', 'law', 'math']);
      expect(p.budgets).toEqual(['data-matched', 'compute-matched']);
      const all = ['btx', 'bam-full', 'bam-kv-shared', 'btx-experts-M', 'btx-top3-6', 'bam-moa-top1', 'bam-moa-top2', 'sparse-upcycle'];
      // tiny is what the main job builds: only the recipes its sweep evaluates; paper: Tables 1, 4/5 and 6 (no sparse upcycling).
      expect(recipeEntries(p).map((e) => e.id)).toEqual(name === 'tiny' ? all.slice(0, 3) : name === 'paper' ? all.slice(0, 7) : all);
      expect(p.seqLen).toBeLessThanOrEqual(presetModelConfig(p).maxSeqLen);
    }
    const tiny = loadUpcyclePreset('tiny');
    expect(presetTokenizer(tiny).id).toBe('gpt2-trunc-4096');
    expect(presetTokenizer(loadUpcyclePreset('smoke')).id).toBe('byte-256');
  });

  it('fills the defaults: 10% general, CPT at half the seed LR, no mixture seed', () => {
    const p = parseUpcyclePreset(microPreset());
    expect(p).toMatchObject({ generalShare: 0.1, weightDecay: 0.1, clipNorm: 1, seed: 0, mixtureSeed: null, reference: 'btx', numExperts: 4 });
    expect(p.stages.experts).toEqual({ steps: 2, lrRatio: 0.5, warmup: 0 });
    expect(p.stages.seed.lr).toEqual({ peak: 0.003, warmup: 1, minRatio: 0.1 });
  });

  it('rejects a misspelt key, a wrong N, repeated names and a bad budget, naming each field', () => {
    const bad = { ...microPreset(), numExperts: 3, recipes: ['btx', 'btx'], budgets: ['flops-matched'], batchsize: 4 };
    try {
      parseUpcyclePreset(bad, 'bad.json');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const paths = (err as ConfigError).issues.map((i) => i.path);
      expect(paths).toContain('budgets.0');
      expect((err as ConfigError).message).toMatch(/upcycle preset \(bad.json\)/);
      expect((err as ConfigError).message).toMatch(/batchsize/);
    }
    const cross = { ...microPreset(), numExperts: 3, recipes: ['btx', { id: 'btx', options: {} }] };
    expect(() => parseUpcyclePreset(cross)).toThrow(/numExperts \(3\) must be the number of domains \(3: code, law, math\) \+ 1[\s\S]*recipe name 'btx' appears twice/);
  });

  it('names the problem with the model: unknown preset, or seqLen past maxSeqLen', () => {
    expect(() => presetModelConfig(parseUpcyclePreset({ ...microPreset(), model: 'huge' }))).toThrow(/unknown model preset 'huge'[\s\S]*smoke, tiny|names unknown model preset 'huge'/);
    expect(() => presetModelConfig(parseUpcyclePreset({ ...microPreset(), seqLen: 64 }))).toThrow(/seqLen 64 exceeds model 'smoke' maxSeqLen 16/);
    expect(() => loadUpcyclePreset('medium')).toThrow(/unknown upcycle preset 'medium'[\s\S]*paper, small, smoke, tiny/);
  });

  it('seeds every router by mixtureSeed unless a recipe sets its own', () => {
    const p = parseUpcyclePreset({ ...microPreset(), mixtureSeed: 3, recipes: ['btx', { id: 'bam-full', options: { routerInit: { seed: 9 } } }] });
    expect(recipeEntries(p).map((e) => e.options)).toEqual([{ routerInit: { seed: 3 } }, { routerInit: { seed: 9 } }]);
  });
});

describe('upcycle options', () => {
  it('refuse an unknown budget or a recipe asked for twice before training anything', async () => {
    const dir = tempDir('options');
    await expect(upcycle(microPreset(), { artifactsDir: dir, budgets: ['flops-matched' as never] })).rejects.toThrow(/unknown budget 'flops-matched'[\s\S]*data-matched or compute-matched/);
    await expect(upcycle(microPreset(), { artifactsDir: dir, recipes: ['btx', 'btx'] })).rejects.toThrow(/recipe 'btx' is asked for twice/);
    expect(readdirSync(dir)).toEqual([]);
    rmSync(dir, { recursive: true });
  });
});
