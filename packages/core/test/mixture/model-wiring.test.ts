import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  computeLoss,
  createModel,
  disposeModel,
  forward,
  isExpertKey,
  modelFromTensors,
  paramName,
  parseModelConfig,
  parseParamName,
  type BamModel,
  type ModelConfig,
  type ModelConfigInput,
} from '../../src/model/index.ts';
import { readRoutingStats } from '../../src/mixture/index.ts';
import { variantConfig } from '../model/variants.ts';
import { maxAbs, maxAbsDiff, useWasm } from './helpers.ts';

// Tiny dense model: V=64, D=16, H=2, L=2, F=32, T=8.
const DENSE: ModelConfigInput = { vocabSize: 64, dModel: 16, nHeads: 2, nLayers: 2, dFF: 32, maxSeqLen: 8 };
const B = 2;
const T = 8;
const E = 4;

let dense: BamModel;
let inputs: tf.Tensor2D;
let targets: tf.Tensor2D;
const models: BamModel[] = [];

beforeAll(async () => {
  await useWasm();
  dense = createModel(parseModelConfig(DENSE), 1);
  const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 29 + 3) % 64);
  inputs = tf.tensor2d(ids, [B, T], 'int32');
  targets = tf.tensor2d(ids.map((x) => (x + 1) % 64), [B, T], 'int32');
});

afterAll(() => {
  for (const m of [dense, ...models]) disposeModel(m);
  tf.dispose([inputs, targets]);
});

/** The dense name a mixture parameter copies from when every expert is the dense model. */
function denseNameOf(name: string): string | null {
  const key = parseParamName(name);
  if (isExpertKey(key)) return paramName({ ...key, expert: undefined });
  return dense.params.has(name) ? name : null; // routers keep their fresh init
}

/** A mixture of E copies of the dense model (routers randomly initialised). */
function upcycle(input: ModelConfigInput): BamModel {
  const config = parseModelConfig(input);
  const fresh = createModel(config, 7);
  const tensors = new Map<string, tf.Tensor>();
  for (const [name, v] of fresh.params) {
    const src = denseNameOf(name);
    tensors.set(name, src ? dense.params.get(src)! : v);
  }
  const m = modelFromTensors(config, tensors);
  disposeModel(fresh);
  models.push(m);
  return m;
}

const mix = (variant: 'btx' | 'bam-full' | 'bam-kv-shared', router: object, extra: Partial<ModelConfigInput> = {}): ModelConfigInput => {
  const c = variantConfig(DENSE, variant, { experts: E }) as ModelConfigInput;
  return { ...c, ffn: { kind: 'moe', numExperts: E, router }, ...extra } as ModelConfigInput;
};

