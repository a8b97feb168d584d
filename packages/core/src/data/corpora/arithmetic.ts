/**
 * Math-domain text, part 2: generated arithmetic in the style of MathGLM (Yang et al. 2023,
 * "GPT Can Solve Mathematical Problems Without a Calculator"): multi-step expressions over
 * integers and decimals with `+ - * /` and parentheses, solved one operation at a time:
 *
 *     3 * (4 + 5) - 6 = 3 * 9 - 6 = 27 - 6 = 21
 *     7.5 / 2 + 1.25 = 3.75 + 1.25 = 5
 *
 * Arithmetic is exact (BigInt rationals); a divisor is always one of 2, 4, 5, 8, 10, 16, 20, 25, 50,
 * so every value is a terminating decimal. Problems are a pure function of the seed, and each is
 * assigned to a split by a hash of its expression, so identical expressions never straddle splits.
 */
import type { Rng } from '@bam/utils';
import { hashUniform, randInt, rngFor } from '../rng.ts';
import { SPLIT_FRACTIONS, type Doc, type Split } from '../types.ts';

/** One generated problem. `text` is the training line: expression, steps and answer joined by ` = `. */
export interface ArithmeticProblem {
  /** The question, e.g. `3 * (4 + 5) - 6`. */
  readonly expression: string;
  /** Intermediate expressions after each operation, e.g. `['3 * 9 - 6', '27 - 6']`. */
  readonly steps: readonly string[];
  /** The exact result as a decimal string, e.g. `21` or `-3.75`. */
  readonly answer: string;
  /** `expression = step1 = ... = answer`. */
  readonly text: string;
}

/** The seed of the corpus's arithmetic; change it and every arithmetic document changes. */
export const ARITHMETIC_SEED = 'bam-arithmetic-v1';
/** Problems generated for the corpus (all splits together). */
export const ARITHMETIC_PROBLEMS = 30_000;
/** Problems per arithmetic document. */
export const ARITHMETIC_LINES_PER_DOC = 40;

const DIVISORS = [2, 4, 5, 8, 10, 16, 20, 25, 50];
const MAX_ABS = 10_000_000n;
const MAX_DECIMALS = 6;

type Op = '+' | '-' | '*' | '/';
interface Rat {
  n: bigint;
  d: bigint;
}
type Node = { kind: 'num'; v: Rat } | { kind: 'op'; op: Op; l: Node; r: Node };

const PREC: Record<Op, number> = { '+': 1, '-': 1, '*': 2, '/': 2 };

function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b) [a, b] = [b, a % b];
  return a;
}

function rat(n: bigint, d = 1n): Rat {
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d) || 1n;
  return { n: n / g, d: d / g };
}

function apply(op: Op, a: Rat, b: Rat): Rat {
  switch (op) {
    case '+':
      return rat(a.n * b.d + b.n * a.d, a.d * b.d);
    case '-':
      return rat(a.n * b.d - b.n * a.d, a.d * b.d);
    case '*':
      return rat(a.n * b.n, a.d * b.d);
    case '/':
      return rat(a.n * b.d, a.d * b.n);
  }
}

/** Decimal digits needed to write `r` exactly, or -1 if it does not terminate within MAX_DECIMALS. */
function decimalsOf(r: Rat): number {
  let p = 1n;
  for (let k = 0; k <= MAX_DECIMALS; k++, p *= 10n) if (p % r.d === 0n) return k;
  return -1;
}

/** Exact decimal string of a terminating rational (`-3.75`, `21`). */
function formatRat(r: Rat): string {
  const k = decimalsOf(r);
  const scaled = (r.n * 10n ** BigInt(k)) / r.d;
  const neg = scaled < 0n;
  let digits = (neg ? -scaled : scaled).toString();
  if (k > 0) {
    digits = digits.padStart(k + 1, '0');
    digits = `${digits.slice(0, -k)}.${digits.slice(-k)}`;
  }
  return neg ? `-${digits}` : digits;
}

function render(node: Node, leftmost = true): string {
  if (node.kind === 'num') {
    const s = formatRat(node.v);
    return s.startsWith('-') && !leftmost ? `(${s})` : s;
  }
  const p = PREC[node.op];
  const lNeeds = node.l.kind === 'op' && PREC[node.l.op] < p;
  // A right operand of equal precedence keeps its parentheses (a + (b - c)), so the written
  // expression parses, left to right, into exactly this tree and the steps follow the usual order.
  const rNeeds = node.r.kind === 'op' && PREC[node.r.op] <= p;
  const l = lNeeds ? `(${render(node.l, true)})` : render(node.l, leftmost);
  const r = rNeeds ? `(${render(node.r, true)})` : render(node.r, false);
  return `${l} ${node.op} ${r}`;
}

