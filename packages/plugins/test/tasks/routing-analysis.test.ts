import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenizer, disposeModel, type BamModel } from '@bam/core';
import {
  aggregateScores,
  buildReport,
  evaluateTask,
  parseRoutingMetric,
  routingMetricName,
  runSweep,
  silentLogger,
  type LanguageModel,
  type RoutingStatsResult,
} from '@bam/eval';
import { coreLanguageModel, routingTasks, scoreRouting } from '../../src/index.ts';
import { A, ATTN_P, B, E, FFN_P, PREFIX, TEXTS, handRoutedModel, routingHandTask } from './fixtures/hand-routed.ts';

const WORK = mkdtempSync(join(tmpdir(), 'bam-routing-analysis-'));
afterAll(() => rmSync(WORK, { recursive: true, force: true }));

const bytes = createTokenizer({ kind: 'byte' });
const ctx = { artifactsDir: WORK, seed: 0, logger: silentLogger };
const H = (p: number[]): number => -p.reduce((s, q) => s + q * Math.log(q), 0);
const argmax = (p: number[]): number => p.indexOf(Math.max(...p));

/** The routing of `text` computed by hand from the router tables: every token read, the prefix first. */
function byHand(text: string) {
  const toks = [PREFIX, ...[...text].map((c) => c.charCodeAt(0))];
  const N = toks.length;
  const ffnTop = toks.map((t) => argmax(FFN_P[t]));
  const attnTop = toks.map((t) => argmax(ATTN_P[t]));
  const topShare = [0, 1, 2, 3].map((e) => ffnTop.filter((x) => x === e).length / N);
  const meanGate = [0, 1, 2, 3].map((e) => {
    const gates = toks.filter((t) => argmax(FFN_P[t]) === e).map((t) => Math.max(...FFN_P[t]));
    return gates.length ? gates.reduce((a, b) => a + b, 0) / gates.length : 0;
  });
  const meanWeight = [0, 1, 2, 3].map((e) => toks.reduce((a, t) => a + ATTN_P[t][e], 0) / N);
  const ffnEntropy = toks.reduce((a, t) => a + H(FFN_P[t]), 0) / N;
  const attnEntropy = toks.reduce((a, t) => a + H(ATTN_P[t]), 0) / N;
  const agreement = ffnTop.filter((e, i) => e === attnTop[i]).length / N;
  return { N, ffnTop, attnTop, topShare, meanGate, meanWeight, ffnEntropy, attnEntropy, agreement };
}

function close(actual: number[], expected: number[], digits = 5): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => expect(a).toBeCloseTo(expected[i], digits));
}

let bam: BamModel;
let btx: BamModel;
let dense: BamModel;
beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  bam = handRoutedModel('bam');
  btx = handRoutedModel('btx');
  dense = handRoutedModel('dense');
});
afterAll(() => [bam, btx, dense].forEach(disposeModel));

const lm = (m: BamModel): LanguageModel => coreLanguageModel({ model: m, tokenizer: bytes, name: 'hand' });

