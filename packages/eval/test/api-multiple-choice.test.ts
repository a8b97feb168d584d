import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ContractError,
  MULTIPLE_CHOICE_METRICS,
  PluginError,
  aggregateScores,
  defineMultipleChoiceTask,
  evaluateTask,
  fakeLanguageModel,
  silentLogger,
  type LanguageModel,
  type LoglikelihoodRequest,
  type TaskPlugin,
} from '../src/index.ts';
import arithChoice from '../examples/arith-choice.ts';
import arithChoiceMc from '../examples/arith-choice-mc.ts';
import { MC_DOCS, fakeMc } from './fixtures/fake-plugins.ts';
import { EVAL_ROOT } from './helpers.ts';

const ctx = { artifactsDir: '/nonexistent', seed: 0, logger: silentLogger };

/** A fake model that records every loglikelihood request it answers. */
function recording(inner: LanguageModel): LanguageModel & { seen: LoglikelihoodRequest[] } {
  const seen: LoglikelihoodRequest[] = [];
  return { ...inner, seen, loglikelihood: async (reqs) => (seen.push(...reqs), inner.loglikelihood(reqs)) };
}

// Six questions whose choices are written without the separator; `continuation` adds the space.
// The fake scores each character −(1 + code point mod 10) / 10 (' ' −0.3, a −0.8, b −0.9, c −1.0,
// d −0.1, e −0.2, h −0.5, m −1.0, n −0.1, w −1.0, x −0.1). By hand, continuation: Σ, per byte:
//   q0 ' dd' −0.5, −0.167 | ' c' −1.3, −0.65                 gold 0: acc 1, acc_norm 1
//   q1 ' x' −0.4, −0.2    | ' dde' −0.7, −0.175              gold 1: acc 0, acc_norm 1
//   q2 ' m' −1.3, −0.65   | ' hhh' −1.8, −0.45               gold 0: acc 1, acc_norm 0
//   q3 ' b' −1.2, −0.6    | ' ee' −0.7, −0.233               gold 0: acc 0, acc_norm 0
//   q4 ' n' −0.4, −0.2    | ' w' −1.3, −0.65                 gold 0: acc 1, acc_norm 1
//   q5 ' aaa' −2.7, −0.675 | ' ww' −2.3, −0.767             gold 1: acc 1, acc_norm 0
// (q1 shows the space is counted: without it 'x' −0.1/byte beats 'dde' −0.133/byte.)
// acc = [1,0,1,0,1,1]: mean 2/3, sample variance (4·(1/3)² + 2·(2/3)²)/5 = 4/15, stderr √(4/15 / 6) = √(2/45).
// acc_norm = [1,1,0,0,1,0]: mean 1/2, sample variance 6·(1/2)²/5 = 3/10, stderr √(3/10 / 6) = √(1/20).
const QUESTIONS = [
  { q: 'q0', options: ['dd', 'c'], answer: 0 },
  { q: 'q1', options: ['x', 'dde'], answer: 1 },
  { q: 'q2', options: ['m', 'hhh'], answer: 0 },
  { q: 'q3', options: ['b', 'ee'], answer: 0 },
  { q: 'q4', options: ['n', 'w'], answer: 0 },
  { q: 'q5', options: ['aaa', 'ww'], answer: 1 },
];

const spaced = defineMultipleChoiceTask({
  id: 'spaced-mc',
  version: 3,
  description: 'six two-way questions (test)',
  documents: () => QUESTIONS,
  context: (doc) => `${doc.q}:`,
  choices: (doc) => doc.options,
  gold: (doc) => doc.answer,
  continuation: (choice) => ` ${choice}`,
});

