import { describe, expect, it } from 'vitest';
import { loadPreset, paramSpecs, parseModelConfig, type ModelConfig } from '../../src/model/index.ts';
import { countParams, forwardFlops, layerFlops, paramCounts, trainingFlops } from '../../src/model/count.ts';
import { VARIANTS, variantConfig, type Variant } from './variants.ts';

const small = loadPreset('paper-small');
const as = (v: Variant, opts: { experts?: number; topK?: number } = {}, base: ModelConfig = small) =>
  parseModelConfig(variantConfig(base, v, opts), `paper-small as ${v}`);

describe("FLOPs per token per layer (the paper's Table 7, small dims, context 256)", () => {
  it('reproduces BAM with expert KV: attention 35,651,584, FFN 12,589,056, total 48,257,024', () => {
    expect(layerFlops(as('bam-full'))).toEqual({ attention: 35_651_584, ffn: 12_589_056, routers: 16_384, total: 48_257_024 });
  });

  it('reproduces BTX top-1 with 4 experts: attention 8,912,896, FFN 12,589,056, total 21,510,144', () => {
    expect(layerFlops(as('btx'))).toEqual({ attention: 8_912_896, ffn: 12_589_056, routers: 8_192, total: 21_510_144 });
  });

  it('reproduces BTX top-3 with 6 experts: FFN 37,767,168, total 46,692,352, by preset or by flags', () => {
    const want = { attention: 8_912_896, ffn: 37_767_168, routers: 12_288, total: 46_692_352 };
    expect(layerFlops(as('btx-top3-6'))).toEqual(want);
    expect(layerFlops(as('btx', { experts: 6, topK: 3 }))).toEqual(want);
  });

  it('follows the documented formulas (Table 10) for every variant', () => {
    const d = 1024;
    const n = 256;
    const dff = 2 * small.dFF; // the paper's "FFN dimension" (gate + up)
    const expert = 6 * d * d + 2 * n * d + 2 * d * d;
    const ffn = 3 * d * dff + 1.5 * dff;
    expect(layerFlops(as('dense'))).toEqual({ attention: expert, ffn, routers: 0, total: expert + ffn });
    // KV-shared: Q, scores and O per expert; K and V projected once.
    const shared = 4 * (2 * d * d + 2 * n * d + 2 * d * d) + 4 * d * d;
    expect(layerFlops(as('bam-kv-shared')).attention).toBe(shared);
    expect(shared).toBe(23_068_672);
    // A longer context only grows the score term: 2·N·Δn·d.
    expect(layerFlops(as('bam-full'), 512).attention - layerFlops(as('bam-full'), 256).attention).toBe(4 * 2 * 256 * d);
  });

  it('uses the key/value width for grouped-query attention (paper-large: 18 heads, 6 KV heads)', () => {
    const large = loadPreset('paper-large');
    const d = large.dModel;
    const kvDim = (large.nKvHeads / large.nHeads) * d;
    const n = large.maxSeqLen;
    expect(layerFlops(large).attention).toBe(2 * d * d + 4 * d * kvDim + 2 * n * d + 2 * d * d);
  });

  it('counts top-k attention as k experts of Q, scores and O plus every expert K and V', () => {
    const d = 1024;
    const n = 256;
    const c = parseModelConfig({ ...variantConfig(small, 'bam-full'), attention: { kind: 'moa', numExperts: 4, kvShared: false, router: { kind: 'topk', k: 2 } } });
    expect(layerFlops(c).attention).toBe(2 * (2 * d * d + 2 * n * d + 2 * d * d) + 4 * 4 * d * d);
  });

  it('drops the attention router when attention is tied to the FFN router, and counts hash routing as free', () => {
    const tied = parseModelConfig({ ...variantConfig(small, 'bam-full'), routing: { tieAttentionToFfn: true } });
    expect(layerFlops(tied).routers).toBe(2 * 4 * 1024);
    const hash = parseModelConfig({ ...variantConfig(small, 'btx'), ffn: { kind: 'moe', numExperts: 4, router: { kind: 'hash' } } });
    expect(layerFlops(hash).routers).toBe(0);
    expect(layerFlops(hash).ffn).toBe(12_589_056);
  });

  it('adds the LM head once for the whole model', () => {
    const f = forwardFlops(as('btx'));
    expect(f.lmHead).toBe(2 * 1024 * 256_000);
    expect(f.perToken).toBe(6 * 21_510_144 + 2 * 1024 * 256_000);
  });

  it('runs a router shared across layers in every layer but stores it once, and scales per-example routing by 1/n', () => {
    const d = 1024;
    const shared = parseModelConfig({ ...variantConfig(small, 'bam-full'), routing: { shareAcrossLayers: true } });
    expect(layerFlops(shared)).toEqual(layerFlops(as('bam-full')));
    expect(paramCounts(shared).routers).toBe(2 * 4 * d);
    expect(paramCounts(as('bam-full')).routers).toBe(6 * 2 * 4 * d);
    const perExample = parseModelConfig({ ...variantConfig(small, 'btx'), routing: { perExample: { prefixTokens: 16 } } });
    expect(layerFlops(perExample).routers).toBe((2 * 4 * d) / 256);
  });
});

