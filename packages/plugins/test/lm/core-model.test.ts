import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createModel,
  createTokenizer,
  disposeModel,
  forward,
  loadPreset,
  saveCheckpoint,
  type BamModel,
} from '@bam/core';
import { configHash } from '@bam/utils';
import { recipeConfig } from '@bam/upcycle';
import type { LanguageModel } from '@bam/eval';
import { coreLanguageModel, loadLanguageModel } from '../../src/index.ts';

const bytes = createTokenizer({ kind: 'byte' });
const NL = 10; // the byte tokenizer's document-start token ("\n")

// The smoke preset (V=256 bytes, D=32, H=4, L=2, maxSeqLen=32), random init with initStd 0.5 so
// logits are well separated, as bam-kv-shared (4 experts). Its LM head only lets the 128 ASCII
// bytes win (columns ≥ 128 zeroed: logit exactly 0, below the best random ASCII logit), so greedy
// text decodes and re-encodes to the same bytes.
let model: BamModel;
let dense: BamModel;

function asciiHead(m: BamModel): BamModel {
  const w = m.params.get('lm_head.weight')!;
  const keep = tf.tidy(() => tf.mul(w, tf.concat([tf.ones([1, 128]), tf.zeros([1, 128])], 1)));
  w.assign(keep);
  keep.dispose();
  return m;
}

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  model = asciiHead(createModel(recipeConfig('bam-kv-shared', loadPreset('smoke', { initStd: 0.5 }), 4), 1));
  dense = asciiHead(createModel(loadPreset('smoke', { initStd: 0.5 }), 2));
});
afterAll(() => {
  disposeModel(model);
  disposeModel(dense);
});

function lm(m: BamModel, opts: { batchSize?: number; maxLength?: number; rollingStride?: number } = {}): LanguageModel {
  return coreLanguageModel({ model: m, tokenizer: bytes, name: 'smoke', ...opts });
}