describe('defineMultipleChoiceTask (lm-eval multiple_choice)', () => {
  it('asks loglikelihood(context, continuation) once per choice, in document and choice order', async () => {
    const model = recording(fakeLanguageModel());
    await evaluateTask(spaced, {}, model, ctx);
    expect(model.seen).toEqual(QUESTIONS.flatMap((d) => d.options.map((o) => ({ context: `${d.q}:`, continuation: ` ${o}` }))));
  });

  it('scores acc and acc_norm per document as computed by hand, acc_norm over the continuation’s bytes', async () => {
    const docs = await evaluateTask(spaced, {}, fakeLanguageModel(), ctx);
    expect(docs.map((d) => d.acc)).toEqual([1, 0, 1, 0, 1, 1]);
    expect(docs.map((d) => d.acc_norm)).toEqual([1, 1, 0, 0, 1, 0]);
  });

  it('aggregates both as means with the hand-computed standard errors', async () => {
    const agg = aggregateScores(spaced.metrics, await evaluateTask(spaced, {}, fakeLanguageModel(), ctx), { seed: 0, bootstrapIters: 0 });
    expect(agg.acc.n).toBe(6);
    expect(agg.acc.value).toBeCloseTo(2 / 3, 12);
    expect(agg.acc.stderr).toBeCloseTo(Math.sqrt(2 / 45), 12);
    expect(agg.acc_norm.value).toBeCloseTo(1 / 2, 12);
    expect(agg.acc_norm.stderr).toBeCloseTo(Math.sqrt(1 / 20), 12);
  });

  it('declares acc and acc_norm as means where higher is better, and keeps id, version, description and options', () => {
    expect(spaced.metrics).toEqual(MULTIPLE_CHOICE_METRICS);
    expect(Object.entries(spaced.metrics).map(([k, m]) => [k, m.aggregation, m.higherIsBetter])).toEqual([
      ['acc', 'mean', true],
      ['acc_norm', 'mean', true],
    ]);
    expect(spaced).toMatchObject({ kind: 'task', id: 'spaced-mc', version: 3, description: 'six two-way questions (test)' });
    expect(spaced.options.parse({})).toEqual({});
  });

  it('reads context, choices and gold from the document when no accessors are given, scoring like a hand-wired task', async () => {
    const mc = defineMultipleChoiceTask({
      id: 'fake-mc-helper',
      version: 2,
      description: 'the fake-mc fixture through the helper',
      documents: () => MC_DOCS.map((d) => ({ context: `${d.question}:`, choices: d.choices, gold: d.gold })),
    });
    const a = recording(fakeLanguageModel());
    const b = recording(fakeLanguageModel());
    const viaHelper = await evaluateTask(mc, {}, a, ctx);
    expect(viaHelper).toEqual(await evaluateTask(fakeMc, {}, b, ctx));
    expect(viaHelper.map((d) => [d.acc, d.acc_norm])).toEqual([
      [1, 1],
      [1, 0],
      [1, 0],
      [0, 0],
    ]);
    expect(a.seen).toEqual(b.seen);
  });

  it('gives the README’s helper example the same requests and scores as its hand-wired twin', async () => {
    const a = recording(fakeLanguageModel());
    const b = recording(fakeLanguageModel());
    const viaHelper = await evaluateTask(arithChoiceMc, { n: 40 }, a, { ...ctx, seed: 7 });
    const handWired = await evaluateTask(arithChoice as TaskPlugin, { n: 40 }, b, { ...ctx, seed: 7 });
    expect(viaHelper).toEqual(handWired);
    expect(a.seen).toEqual(b.seen);
    expect(a.seen).toHaveLength(160);
  });

  it('shows in the README exactly examples/arith-choice-mc.ts', () => {
    const readme = readFileSync(join(EVAL_ROOT, 'README.md'), 'utf8');
    const at = readme.indexOf('<!-- example: examples/arith-choice-mc.ts');
    const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
    expect(at).toBeGreaterThan(0);
    expect(block?.[1]).toBe(readFileSync(join(EVAL_ROOT, 'examples', 'arith-choice-mc.ts'), 'utf8'));
  });

  it('refuses an accessor that is not a function, naming the field', () => {
    const bad = () => defineMultipleChoiceTask({ id: 'bad-mc', version: 1, description: 'x', documents: () => [], gold: 2 as never });
    expect(bad).toThrow(PluginError);
    expect(bad).toThrow(/field 'gold'.*must be a function/);
  });

  it('fails a document whose gold is not an index of its choices, naming the task', async () => {
    const task = defineMultipleChoiceTask({ id: 'off-by-one', version: 1, description: 'x', documents: () => [{ context: 'Q:', choices: [' a', ' b'], gold: 2 }] });
    await expect(evaluateTask(task, {}, fakeLanguageModel(), ctx)).rejects.toThrow(ContractError);
    await expect(evaluateTask(task, {}, fakeLanguageModel(), ctx)).rejects.toThrow(/task 'off-by-one': gold 2 is not an index of the 2 choices/);
  });

  it('fails a document with no choices, naming the task', async () => {
    const task = defineMultipleChoiceTask({ id: 'empty', version: 1, description: 'x', documents: () => [{ context: 'Q:', choices: [], gold: 0 }] });
    await expect(evaluateTask(task, {}, fakeLanguageModel(), ctx)).rejects.toThrow(/task 'empty': a document's choices are not a non-empty array of strings/);
  });
});