describe('routing statistics through the LanguageModel (hand-set routers)', () => {
  it('gives the hand-computed shares, weights, gates, entropies and agreement of "aab"', async () => {
    const before = tf.memory().numTensors;
    const [r] = await lm(bam).routingStats!([{ text: 'aab' }]);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.tokens).toBe(4);
    expect(r.layers.map((l) => l.layer)).toEqual([0]);
    const l0 = r.layers[0];
    // Tokens [\n, a, a, b]: FFN top-1 experts 3, 0, 0, 2; attention top experts 0, 1, 1, 2.
    expect(l0.ffn!.topExpert).toEqual([3, 0, 0, 2]);
    expect(l0.attn!.topExpert).toEqual([0, 1, 1, 2]);
    close(l0.ffn!.topShare, [0.5, 0, 0.25, 0.25]);
    close(l0.ffn!.load, [0.5, 0, 0.25, 0.25]);
    close(l0.ffn!.meanGate, [0.7, 0, 0.4, 0.4]);
    close(l0.attn!.meanWeight, [0.1625, 0.3875, 0.35, 0.1]);
    expect(l0.agreement).toBe(0.25);
    // H(.1,.2,.3,.4) = 1.279854, H(.7,.1,.1,.1) = 0.940448, H(.25,.25,.4,.1) = 1.289922 (nats)
    const ffnH = (1.279854 + 2 * 0.940448 + 1.289922) / 4;
    expect(l0.ffn!.entropy).toBeCloseTo(ffnH, 5);
    expect(l0.ffn!.entropyRatio).toBeCloseTo(ffnH / Math.log(4), 5);
    const want = byHand('aab');
    expect(l0.attn!.entropy).toBeCloseTo(want.attnEntropy, 5);
    expect(l0.attn!.entropyRatio).toBeCloseTo(want.attnEntropy / Math.log(4), 5);
  });

  it('combines the chunks of a text longer than the model reads at once, token-weighted', async () => {
    // "aaaaabbbbb" + the prefix = 11 tokens > maxSeqLen 8: chunks of 8 and 3 tokens. Layer 0 routes
    // each token by its own embedding, so the combined numbers are the per-token averages.
    const [r] = await lm(bam).routingStats!([{ text: TEXTS[2] }]);
    const want = byHand(TEXTS[2]);
    expect(r.tokens).toBe(11);
    const l0 = r.layers[0];
    expect(l0.ffn!.topExpert).toEqual(want.ffnTop);
    close(l0.ffn!.topShare, [5 / 11, 0, 5 / 11, 1 / 11]);
    close(l0.ffn!.meanGate, want.meanGate);
    close(l0.attn!.meanWeight, want.meanWeight);
    expect(l0.ffn!.entropy).toBeCloseTo(want.ffnEntropy, 5);
    expect(l0.attn!.entropy).toBeCloseTo(want.attnEntropy, 5);
    expect(l0.agreement).toBeCloseTo(want.agreement, 12);
  });

  it('reports no attention router for a BTX-style model, and no routingStats at all for a dense one', async () => {
    const [r] = await lm(btx).routingStats!([{ text: 'aab' }]);
    expect(r.layers[0].attn).toBeUndefined();
    expect(r.layers[0].agreement).toBeUndefined();
    close(r.layers[0].ffn!.topShare, [0.5, 0, 0.25, 0.25]);
    expect(lm(dense).routingStats).toBeUndefined();
  });
});

describe('the routing-analysis task', () => {
  it('scores every document by hand and aggregates the mean over documents', async () => {
    const docs = await evaluateTask(routingHandTask, {}, lm(bam), ctx);
    expect(docs).toHaveLength(3);
    const hand = TEXTS.map(byHand);
    docs.forEach((d, i) => {
      for (let e = 0; e < E; e++) {
        expect(d[routingMetricName('ffn_share', 0, e)]).toBeCloseTo(hand[i].topShare[e], 5);
        expect(d[routingMetricName('attn_weight', 0, e)]).toBeCloseTo(hand[i].meanWeight[e], 5);
        // Layer 1 is declared but the model has one layer: not applicable.
        expect(d[routingMetricName('ffn_share', 1, e)]).toBeNull();
      }
      expect(d['ffn_entropy.l0']).toBeCloseTo(hand[i].ffnEntropy, 5);
      expect(d['attn_entropy_ratio.l0']).toBeCloseTo(hand[i].attnEntropy / Math.log(4), 5);
      expect(d['agreement.l0']).toBeCloseTo(hand[i].agreement, 12);
      expect(d.agreement).toBeCloseTo(hand[i].agreement, 12); // mean over the one layer
      expect(d['agreement.l1']).toBeNull();
    });
    // "b" = [\n, b]: FFN tops 3, 2; attention tops 0, 2 → agreement 1/2.
    expect(docs[1].agreement).toBe(0.5);
    const agg = aggregateScores(routingHandTask.metrics, docs, { seed: 0, bootstrapIters: 0 });
    const mean = (f: (h: ReturnType<typeof byHand>) => number): number => hand.reduce((a, h) => a + f(h), 0) / hand.length;
    expect(agg['ffn_share.l0.e0'].value).toBeCloseTo(mean((h) => h.topShare[0]), 5);
    expect(agg['ffn_share.l0.e0'].value).toBeCloseTo((0.5 + 0 + 5 / 11) / 3, 5);
    expect(agg['attn_weight.l0.e2'].value).toBeCloseTo(mean((h) => h.meanWeight[2]), 5);
    // Agreement per text: 1/4, 1/2 and 5/11 ([\n, a×5, b×5]: only the b's agree).
    expect(agg.agreement.value).toBeCloseTo((0.25 + 0.5 + 5 / 11) / 3, 12);
    expect(agg.agreement.n).toBe(3);
    expect(agg['ffn_share.l1.e0']).toBeUndefined();
  });

  it('fails on a dense model, saying the task needs routers', async () => {
    await expect(evaluateTask(routingHandTask, {}, lm(dense), ctx)).rejects.toThrow(/task 'routing-hand' needs routing statistics, but model 'hand' has no routingStats\(\): it has no routers/);
  });

  it('fails on a model with more layers or experts than it declares, naming the factory to use', () => {
    const layer = (l: number) => ({ layer: l, ffn: { topShare: [1, 0], load: [1, 0], meanGate: [1, 0], entropy: 0, entropyRatio: 0, topExpert: [0] } });
    const three: RoutingStatsResult = { tokens: 1, layers: [layer(0), layer(1), layer(2)] };
    expect(() => scoreRouting(three, 'routing-hand', 2, 4)).toThrow(/declares routing metrics for 2 layers, but the model routes 3/);
    const wide: RoutingStatsResult = { tokens: 1, layers: [{ layer: 0, ffn: { ...layer(0).ffn, topShare: new Array(6).fill(1 / 6) } }] };
    expect(() => scoreRouting(wide, 'routing-hand', 2, 4)).toThrow(/for 4 experts, but the model routes 6/);
  });

  it('registers routing-general, -code, -law, -math and -ood on the perplexity documents', async () => {
    expect(routingTasks.map((t) => t.id)).toEqual(['routing-general', 'routing-code', 'routing-law', 'routing-math', 'routing-ood']);
    const code = routingTasks[1];
    // 8 layers × (4 experts · 2 kinds + 5 per-layer) + 3 means.
    expect(Object.keys(code.metrics)).toHaveLength(8 * (8 * 2 + 5) + 3);
    const docs = [...((await code.documents(code.options.parse({ limit: 3, maxChars: 300 }), ctx)) as Iterable<{ id: string; text: string }>)];
    expect(docs).toHaveLength(3);
    expect(docs.every((d) => d.text.length > 0 && d.text.length <= 300)).toBe(true);
    expect(code.requests(docs[0], code.options.parse({}))).toEqual([{ type: 'routing_stats', text: docs[0].text }]);
  });
});