/** ln p(tokens[i] | tokens[0..i-1]) for i ≥ 1, from one plain forward on tokens[0..n-2]. */
function forwardLogprobs(m: BamModel, tokens: number[]): number[] {
  const t = tf.tidy(() => {
    const input = tf.tensor2d(tokens.slice(0, -1), [1, tokens.length - 1], 'int32');
    return tf.logSoftmax(tf.reshape(forward(m, input).logits, [tokens.length - 1, m.config.vocabSize]));
  });
  const lp = t.dataSync();
  t.dispose();
  const V = m.config.vocabSize;
  return tokens.slice(1).map((tok, i) => lp[i * V + tok]);
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const enc = (s: string) => bytes.encode(s);

const REQUESTS = [
  { context: 'The cat sat on the', continuation: ' mat.' },
  { context: 'Call me', continuation: ' Ishmael' },
  { context: '', continuation: 'Hello' },
  { context: 'Some years ago, never mind how long precisely, having little money', continuation: ' in my purse' },
  { context: '2 + 2 =', continuation: ' 4' },
  { context: 'Question: what is law?\nAnswer:', continuation: ' rules' },
  { context: 'a', continuation: 'b' },
  { context: 'It was the best of times, it was the worst of times, it was', continuation: ' the age of wisdom' },
  { context: 'x', continuation: ' y z' },
];

describe('coreLanguageModel', () => {
  it('gives the same loglikelihoods and rolling loglikelihoods for batch sizes 1, 3 and 8 (to 1e-5)', async () => {
    const texts = REQUESTS.map((r) => ({ text: r.context + r.continuation }));
    const [ll1, ll3, ll8] = await Promise.all([1, 3, 8].map((b) => lm(model, { batchSize: b }).loglikelihood(REQUESTS)));
    const [r1, r3, r8] = await Promise.all([1, 3, 8].map((b) => lm(model, { batchSize: b, maxLength: 16, rollingStride: 5 }).loglikelihoodRolling(texts)));
    for (const other of [ll3, ll8]) {
      other.forEach((r, i) => {
        expect(Math.abs(r.logprob - ll1[i].logprob)).toBeLessThan(1e-5);
        expect(r.isGreedy).toBe(ll1[i].isGreedy);
        expect(r.tokens).toBe(ll1[i].tokens);
      });
    }
    for (const other of [r3, r8]) other.forEach((r, i) => expect(Math.abs(r.logprob - r1[i].logprob)).toBeLessThan(1e-5));
    expect(ll1.map((r) => r.tokens)).toEqual(REQUESTS.map((r) => enc(r.continuation).length));
    expect(ll1.every((r) => r.logprob < 0)).toBe(true);
  });

  it('scores a text shorter than maxLength as the sum of per-token logprobs from one forward after the document-start token', async () => {
    const text = 'Call me Ishmael. Some years ago';
    const [r] = await lm(dense).loglikelihoodRolling([{ text }]);
    const want = sum(forwardLogprobs(dense, [NL, ...enc(text)]));
    expect(r.tokens).toBe(31);
    expect(Math.abs(r.logprob - want)).toBeLessThan(1e-4);
  });

  it('with stride < window, totals the hand-assembled windows: the first 16 tokens after "\\n", then 5 at a time after the 16 tokens before them', async () => {
    const text = 'It was the best of times, it was the worst of times, it was the age of wisdom.'; // 78 bytes
    const ids = enc(text);
    const L = 16;
    const s = 5;
    const [r] = await lm(dense, { maxLength: L, rollingStride: s }).loglikelihoodRolling([{ text }]);
    let want = sum(forwardLogprobs(dense, [NL, ...ids.slice(0, L)]));
    for (let start = L; start < ids.length; start += s) {
      const end = Math.min(start + s, ids.length);
      // The window reads the L tokens before `end`'s last token: ids[end − L − 1 .. end − 2].
      const lp = forwardLogprobs(dense, ids.slice(end - L - 1, end));
      want += sum(lp.slice(lp.length - (end - start)));
    }
    expect(r.tokens).toBe(78);
    expect(Math.abs(r.logprob - want)).toBeLessThan(1e-4);
    // Disjoint windows (stride = L) see less context, so they give a different total.
    const [disjoint] = await lm(dense, { maxLength: L }).loglikelihoodRolling([{ text }]);
    expect(Math.abs(disjoint.logprob - r.logprob)).toBeGreaterThan(1e-3);
  });

  it('gives loglikelihood(context, continuation) = rolling(context + continuation) − rolling(context) when the bytes split cleanly', async () => {
    const m = lm(model);
    for (const { context, continuation } of REQUESTS.slice(0, 3)) {
      const [ll] = await m.loglikelihood([{ context, continuation }]);
      const [whole, ctx] = await m.loglikelihoodRolling([{ text: context + continuation }, { text: context }]);
      expect(Math.abs(ll.logprob - (whole.logprob - ctx.logprob))).toBeLessThan(1e-4);
    }
  });

  it('truncates context + continuation from the left to maxLength + 1 tokens', async () => {
    const req = REQUESTS[7]; // 59 + 18 bytes, more than 33
    const [ll] = await lm(dense).loglikelihood([req]);
    const all = [NL, ...enc(req.context), ...enc(req.continuation)];
    const lp = forwardLogprobs(dense, all.slice(all.length - 33));
    expect(ll.tokens).toBe(18);
    expect(Math.abs(ll.logprob - sum(lp.slice(lp.length - 18)))).toBeLessThan(1e-4);
    await expect(lm(dense, { maxLength: 8 }).loglikelihood([{ context: 'a', continuation: 'nine byte' }])).rejects.toThrow(
      /continuation has 9 tokens, more than maxLength 8/,
    );
  });

  it('calls a continuation greedy when the model generated it, and not when one byte differs', async () => {
    const m = lm(model);
    const context = 'The cat sat on the';
    const [text] = await m.generate([{ context, maxTokens: 8 }]);
    expect(enc(text)).toHaveLength(8);
    const [greedy, changed] = await m.loglikelihood([
      { context, continuation: text },
      { context, continuation: text.slice(0, 3) + String.fromCharCode((text.charCodeAt(3) + 1) % 128) + text.slice(4) },
    ]);
    expect(greedy).toMatchObject({ isGreedy: true, tokens: 8 });
    expect(changed.isGreedy).toBe(false);
    expect(changed.logprob).toBeLessThan(greedy.logprob);
  });

  it('stops generating at the first `until` string and returns the text before it', async () => {
    const m = lm(model);
    const context = 'Call me';
    const [free] = await m.generate([{ context, maxTokens: 12 }]);
    expect(enc(free)).toHaveLength(12);
    const until = free.slice(5, 7);
    const [cut, none, short] = await m.generate([
      { context, maxTokens: 12, until: [until, 'never-produced'] },
      { context, maxTokens: 12, until: ['never-produced'] },
      { context, maxTokens: 3 },
    ]);
    expect(cut).toBe(free.slice(0, free.indexOf(until)));
    expect(none).toBe(free);
    expect(short).toBe(free.slice(0, 3));
  });

  it('reports its info and leaks no tensor across calls; dispose() keeps a borrowed model and later calls fail', async () => {
    const m = coreLanguageModel({ model, tokenizer: bytes, name: 'kv-shared', maxLength: 16 });
    const requests = REQUESTS.slice(0, 7); // continuations of at most 16 bytes
    expect(m.info).toMatchObject({
      name: 'kv-shared',
      backend: 'wasm',
      configHash: configHash(model.config),
      tokenizer: 'byte-256',
      maxLength: 16,
      rollingStride: 16,
      prefixToken: 10,
      kvCacheBytesPerToken: 2 * 2 * 4 * 8 * 4,
    });
    const before = tf.memory().numTensors;
    await m.loglikelihood(requests);
    await m.loglikelihoodRolling([{ text: 'Some years ago, never mind how long precisely, having little money' }, { text: '' }]);
    await m.generate([{ context: 'a', maxTokens: 5, until: ['.'] }, { context: 'bb', maxTokens: 0 }]);
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await expect(m.loglikelihood(requests)).rejects.toThrow(/used after dispose/);
  });

  it('rejects a maxLength beyond the model, a stride beyond maxLength and a bad batch size', () => {
    expect(() => lm(dense, { maxLength: 33 })).toThrow(/maxLength 33 exceeds the model's maxSeqLen 32/);
    expect(() => lm(dense, { maxLength: 16, rollingStride: 17 })).toThrow(/rollingStride 17 exceeds maxLength 16/);
    expect(() => lm(dense, { batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
  });
});

describe('loadLanguageModel', () => {
  let dir: string;
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a checkpoint with its tokenizer, scores as the in-memory model, and frees the weights on dispose()', async () => {
    dir = join(mkdtempSync(join(tmpdir(), 'bam-lm-')), 'smoke-kv-shared');
    const manifest = await saveCheckpoint(dir, { model, tokenizer: { id: bytes.id, vocabSize: bytes.vocabSize } });
    const loaded = loadLanguageModel(dir, { batchSize: 4 });
    const afterLoad = tf.memory().numTensors;
    expect(loaded.info).toMatchObject({ name: 'smoke-kv-shared', configHash: manifest.configHash, contentHash: manifest.contentHash, tokenizer: 'byte-256', step: 0 });
    const want = await lm(model).loglikelihood(REQUESTS);
    const got = await loaded.loglikelihood(REQUESTS);
    got.forEach((r, i) => {
      expect(Math.abs(r.logprob - want[i].logprob)).toBeLessThan(1e-5);
      expect(r.isGreedy).toBe(want[i].isGreedy);
    });
    expect(await loaded.generate([{ context: 'Call me', maxTokens: 6 }])).toEqual(await lm(model).generate([{ context: 'Call me', maxTokens: 6 }]));
    expect(tf.memory().numTensors).toBe(afterLoad); // scoring and generating leak nothing
    loaded.dispose();
    // dispose() frees the model's variables (one tensor per parameter).
    expect(afterLoad - tf.memory().numTensors).toBe(model.params.size);
    expect(() => loadLanguageModel(join(dir, 'missing'))).toThrow(/checkpoint/);
  });
});