describe('mixture layers wired into the model', () => {
  for (const variant of ['btx', 'bam-full', 'bam-kv-shared'] as const) {
    for (const k of [1, 2]) {
      it(`reproduce the dense logits for ${variant} of identical experts with renormalised top-${k}`, () => {
        const m = upcycle(mix(variant, { kind: 'topk', k, normalize: 'after' }));
        const before = tf.memory().numTensors;
        const a = forward(dense, inputs);
        const b = forward(m, inputs);
        expect(maxAbsDiff(a.logits, b.logits)).toBeLessThan(1e-5);
        // The router losses are real numbers, not the dense zeros.
        expect(b.aux.zLoss.dataSync()[0]).toBeGreaterThan(0);
        expect(b.aux.loadBalance.dataSync()[0]).toBeGreaterThan(0);
        tf.dispose([a.logits, a.aux.loadBalance, a.aux.zLoss, b.logits, b.aux.loadBalance, b.aux.zLoss]);
        expect(tf.memory().numTensors).toBe(before);
      });
    }
  }

  it("differs from the dense logits under the paper's un-renormalised top-1", () => {
    const m = upcycle(mix('btx', { kind: 'topk', k: 1, normalize: 'before' }));
    const a = forward(dense, inputs);
    const b = forward(m, inputs);
    expect(maxAbsDiff(a.logits, b.logits)).toBeGreaterThan(1e-4);
    tf.dispose([a.logits, a.aux.loadBalance, a.aux.zLoss, b.logits, b.aux.loadBalance, b.aux.zLoss]);
  });

  const trainable: Array<[string, ModelConfigInput, string[]]> = [
    ['BAM-full, top-1 FFN', mix('bam-full', { kind: 'topk', k: 1, normalize: 'before' }), ['layers.0.ffn.router', 'layers.1.attn.router', 'layers.0.attn.experts.3.wk']],
    ['BAM-KV-shared, top-2 attention', mix('bam-kv-shared', { kind: 'topk', k: 2, normalize: 'after' }, { attention: { kind: 'moa', numExperts: E, kvShared: true, router: { kind: 'topk', k: 2 } } }), ['layers.0.attn.wk', 'layers.1.attn.router']],
    ['expert-choice FFN, sequential blocks', mix('btx', { kind: 'expert-choice', capacityFactor: 1 }, { block: 'sequential' }), ['layers.0.ffn.router']],
    ['hash FFN', mix('btx', { kind: 'hash' }), ['layers.1.ffn.experts.0.w_up']],
    ['shared routers', mix('bam-full', { kind: 'topk', k: 1, normalize: 'before' }, { routing: { shareAcrossLayers: true } }), ['routers.ffn', 'routers.attn']],
    ['attention tied to the FFN router', mix('bam-full', { kind: 'topk', k: 2, normalize: 'after' }, { routing: { tieAttentionToFfn: true } }), ['layers.0.ffn.router']],
    ['per-example routing', mix('bam-kv-shared', { kind: 'topk', k: 1, normalize: 'before' }, { routing: { perExample: { prefixTokens: 4 } } }), ['layers.0.ffn.router', 'layers.0.attn.router']],
  ];
  for (const [name, config, routed] of trainable) {
    it(`train: ${name} gives finite losses and nonzero gradients to its routers without leaking`, () => {
      const m = upcycle(config);
      const before = tf.memory().numTensors;
      let parts: number[] = [];
      const vars = [...m.params.values()];
      const { value, grads } = tf.variableGrads(() => {
        const r = computeLoss(m, inputs, targets);
        parts = [r.nll.dataSync()[0], r.loadBalance.dataSync()[0], r.zLoss.dataSync()[0]];
        return r.loss;
      }, vars);
      expect(parts.every(Number.isFinite)).toBe(true);
      expect(parts[0]).toBeGreaterThan(0);
      const byName = new Map([...m.params].map(([n, v]) => [n, grads[v.name]]));
      for (const n of routed) {
        expect(byName.get(n), n).toBeDefined();
        expect(maxAbs(byName.get(n)!), n).toBeGreaterThan(0);
      }
      tf.dispose([value, ...Object.values(grads)]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('returns routing statistics per layer when asked', async () => {
    const m = upcycle(mix('bam-full', { kind: 'topk', k: 1, normalize: 'before' }));
    const r = forward(m, inputs, { collectStats: true });
    const stats = await readRoutingStats(r.stats!);
    expect(stats.map((s) => s.layer)).toEqual([0, 1]);
    for (const s of stats) {
      expect(s.tokens).toBe(B * T);
      expect(s.ffn!.tokenFraction.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      expect(s.attn!.meanWeight.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(s.ffn!.entropyRatio).toBeGreaterThan(0);
      expect(s.ffn!.entropyRatio).toBeLessThanOrEqual(1);
      expect(s.agreement).toBeGreaterThanOrEqual(0);
    }
    tf.dispose([r.logits, r.aux.loadBalance, r.aux.zLoss, ...Object.values(r.stats!)]);
  });

  it('refuses to tie attention to a hash FFN router, naming the fix', () => {
    expect(() => parseModelConfig(mix('bam-full', { kind: 'hash' }, { routing: { tieAttentionToFfn: true } }))).toThrow(
      /tieAttentionToFfn: needs an FFN router with weights/,
    );
  });
});