/** Reduces the first operation (in evaluation order) whose operands are both numbers. */
function reduceOne(node: Node): Node {
  if (node.kind === 'num') return node;
  if (node.l.kind === 'num' && node.r.kind === 'num') return { kind: 'num', v: apply(node.op, node.l.v, node.r.v) };
  if (node.l.kind === 'op') return { ...node, l: reduceOne(node.l) };
  return { ...node, r: reduceOne(node.r) };
}

/** Every intermediate value is a terminating decimal of bounded size. */
function wellBehaved(node: Node): Rat | undefined {
  if (node.kind === 'num') return node.v;
  const l = wellBehaved(node.l);
  const r = wellBehaved(node.r);
  if (!l || !r) return undefined;
  const v = apply(node.op, l, r);
  if (decimalsOf(v) < 0) return undefined;
  const abs = v.n < 0n ? -v.n : v.n;
  if (abs / v.d > MAX_ABS) return undefined;
  return v;
}

function randomOperand(rng: Rng, decimals: boolean): Rat {
  const digits = rng() < 0.45 ? 1 : rng() < 0.8 ? 2 : 3;
  const int = BigInt(randInt(rng, digits === 1 ? 1 : 10 ** (digits - 1), 10 ** digits - 1));
  if (!decimals || rng() < 0.4) return rat(int);
  const places = rng() < 0.6 ? 1 : 2;
  const frac = BigInt(randInt(rng, 1, 10 ** places - 1));
  return rat(int * 10n ** BigInt(places) + frac, 10n ** BigInt(places));
}

function randomTree(rng: Rng, leaves: number, decimals: boolean): Node {
  if (leaves === 1) return { kind: 'num', v: randomOperand(rng, decimals) };
  const u = rng();
  const op: Op = u < 0.32 ? '+' : u < 0.6 ? '-' : u < 0.85 ? '*' : '/';
  if (op === '/') {
    const divisor = DIVISORS[randInt(rng, 0, DIVISORS.length - 1)];
    return { kind: 'op', op, l: randomTree(rng, leaves - 1, decimals), r: { kind: 'num', v: rat(BigInt(divisor)) } };
  }
  const left = randInt(rng, 1, leaves - 1);
  return { kind: 'op', op, l: randomTree(rng, left, decimals), r: randomTree(rng, leaves - left, decimals) };
}

/** One problem from `rng` (redraws until every intermediate value is well behaved). */
export function randomArithmeticProblem(rng: Rng): ArithmeticProblem {
  for (;;) {
    const leaves = randInt(rng, 2, 5);
    const tree = randomTree(rng, leaves, rng() < 0.3);
    if (!wellBehaved(tree)) continue;
    const expression = render(tree);
    const steps: string[] = [];
    let t = reduceOne(tree);
    while (t.kind === 'op') {
      steps.push(render(t));
      t = reduceOne(t);
    }
    const answer = formatRat(t.v);
    return { expression, steps, answer, text: [expression, ...steps, answer].join(' = ') };
  }
}

/** `count` problems, a pure function of `seed`. */
export function generateArithmetic(seed: string | number, count: number): ArithmeticProblem[] {
  const rng = rngFor('arithmetic', seed);
  return Array.from({ length: count }, () => randomArithmeticProblem(rng));
}

/** The split a problem belongs to, from a hash of its expression (80/10/10). */
export function arithmeticSplitOf(expression: string): Split {
  const u = hashUniform('arithmetic-split', expression);
  return u < SPLIT_FRACTIONS.train ? 'train' : u < SPLIT_FRACTIONS.train + SPLIT_FRACTIONS.validation ? 'validation' : 'test';
}

let corpusCache: Map<Split, ArithmeticProblem[]> | undefined;

/**
 * The corpus's arithmetic problems of one split (seed `ARITHMETIC_SEED`, `ARITHMETIC_PROBLEMS`
 * drawn in all). Downstream tasks (arithmetic answer choice) use the `test` problems.
 */
export function arithmeticProblems(split: Split): ArithmeticProblem[] {
  if (!corpusCache) {
    const m = new Map<Split, ArithmeticProblem[]>([
      ['train', []],
      ['validation', []],
      ['test', []],
    ]);
    for (const p of generateArithmetic(ARITHMETIC_SEED, ARITHMETIC_PROBLEMS)) m.get(arithmeticSplitOf(p.expression))!.push(p);
    corpusCache = m;
  }
  return corpusCache.get(split)!;
}

/** Arithmetic documents of one split: `ARITHMETIC_LINES_PER_DOC` problems each, `arith/<split>/<n>`. */
export function arithmeticDocs(split: Split): Doc[] {
  const problems = arithmeticProblems(split);
  const docs: Doc[] = [];
  for (let i = 0; i < problems.length; i += ARITHMETIC_LINES_PER_DOC) {
    const lines = problems.slice(i, i + ARITHMETIC_LINES_PER_DOC).map((p) => p.text);
    docs.push({ id: `arith/${split}/${String(i / ARITHMETIC_LINES_PER_DOC).padStart(4, '0')}`, text: lines.join('\n') });
  }
  return docs;
}
