/**
 * bam's own threads for BLAS products (ops/blas.ts), so that a product's bytes never depend on the
 * thread count.
 *
 * Why: OpenBLAS's threaded sgemm partitions a product by the number of threads, and which
 * micro-kernel (full tile or edge tile, each with its own order of additions) computes an element
 * depends on that partition; on AMD's Zen kernels 1 and 2 threads give different bits, so one
 * content-addressed artifact held different bytes when built by `bam upcycle` (every core) or in a
 * sweep worker (1 thread). Here OpenBLAS always runs single-threaded, and bam cuts every product
 * into blocks fixed by its shape alone (`planProduct`: whole rows or columns of the output, never
 * the inner dimension, so every element is one uninterrupted dot product), each block one sgemm
 * call. Which thread runs a block changes nothing in its bytes, so 1, 2 or 16 threads give the same
 * result.
 *
 * The helpers are worker threads that call sgemm through their own koffi handle with raw addresses
 * into the caller's wasm heap (one process, one address space), woken through a SharedArrayBuffer;
 * the calling thread works on blocks too and blocks in `Atomics.wait` until every block is done,
 * so the kernel stays synchronous, as TF.js kernels must be.
 */
import { Worker } from 'node:worker_threads';

/** Numbers per sgemm call in a plan: ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc (offsets in floats from the heap's start). */
export const CALL_FIELDS = 13;
const NO_TRANS = 111;
const TRANS = 112;

/** Every block holds at least this many FLOPs (about 40 µs on one core: more than handing a block over costs); a product of less than twice this is one block. */
const BLOCK_FLOPS = 1 << 22;
/** At most this many blocks per product (enough to keep 2–16 threads busy). */
const MAX_BLOCKS = 16;
/**
 * Block edges fall on multiples of this: whole OpenBLAS tiles (4–16 wide), and blocks wide enough
 * that packing the other operand again for each block (every sgemm call packs both) costs little.
 */
const ALIGN = 64;

/**
 * sgemm calls grouped into tasks: a task's calls run in order on one thread (products summed into
 * one output slot), tasks in any order on any thread.
 */
export class ProductPlan {
  readonly calls: number[] = [];
  /** Call index where each task starts; the last entry closes the last task. */
  readonly starts: number[] = [0];

  /** Which side of each product's output `planProduct` cuts into blocks. */
  constructor(readonly cut: ProductCut = 'rows') {}

  get tasks(): number {
    return this.starts.length - 1;
  }

