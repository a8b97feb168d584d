import { describe, expect, it } from 'vitest';
import { parseModelConfig, type ModelConfig } from '../../src/model/config.ts';
import { paramSpecs } from '../../src/model/params.ts';
import { isExpertKey, paramName, parseParamName, type ParamKey } from '../../src/model/param-names.ts';
import { variantConfig } from './variants.ts';

const TINY = { vocabSize: 64, dModel: 16, nHeads: 2, nLayers: 2, dFF: 32, maxSeqLen: 8 };
const tiny = (v: 'dense' | 'btx' | 'bam-full' | 'bam-kv-shared', extra: object = {}): ModelConfig =>
  parseModelConfig({ ...variantConfig(TINY, v), ...extra }, `tiny ${v}`);

describe('tensor names as structured keys', () => {
  const configs: Array<[string, ModelConfig]> = [
    ['dense', tiny('dense')],
    ['btx', tiny('btx')],
    ['bam-full', tiny('bam-full')],
    ['bam-kv-shared', tiny('bam-kv-shared')],
    ['sequential, untied bam-full with routers shared across layers', tiny('bam-full', { block: 'sequential', routing: { shareAcrossLayers: true } })],
  ];
  for (const [label, config] of configs) {
    it(`round-trips every parameter name of a tiny ${label} model through parse and format`, () => {
      const names = paramSpecs(config).map((s) => s.name);
      for (const name of names) expect(paramName(parseParamName(name))).toBe(name);
      // Distinct names parse to distinct keys.
      expect(new Set(names.map((n) => JSON.stringify(parseParamName(n)))).size).toBe(names.length);
    });
  }

  it('formats each kind of key to the checkpoint name of docs/internals.md', () => {
    const cases: Array<[ParamKey, string]> = [
      [{ part: 'embed' }, 'embed.weight'],
      [{ part: 'final_norm' }, 'final_norm.scale'],
      [{ part: 'lm_head' }, 'lm_head.weight'],
      [{ part: 'norm', layer: 0, weight: 'norm' }, 'layers.0.norm.scale'],
      [{ part: 'norm', layer: 1, weight: 'norm2' }, 'layers.1.norm2.scale'],
      [{ part: 'attn', layer: 3, weight: 'wk' }, 'layers.3.attn.wk'],
      [{ part: 'attn', layer: 1, expert: 2, weight: 'wo' }, 'layers.1.attn.experts.2.wo'],
      [{ part: 'ffn', layer: 0, weight: 'w_gate' }, 'layers.0.ffn.w_gate'],
      [{ part: 'ffn', layer: 10, expert: 11, weight: 'w_down' }, 'layers.10.ffn.experts.11.w_down'],
      [{ part: 'router', layer: 1, of: 'attn' }, 'layers.1.attn.router'],
      [{ part: 'router', of: 'ffn' }, 'routers.ffn'],
    ];
    for (const [key, name] of cases) {
      expect(paramName(key)).toBe(name);
      expect(parseParamName(name)).toEqual(key);
    }
  });

  it('tells the experts’ own weights from shared ones', () => {
    const bam = paramSpecs(tiny('bam-kv-shared')).map((s) => s.name);
    const experts = bam.filter((n) => isExpertKey(parseParamName(n)));
    // 2 layers × 4 experts × (Wq, Wo + 3 FFN weights); the shared Wk, Wv and the routers are not experts'.
    expect(experts).toHaveLength(2 * 4 * 5);
    expect(experts).toContain('layers.1.attn.experts.3.wq');
    expect(experts).not.toContain('layers.1.attn.wk');
    expect(experts).not.toContain('layers.1.ffn.router');
  });

  it('rejects a name that is not a bam parameter with a clear error', () => {
    for (const bad of ['layers.0.attn.wx', 'layers.0.ffn.experts.1.wq', 'layers.01.attn.wq', 'layers.0.attn.experts.-1.wq', 'routers.moe', 'embed', 'model.embed_tokens.weight', '']) {
      expect(() => parseParamName(bad), bad).toThrow(expect.objectContaining({ code: 'E_PARAM_NAME', message: expect.stringContaining(`'${bad}' is not a bam parameter name`) }));
    }
  });
});
