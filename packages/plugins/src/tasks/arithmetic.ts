/**
 * `arithmetic` (math): choose the value of a generated expression among four close numbers
 * (acc, acc_norm).
 *
 * Source: the math domain's generator, `@bam/core` `generateArithmetic` (MathGLM-style
 * multi-step expressions over integers and decimals, exact rational arithmetic), run with its own
 * seed (`bam-arithmetic-eval-v1/<seed>`, never the corpus's `ARITHMETIC_SEED`). A problem is kept
 * only when `arithmeticSplitOf(expression)` is the requested split (default `test`): the corpus
 * assigns every expression to a split by the same hash, so no kept problem is a training problem.
 * A kept problem may still be the tail of a training line (`… = 6 * 16 = 96` holds `6 * 16 = 96`;
 * about 7 in 100 are), so a problem whose whole worked line occurs in the training arithmetic
 * after a ` = ` is dropped too. Duplicates are dropped; the first `limit` problems left, in
 * generation order, are the documents.
 *
 * Prompt in the training text's own format, `expression = step1 = … = stepN =` (with
 * `showSteps: false` just `expression =`); choices ` <answer>`. Distractors: the answer moved by
 * three distinct offsets drawn from ±1, ±2 and ±10 units of its last decimal place, written as
 * the generator writes numbers, without trailing zeros (`21` → `20`, `23`, `31`; `3.75` → `3.76`,
 * `3.7`, ...), drawn with a PRNG seeded by (`seed`, expression), as is the gold position.
 */
import { z } from 'zod';
import { defineMultipleChoiceTask } from '@bam/eval';
import { InvariantError, arithmeticProblems, arithmeticSplitOf, generateArithmetic, type ArithmeticProblem } from '@bam/core';
import { memoByOptions, placeGold, rngFor, sampleOptions, shuffled, type MultipleChoiceDoc } from './common.ts';

/** Options of `arithmetic`. */
export const ArithmeticOptionsSchema = z
  .object({
    ...sampleOptions(100),
    /** Show the worked steps (the training format) before the answer. */
    showSteps: z.boolean().default(true),
  })
  .strict();

/** Parsed options of `arithmetic`. */
export type ArithmeticOptions = z.infer<typeof ArithmeticOptionsSchema>;

/** An `arithmetic` document: a multiple-choice doc plus the problem. */
export interface ArithmeticDoc extends MultipleChoiceDoc {
  expression: string;
  answer: string;
}

/** The generator seed of the task's problems (distinct from the corpus's `ARITHMETIC_SEED`). */
export function arithmeticEvalSeed(seed: number): string {
  return `bam-arithmetic-eval-v1/${seed}`;
}

/** A decimal string as a scaled integer: `-3.75` → { units: -375n, decimals: 2 }. */
function toUnits(answer: string): { units: bigint; decimals: number } {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(answer);
  if (!m) throw new InvariantError(`the arithmetic generator produced '${answer}', which is not a decimal number`);
  const frac = m[3] ?? '';
  const units = BigInt(m[2] + frac);
  return { units: m[1] ? -units : units, decimals: frac.length };
}

function fromUnits(units: bigint, decimals: number): string {
  const neg = units < 0n;
  let digits = (neg ? -units : units).toString();
  if (decimals > 0) {
    digits = digits.padStart(decimals + 1, '0');
    // Written like the generator writes numbers: no trailing zeros (3.7640 would give itself away).
    digits = `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`.replace(/\.?0+$/, '');
  }
  return neg ? `-${digits}` : digits;
}

const OFFSETS = [1n, -1n, 2n, -2n, 10n, -10n];

/** Three numbers close to `answer` (±1, ±2, ±10 units of its last decimal place), distinct and ≠ answer. */
export function closeDistractors(answer: string, rand: () => number): string[] {
  const { units, decimals } = toUnits(answer);
  return shuffled(OFFSETS, rand)
    .slice(0, 3)
    .map((o) => fromUnits(units + o, decimals));
}

let trainLines: string | undefined;

/** Whether `problem`'s worked line is the tail of a line of the corpus's training arithmetic. */
export function inTrainingArithmetic(problem: ArithmeticProblem): boolean {
  trainLines ??= `${arithmeticProblems('train')
    .map((p) => p.text)
    .join('\n')}\n`;
  return trainLines.includes(` = ${problem.text}\n`);
}

/**
 * The problems of `arithmetic`: the eval generator's problems of the split that are no tail of a
 * training line, deduplicated, first `limit`.
 */
export function arithmeticEvalProblems(opts: Pick<ArithmeticOptions, 'limit' | 'split' | 'seed'>): ArithmeticProblem[] {
  // The generator is a stream, so a longer run extends a shorter one: grow until enough are kept.
  for (let count = opts.limit * 16; ; count *= 2) {
    const seen = new Set<string>();
    const kept: ArithmeticProblem[] = [];
    for (const p of generateArithmetic(arithmeticEvalSeed(opts.seed), count)) {
      if (arithmeticSplitOf(p.expression) !== opts.split || seen.has(p.expression) || inTrainingArithmetic(p)) continue;
      seen.add(p.expression);
      kept.push(p);
      if (kept.length === opts.limit) return kept;
    }
  }
}

/** The documents of `arithmetic`: deterministic for the options. */
export function arithmeticDocs(opts: ArithmeticOptions): ArithmeticDoc[] {
  return arithmeticEvalProblems(opts).map((p) => {
    const rand = rngFor('arithmetic-v1', opts.seed, p.expression);
    const { choices, gold } = placeGold(` ${p.answer}`, closeDistractors(p.answer, rand).map((d) => ` ${d}`), rand, `arithmetic ${p.expression}`);
    const shown = opts.showSteps ? [p.expression, ...p.steps] : [p.expression];
    return { id: `arithmetic/${p.expression}`, expression: p.expression, answer: p.answer, context: `${shown.join(' = ')} =`, choices, gold };
  });
}

/** `arithmetic`: choose the value of a generated expression among four close numbers. */
export const arithmetic = defineMultipleChoiceTask<ArithmeticOptions, ArithmeticDoc>({
  id: 'arithmetic',
  version: 1,
  description: 'Math: the value of a generated multi-step expression (held-out by the corpus split hash), a choice among 4 close numbers. acc, acc_norm.',
  options: ArithmeticOptionsSchema,
  documents: memoByOptions(arithmeticDocs),
});