  /** Adds one call: op(A)·op(B) of m×k by k×n into C (row-major), offsets in floats from the heap start. */
  call(ta: boolean, tb: boolean, m: number, n: number, k: number, alpha: number, a: number, lda: number, b: number, ldb: number, beta: number, c: number, ldc: number): void {
    this.calls.push(ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }

  endTask(): void {
    if (this.calls.length / CALL_FIELDS > this.starts[this.starts.length - 1]) this.starts.push(this.calls.length / CALL_FIELDS);
  }
}

/**
 * Which side of a product's output its blocks cut: `rows` (default) cuts the rows whenever they
 * make two blocks (m ≥ 2·ALIGN), else the longer side; `longer` always the longer side.
 *
 * Why rows: measured on 2 cores with OpenBLAS 0.3.21 (benchmarks/RESULTS.md, "Round five"), blocks
 * of whole rows run concurrently at 1.5–2× one thread's rate for every shape of a training step,
 * while blocks of columns of the same product often ran no faster on two threads than on one (the
 * LM head [1024, 128]·[128, 4096]: 80 against 148 GFLOP/s by rows). On one thread the two cuts are
 * within a few percent. Either cut is fixed by the shape, so the thread count never changes a bit;
 * the two cuts give different bits, as any two calls of different sizes may.
 */
export type ProductCut = 'rows' | 'longer';

/**
 * The fixed blocks of an m×n output (inner dimension k): `[start, end)` ranges of rows (`axis`
 * 'm') or columns ('n'), from the shape alone. Cuts the side `cut` picks into at most `MAX_BLOCKS`
 * pieces of ≥ `BLOCK_FLOPS` each, on multiples of `ALIGN`.
 */
export function productBlocks(m: number, n: number, k: number, cut: ProductCut = 'rows'): { axis: 'm' | 'n'; ranges: Array<[number, number]> } {
  const axis = (cut === 'rows' && m >= 2 * ALIGN) || m >= n ? 'm' : 'n';
  const len = axis === 'm' ? m : n;
  const want = Math.min(MAX_BLOCKS, Math.floor((2 * m * n * k) / BLOCK_FLOPS), Math.ceil(len / ALIGN));
  if (want <= 1) return { axis, ranges: [[0, len]] };
  const size = Math.ceil(len / want / ALIGN) * ALIGN;
  const ranges: Array<[number, number]> = [];
  for (let s = 0; s < len; s += size) ranges.push([s, Math.min(len, s + size)]);
  return { axis, ranges };
}

/**
 * Adds the blocks of op(A)·op(B) (row-major, leading dimensions lda/ldb/ldc; the side `plan.cut`
 * picks) to `plan`: for each block one task holding one call per term, so `terms` products summed
 * into one output (alpha·Σ, beta 0 for the first) stay in their order on one thread.
 */
export function planProduct(
  plan: ProductPlan,
  shape: { ta: boolean; tb: boolean; m: number; n: number; k: number; lda: number; ldb: number; ldc: number; alpha: number },
  terms: ReadonlyArray<{ a: number; b: number }>,
  c: number,
): void {
  const { ta, tb, m, n, k, lda, ldb, ldc, alpha } = shape;
  const { axis, ranges } = productBlocks(m, n, k, plan.cut);
  for (const [s, e] of ranges) {
    terms.forEach((t, i) => {
      const beta = i === 0 ? 0 : 1;
      if (axis === 'm') plan.call(ta, tb, e - s, n, k, alpha, ta ? t.a + s : t.a + s * lda, lda, t.b, ldb, beta, c + s * ldc, ldc);
      else plan.call(ta, tb, m, e - s, k, alpha, t.a, lda, tb ? t.b + s * ldb : t.b + s, ldb, beta, c + s, ldc);
    });
    plan.endTask();
  }
}

/** cblas_sgemm with the three matrices as addresses. */
export type SgemmAt = (
  order: number, ta: number, tb: number, m: number, n: number, k: number,
  alpha: number, a: number, lda: number, b: number, ldb: number,
  beta: number, c: number, ldc: number,
) => void;

const ROW_MAJOR = 101;
/** Calls one worker's share holds at most (a longer plan runs in rounds). */
const CAPACITY = 8192;
// Control words: generation (helpers wait on it), next task to claim, tasks done, task count, stop.
const GEN = 0;
const NEXT = 1;
const DONE = 2;
const COUNT = 3;
const STOP = 4;
/** NEXT while a round is being written: every claim fails until it is reset. */
const CLOSED = 1 << 30;

/** What helpers and the caller share: control words, task starts, and the calls (as float64). */
interface Shared {
  ctl: Int32Array;
  starts: Int32Array;
  calls: Float64Array;
}

/** Claims and runs tasks of the current round until none is left (caller and helpers alike). */
function work(s: Shared, sgemm: SgemmAt, base: number): void {
  for (;;) {
    const t = Atomics.add(s.ctl, NEXT, 1);
    if (t >= Atomics.load(s.ctl, COUNT)) return;
    for (let i = s.starts[t]; i < s.starts[t + 1]; i++) {
      const o = i * CALL_FIELDS;
      const c = s.calls;
      sgemm(ROW_MAJOR, c[o], c[o + 1], c[o + 2], c[o + 3], c[o + 4], c[o + 5], base + 4 * c[o + 6], c[o + 7], base + 4 * c[o + 8], c[o + 9], c[o + 10], base + 4 * c[o + 11], c[o + 12]);
    }
    if (Atomics.add(s.ctl, DONE, 1) + 1 === Atomics.load(s.ctl, COUNT)) Atomics.notify(s.ctl, DONE);
  }
}

// The helper's code (a worker evaluated from this string: it must not need tsx). The heap base
// comes in a control word pair, as a float64 in `calls`' header slot.
const HELPER = `
const { workerData } = require('node:worker_threads');
const koffi = require(workerData.koffi);
const sgemm = koffi.load(workerData.library).func('void cblas_sgemm(int, int, int, int, int, int, float, uintptr_t, int, uintptr_t, int, float, uintptr_t, int)');
const ctl = new Int32Array(workerData.ctl);
const starts = new Int32Array(workerData.starts);
const calls = new Float64Array(workerData.calls);
const base = new Float64Array(workerData.base);
const work = ${work.toString()};
const [GEN, NEXT, DONE, COUNT, STOP, CALL_FIELDS, ROW_MAJOR] = ${JSON.stringify([GEN, NEXT, DONE, COUNT, STOP, CALL_FIELDS, ROW_MAJOR])};
let gen = Atomics.load(ctl, GEN);
for (;;) {
  Atomics.wait(ctl, GEN, gen);
  gen = Atomics.load(ctl, GEN);
  if (Atomics.load(ctl, STOP)) break;
  work({ ctl, starts, calls }, sgemm, base[0]);
}`;

/** A fixed set of helper threads running plans with the calling thread. */
export class BlasThreads {
  private readonly shared: Shared;
  private readonly base = new Float64Array(new SharedArrayBuffer(8));
  private readonly workers: Worker[] = [];