describe("parameter counts (the paper's Table 9, small scale)", () => {
  const L = 6;
  const d = 1024;

  it('matches the dense seed, 587,209,728 (scale-only norms: 6 layer norms + the final norm)', () => {
    expect(paramCounts(small)).toMatchObject({ total: 587_209_728, active: 587_209_728, norms: 7 * d });
  });

  it('matches BTX top-1 with 4 experts: total 700,480,512, active 587,234,304', () => {
    expect(paramCounts(as('btx'))).toMatchObject({ total: 700_480_512, active: 587_234_304 });
  });

  it('matches the totals of BAM expert KV (776,002,560) and KV shared (738,253,824)', () => {
    expect(paramCounts(as('bam-full')).total).toBe(776_002_560);
    expect(paramCounts(as('bam-kv-shared')).total).toBe(738_253_824);
  });

  it('matches BTX top-3 with 6 experts to the table\'s "~776M" total', () => {
    expect(Math.abs(paramCounts(as('btx-top3-6')).total - 776e6) / 776e6).toBeLessThan(1e-3);
  });

  it("differs from the table's active counts only by the parts the paper leaves out", () => {
    // BAM expert KV: the paper counts one of the two routers per layer as active.
    expect(paramCounts(as('bam-full')).active).toBe(662_731_776 + L * d * 4);
    // BAM KV shared: the paper leaves out the shared Wk, Wv (2·d²) and one router per layer.
    expect(paramCounts(as('bam-kv-shared')).active).toBe(612_400_128 + L * (2 * d * d + d * 4));
    // BTX top-3 of 6: the paper's router has 4 columns (its BAM active count); ours has 6.
    expect(paramCounts(as('btx-top3-6')).active).toBe(662_731_776 + L * d * 2);
  });

  it('agrees with the model parameter specs and countParams for every mixture shape', () => {
    const tiny = loadPreset('tiny');
    const configs: ModelConfig[] = [
      ...VARIANTS.map((v) => as(v, {}, tiny)),
      parseModelConfig({ ...variantConfig(tiny, 'bam-kv-shared'), nKvHeads: 2, tieEmbeddings: true, block: 'sequential' }),
      parseModelConfig({ ...variantConfig(tiny, 'bam-full'), routing: { shareAcrossLayers: true } }),
      parseModelConfig({ ...variantConfig(tiny, 'bam-full'), routing: { tieAttentionToFfn: true } }),
      parseModelConfig({ ...variantConfig(tiny, 'bam-kv-shared'), attention: { kind: 'moa', numExperts: 4, kvShared: true, router: { kind: 'topk', k: 2 } } }),
      parseModelConfig({ ...variantConfig(tiny, 'btx'), ffn: { kind: 'moe', numExperts: 4, router: { kind: 'expert-choice', capacityFactor: 2 } } }),
      parseModelConfig({ ...variantConfig(tiny, 'btx'), ffn: { kind: 'moe', numExperts: 4, router: { kind: 'hash' } } }),
    ];
    for (const c of configs) {
      const ours = paramCounts(c);
      const specTotal = paramSpecs(c).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
      expect(ours.total).toBe(specTotal);
      expect(ours).toMatchObject(countParams(c));
    }
  });
});

describe('training FLOPs', () => {
  it('counts training as three forward passes per token', () => {
    const c = as('bam-full');
    expect(trainingFlops(c, 1000)).toBe(3 * 1000 * forwardFlops(c).perToken);
    expect(() => trainingFlops(c, -1)).toThrow(/tokens/);
  });
});