describe('routing rows of a sweep', () => {
  it('writes rows the report parses: the hand values, no attention rows for BTX, a failed row for dense', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/hand-routed.ts', import.meta.url));
    const out = join(WORK, 'sweep');
    const s = await runSweep(
      {
        name: 'routing-hand',
        seeds: [0],
        plugins: [fixture],
        variants: [
          { id: 'hand-routed', name: 'bam', options: { kind: 'bam' } },
          { id: 'hand-routed', name: 'btx', options: { kind: 'btx' } },
          { id: 'hand-routed', name: 'dense', options: { kind: 'dense' } },
        ],
        tasks: [{ id: 'routing-hand' }],
        bootstrapIters: 0,
      },
      { outDir: out, workers: 1, progress: false, print: false, quiet: true },
    );
    expect(s.total).toBe(3);
    expect(s.failed).toBe(1);
    const routing = s.rows.filter((r) => parseRoutingMetric(r.metric));
    const hand = TEXTS.map(byHand);
    for (const r of routing) {
      const m = parseRoutingMetric(r.metric)!;
      if (r.variant === 'dense') {
        expect(r.status).toBe('failed'); // a failed job has a row for every declared metric
        continue;
      }
      expect(m.layer).toBe(0); // the declared layer 1 does not exist in the model: no row
      expect(r.status).toBe('ok');
      const want = hand.reduce((a, h) => a + (m.kind === 'ffn_share' ? h.topShare : h.meanWeight)[m.expert], 0) / 3;
      expect(r.value!).toBeCloseTo(want, 5);
      expect(r.n).toBe(3);
    }
    const kinds = (variant: string) => [...new Set(routing.filter((r) => r.variant === variant).map((r) => parseRoutingMetric(r.metric)!.kind))].sort();
    expect(kinds('bam')).toEqual(['attn_weight', 'ffn_share']);
    expect(kinds('btx')).toEqual(['ffn_share']);
    expect(s.rows.filter((r) => r.variant === 'btx' && /^(attn_|agreement)/.test(r.metric))).toEqual([]);
    const failed = s.rows.find((r) => r.variant === 'dense')!;
    expect(failed.error).toMatch(/needs routing statistics, but model 'hand-dense' has no routingStats\(\)/);
    // FFN shares of a layer sum to 1; the report's heatmap reads these rows.
    const sum = routing.filter((r) => r.variant === 'bam' && r.metric.startsWith('ffn_share.l0.')).reduce((a, r) => a + r.value!, 0);
    expect(sum).toBeCloseTo(1, 6);
    const cells = buildReport(out).routing;
    expect(cells.filter((c) => c.variant === 'bam')).toHaveLength(2 * E);
    expect(cells.filter((c) => c.variant === 'btx').map((c) => c.kind)).toEqual(new Array(E).fill('ffn_share'));
    expect(readFileSync(join(out, 'results.csv'), 'utf8')).toContain('ffn_share.l0.e3');
  });
});
