import { describe, expect, it } from 'vitest';
import { BamError, ConfigError } from '../../src/errors.ts';
import { loadPreset, parseModelConfig, presetNames } from '../../src/model/config.ts';
import { countParams } from '../../src/model/count.ts';

const base = { vocabSize: 64, dModel: 16, nHeads: 2, nLayers: 2, dFF: 32, maxSeqLen: 8 };

function issuesOf(json: unknown): { path: string; message: string }[] {
  try {
    parseModelConfig(json, 'test');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('model config', () => {
  it('fills every default and sets nKvHeads to nHeads when omitted', () => {
    const c = parseModelConfig(base);
    expect(c.nKvHeads).toBe(2);
    expect(c.block).toBe('parallel');
    expect(c.ropeBase).toBe(10000);
    expect(c.normEps).toBe(1e-6);
    expect(c.initStd).toBe(0.02);
    expect(c.tieEmbeddings).toBe(false);
    expect(c.attention).toEqual({ kind: 'dense' });
    expect(c.ffn).toEqual({ kind: 'dense' });
    expect(c.routing).toEqual({ shareAcrossLayers: false, tieAttentionToFfn: false, perExample: null });
    expect(c.aux).toEqual({ loadBalance: 0.01, zLoss: 0.001 });
  });

  it('fills the mixture router defaults (top-1, softmax before top-k; soft attention routing)', () => {
    const c = parseModelConfig({ ...base, ffn: { kind: 'moe', numExperts: 4 }, attention: { kind: 'moa', numExperts: 4, kvShared: true } });
    expect(c.ffn).toEqual({ kind: 'moe', numExperts: 4, router: { kind: 'topk', k: 1, normalize: 'before' } });
    expect(c.attention).toEqual({ kind: 'moa', numExperts: 4, kvShared: true, router: { kind: 'soft' } });
  });

  it('names nHeads when it does not divide dModel', () => {
    const issues = issuesOf({ ...base, nHeads: 3 });
    expect(issues).toEqual([{ path: 'nHeads', message: 'nHeads (3) must divide dModel (16)' }]);
  });

  it('rejects an odd head width because RoPE rotates pairs', () => {
    const issues = issuesOf({ ...base, dModel: 18, nHeads: 2 });
    expect(issues.map((i) => i.path)).toEqual(['nHeads']);
    expect(issues[0].message).toContain('= 9 must be even');
  });

  it('names nKvHeads when it does not divide nHeads', () => {
    const issues = issuesOf({ ...base, dModel: 24, nHeads: 3, nKvHeads: 2 });
    expect(issues.map((i) => i.path)).toEqual(['nKvHeads']);
  });

  it('fails on a misspelt key and names it', () => {
    const issues = issuesOf({ ...base, nHead: 2 });
    expect(issues).toHaveLength(1);
    expect(issues[0].message).toContain('nHead');
  });

  it('fails on a misspelt key inside a nested object', () => {
    const issues = issuesOf({ ...base, aux: { loadBalance: 0.01, zloss: 0.1 } });
    expect(issues[0].path).toBe('aux');
    expect(issues[0].message).toContain('zloss');
  });

  it('names ffn.router.k when top-k exceeds the number of experts', () => {
    const issues = issuesOf({ ...base, ffn: { kind: 'moe', numExperts: 2, router: { kind: 'topk', k: 3 } } });
    expect(issues).toEqual([{ path: 'ffn.router.k', message: 'k (3) must be <= ffn.numExperts (2)' }]);
  });

  it('names attention.router.k when top-k exceeds the number of attention experts', () => {
    const issues = issuesOf({ ...base, attention: { kind: 'moa', numExperts: 2, kvShared: false, router: { kind: 'topk', k: 4 } } });
    expect(issues.map((i) => i.path)).toEqual(['attention.router.k']);
  });

  it('rejects an unknown discriminant with its path', () => {
    const issues = issuesOf({ ...base, ffn: { kind: 'sparse' } });
    expect(issues[0].path).toBe('ffn.kind');
  });

  it('rejects tying attention routing to the FFN router unless both are mixtures with equal expert counts', () => {
    expect(issuesOf({ ...base, routing: { tieAttentionToFfn: true } }).map((i) => i.path)).toEqual(['routing.tieAttentionToFfn']);
    const unequal = issuesOf({
      ...base,
      ffn: { kind: 'moe', numExperts: 4 },
      attention: { kind: 'moa', numExperts: 2, kvShared: false },
      routing: { tieAttentionToFfn: true },
    });
    expect(unequal[0].message).toContain('attention.numExperts (2) == ffn.numExperts (4)');
  });

  it('lists every bad field at once, with the source in the message', () => {
    try {
      parseModelConfig({ ...base, vocabSize: 0, nLayers: 1.5 }, 'my.json');
      throw new Error('expected a ConfigError');
    } catch (err) {
      const e = err as ConfigError;
      expect(e.issues.map((i) => i.path).sort()).toEqual(['nLayers', 'vocabSize']);
      expect(e.message).toContain('model config (my.json)');
      expect(e.code).toBe('E_CONFIG');
    }
  });
});

describe('model presets', () => {
  it('has the five built-in presets and they all parse', () => {
    expect(presetNames()).toEqual(['paper-large', 'paper-small', 'small', 'smoke', 'tiny']);
    for (const name of presetNames()) expect(loadPreset(name).dModel).toBeGreaterThan(0);
  });

  it('matches the paper-small seed of Table 8 and its 587,209,728 parameters (Table 9)', () => {
    const c = loadPreset('paper-small');
    expect([c.dModel, c.dFF * 2, c.nHeads, c.nKvHeads, c.nLayers, c.vocabSize, c.tieEmbeddings]).toEqual([1024, 4096, 8, 8, 6, 256000, false]);
    expect(countParams(c)).toEqual({ total: 587_209_728, active: 587_209_728 });
  });

  it('matches the paper-large seed of Table 8 (18/6 heads, tied, about 2B parameters)', () => {
    const c = loadPreset('paper-large');
    expect([c.dModel, c.dFF * 2, c.nHeads, c.nKvHeads, c.nLayers, c.vocabSize, c.tieEmbeddings]).toEqual([2304, 18432, 18, 6, 18, 256000, true]);
    expect(countParams(c).total).toBe(1_991_289_600);
  });

  it('reproduces the total parameter counts of Table 9 for BTX, BAM expert-KV and BAM KV-shared', () => {
    const btx = loadPreset('paper-small', { ffn: { kind: 'moe', numExperts: 4 } });
    expect(countParams(btx)).toEqual({ total: 700_480_512, active: 587_234_304 });
    const bamFull = loadPreset('paper-small', { ffn: { kind: 'moe', numExperts: 4 }, attention: { kind: 'moa', numExperts: 4, kvShared: false } });
    expect(countParams(bamFull).total).toBe(776_002_560);
    const bamKv = loadPreset('paper-small', { ffn: { kind: 'moe', numExperts: 4 }, attention: { kind: 'moa', numExperts: 4, kvShared: true } });
    expect(countParams(bamKv).total).toBe(738_253_824);
  });

  it('fails on an unknown preset and lists the known ones', () => {
    expect(() => loadPreset('huge')).toThrow(BamError);
    expect(() => loadPreset('huge')).toThrow(/known presets: paper-large, paper-small, small, smoke, tiny/);
  });
});