  /** `threads` − 1 helpers; the caller is the last thread. */
  constructor(
    readonly threads: number,
    koffiPath: string,
    library: string,
  ) {
    this.shared = {
      ctl: new Int32Array(new SharedArrayBuffer(4 * 8)),
      starts: new Int32Array(new SharedArrayBuffer(4 * (CAPACITY + 1))),
      calls: new Float64Array(new SharedArrayBuffer(8 * CAPACITY * CALL_FIELDS)),
    };
    const workerData = { koffi: koffiPath, library, ctl: this.shared.ctl.buffer, starts: this.shared.starts.buffer, calls: this.shared.calls.buffer, base: this.base.buffer };
    for (let i = 1; i < threads; i++) {
      const w = new Worker(HELPER, { eval: true, workerData });
      w.unref(); // helpers never keep a process alive
      this.workers.push(w);
    }
  }

  /** Runs every task of `plan` (heap addresses from `base`), in rounds of at most CAPACITY calls. */
  run(plan: ProductPlan, sgemm: SgemmAt, base: number): void {
    const s = this.shared;
    this.base[0] = base;
    let task = 0;
    while (task < plan.tasks) {
      Atomics.store(s.ctl, NEXT, CLOSED);
      const first = plan.starts[task];
      let end = task;
      while (end < plan.tasks && (plan.starts[end + 1] - first <= CAPACITY || end === task)) end++;
      if (plan.starts[end] - first > CAPACITY) throw new Error(`one BLAS task holds ${plan.starts[end] - first} calls, more than ${CAPACITY}`);
      for (let t = task; t <= end; t++) s.starts[t - task] = plan.starts[t] - first;
      s.calls.set(plan.calls.slice(first * CALL_FIELDS, plan.starts[end] * CALL_FIELDS));
      const count = end - task;
      Atomics.store(s.ctl, COUNT, count);
      Atomics.store(s.ctl, DONE, 0);
      Atomics.store(s.ctl, NEXT, 0);
      if (count > 1) {
        Atomics.add(s.ctl, GEN, 1);
        Atomics.notify(s.ctl, GEN);
      }
      work(s, sgemm, base);
      for (let d; (d = Atomics.load(s.ctl, DONE)) < count; ) Atomics.wait(s.ctl, DONE, d);
      task = end;
    }
  }

  /** Stops the helpers. */
  close(): void {
    Atomics.store(this.shared.ctl, STOP, 1);
    Atomics.add(this.shared.ctl, GEN, 1);
    Atomics.notify(this.shared.ctl, GEN);
    this.workers.length = 0;
  }
}

/** Runs a plan on the calling thread alone (1 thread: no helpers). */
export function runPlanInline(plan: ProductPlan, sgemm: SgemmAt, base: number): void {
  const c = plan.calls;
  for (let o = 0; o < c.length; o += CALL_FIELDS) {
    sgemm(ROW_MAJOR, c[o], c[o + 1], c[o + 2], c[o + 3], c[o + 4], c[o + 5], base + 4 * c[o + 6], c[o + 7], base + 4 * c[o + 8], c[o + 9], c[o + 10], base + 4 * c[o + 11], c[o + 12]);
  }
}
