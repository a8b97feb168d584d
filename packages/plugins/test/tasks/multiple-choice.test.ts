import { describe, expect, it } from 'vitest';
import { MULTIPLE_CHOICE_METRICS, aggregateScores, evaluateTask, fakeLanguageModel, fakeTextLogprob, type TaskPlugin } from '@bam/eval';
import {
  arithmetic,
  arithmeticDocs,
  builtinTasks,
  codeCompletion,
  codeCompletionDocs,
  licenseId,
  licenseIdDocs,
  perplexityDocs,
  wordnetCloze,
  wordnetClozeDocs,
  wordnetDefinition,
  wordnetDefinitionDocs,
  type MultipleChoiceDoc,
} from '../../src/index.ts';
import { ctx, docsOf } from './helpers.ts';

const MC_TASKS: TaskPlugin[] = [wordnetDefinition, wordnetCloze, licenseId, arithmetic, codeCompletion];

describe('multiple-choice scoring (acc and acc_norm as in lm-eval)', () => {
  // Fake model: each character scores −(1 + code point mod 10) / 10, so a choice's loglikelihood
  // grows more negative with its length. By hand (' ' −0.3, a −0.8, c −1.0, e −0.2, n −0.1, ...):
  //   ' cat'    −0.3 −1.0 −0.8 −0.7 = −2.8, 4 bytes: per byte −0.7
  //   ' expert' Σ −2.3, 7 bytes:                    per byte −0.3286
  //   ' zebra'  Σ −3.0, 6 bytes:                    per byte −0.5
  //   ' an'     −0.3 −0.8 −0.1 = −1.2, 3 bytes:     per byte −0.4
  // acc picks ' an' (highest sum), acc_norm picks ' expert' (highest per byte).
  const choices = [' cat', ' expert', ' zebra', ' an'];

  it('has the hand-computed loglikelihoods for the four choices', () => {
    expect(choices.map((c) => +fakeTextLogprob(c).toFixed(4))).toEqual([-2.8, -2.3, -3, -1.2]);
  });

  for (const task of MC_TASKS) {
    it(`${task.id}: a length-biased fake gets acc 1 / acc_norm 0 when gold is the short choice, and acc 0 / acc_norm 1 when gold is the dense one`, async () => {
      const model = fakeLanguageModel();
      const responses = await model.loglikelihood(choices.map((c) => ({ context: 'Q:', continuation: c })));
      const opts = task.options.parse({});
      const doc = (gold: number): MultipleChoiceDoc => ({ id: 'hand', context: 'Q:', choices, gold });
      expect(task.score(doc(3) as never, responses, opts)).toEqual({ acc: 1, acc_norm: 0 });
      expect(task.score(doc(1) as never, responses, opts)).toEqual({ acc: 0, acc_norm: 1 });
      expect(task.score(doc(0) as never, responses, opts)).toEqual({ acc: 0, acc_norm: 0 });
      expect(task.metrics).toEqual(MULTIPLE_CHOICE_METRICS);
    });
  }

  it('on real documents, the fake model’s acc equals the share of documents whose gold choice has the highest raw sum, acc_norm the highest per byte', async () => {
    const docs = await docsOf<MultipleChoiceDoc>(licenseId);
    const agg = aggregateScores(licenseId.metrics, await evaluateTask(licenseId, {}, fakeLanguageModel(), ctx()), { seed: 0, bootstrapIters: 0 });
    const argmax = (xs: number[]): number => xs.indexOf(Math.max(...xs));
    const acc = docs.filter((d) => argmax(d.choices.map((c) => fakeTextLogprob(c))) === d.gold).length / docs.length;
    const accNorm = docs.filter((d) => argmax(d.choices.map((c) => fakeTextLogprob(c) / Buffer.byteLength(c))) === d.gold).length / docs.length;
    expect(agg.acc.value).toBeCloseTo(acc, 12);
    expect(agg.acc_norm.value).toBeCloseTo(accNorm, 12);
    expect(agg.acc.value).not.toBe(agg.acc_norm.value);
  });
});

describe('document builders', () => {
  it('build equal documents twice from scratch (no hidden state, no clock, no Math.random)', () => {
    const builders: Array<() => unknown> = [
      () => perplexityDocs('math', { limit: 10, maxChars: 300, split: 'test', seed: 0 }),
      () => wordnetDefinitionDocs({ limit: 20, split: 'test', seed: 3, partsOfSpeech: ['noun', 'verb'] }),
      () => wordnetClozeDocs({ limit: 20, split: 'test', seed: 3 }),
      () => licenseIdDocs({ limit: 100, split: 'test', seed: 3, excerptChars: 200 }),
      () => arithmeticDocs({ limit: 20, split: 'test', seed: 3, showSteps: true }),
      () => codeCompletionDocs({ limit: 20, split: 'test', seed: 3, contextLines: 5, maxPerFile: 2 }),
    ];
    for (const build of builders) expect(JSON.stringify(build())).toBe(JSON.stringify(build()));
  });

  it('give every job seed the same documents, so seeds measure training variance only', async () => {
    for (const task of builtinTasks) {
      expect(JSON.stringify(await docsOf(task, {}, 0))).toBe(JSON.stringify(await docsOf(task, {}, 12345)));
    }
  });

  it('place the gold answer in each of the four positions about equally often', async () => {
    for (const task of [wordnetDefinition, wordnetCloze, arithmetic, codeCompletion]) {
      const docs = await docsOf<MultipleChoiceDoc>(task);
      const counts = [0, 1, 2, 3].map((g) => docs.filter((d) => d.gold === g).length);
      expect(Math.min(...counts)).toBeGreaterThanOrEqual(12);
    }
  });
});
