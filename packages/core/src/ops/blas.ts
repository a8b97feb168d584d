/**
 * Matrix products on the wasm backend through the machine's BLAS (OpenBLAS), called in place on
 * the wasm heap.
 *
 * Why: tfjs-backend-wasm multiplies matrices with XNNPACK compiled to 128-bit wasm SIMD (no FMA),
 * 15–30 GFLOP/s on one thread here, and its Node build is single-threaded. OpenBLAS runs the same
 * products with the CPU's own vector units (AVX-512 FMA here) at ~100 GFLOP/s per thread, and on
 * every core (benchmarks/RESULTS.md, "BLAS matrix products"). Tensors of the wasm backend live in
 * one `WebAssembly.Memory`; `cblas_sgemm` is called through koffi (a C FFI shipped prebuilt in its
 * npm package: no compiler, no install step) with pointers into that memory, so nothing is
 * copied. Everything else (element-wise ops, softmax, gathers) stays on wasm.
 *
 * Three kernels, registered for the wasm backend only:
 * - `BatchMatMul` (TF.js's own name, so every `tf.matMul` on wasm uses it): any rank ≥ 2, batch
 *   axes broadcast as in TF.js, `transposeA`/`transposeB` at full speed (OpenBLAS reads the
 *   transposed layout; XNNPACK's transposed products are ~20× slower, hence ops/matmul.ts's
 *   explicit transposes, which `blasActive()` turns off).
 * - `BamGemmBatch` (bam's): out[o(i)] (+)= α·op(a[ia(i)])·op(b[ib(i)]) for a list of index triples,
 *   in one kernel: every (batch, head) product of attention (ops/attention.ts) with no
 *   unstack/stack/transpose copies, and sums over the query groups that share a key/value group.
 * - `BamGemmSegments` (bam's): products over row segments of one matrix, each segment with its
 *   own right-hand matrix, and the segments' outer products: a mixture's experts, each on its own
 *   tokens, in one kernel (ops/segment-matmul.ts, mixture/moe-ffn.ts).
 *
 * Selection (`enableBlas`, called when selectBackend activates wasm): env `BAM_BLAS` = `auto`
 * (default: the first of libopenblas.so.0, libopenblas.so, libopenblas.dylib that loads; on Debian
 * `apt-get install libopenblas0-pthread`), `off`, or a path to a CBLAS library. Threads: env
 * `BAM_BLAS_THREADS`, else every core on the main thread and 1 in worker threads (eval pools and
 * data-parallel replicas already put one worker on each core). The threads are bam's, not
 * OpenBLAS's (which always runs single-threaded): every product is cut into blocks fixed by its
 * shape and each block is one sgemm call on one thread (./blas-threads.ts), so a product has the
 * same bytes with any thread count, and so does every artifact built from it. If the library or
 * koffi cannot be loaded, wasm keeps XNNPACK and the reason is reported. Results differ from
 * XNNPACK's by float32 rounding only (tests compare both).
 */
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { isMainThread } from 'node:worker_threads';
// Registers the wasm backend's own kernels first, so ours replace them (not the reverse).
import '@tensorflow/tfjs-backend-wasm';
import { BamError, errorLine, ShapeError } from '../errors.ts';
import { BlasThreads, planProduct, ProductPlan, runPlanInline, type SgemmAt } from './blas-threads.ts';
import { sizeOf, type KernelArgs, type WasmBackend } from './kernels.ts';
import { opsSettings } from './settings.ts';

interface BlasLib {
  path: string;
  /** cblas_sgemm with addresses for the matrices (what bam's block plans call). */
  sgemm: SgemmAt;
  /** The address of a typed array's first element (libc's memmove(p, p, 0) returns p). */
  addressOf: (view: Float32Array) => number;
  setThreads?: (n: number) => void;
  /** e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH … SkylakeX", when the library says. */
  config?: string;
}

/** What `enableBlas` found; `active` says whether wasm's matrix products now run on it. */
export interface BlasStatus {
  active: boolean;
  /** The library path or soname that loaded (when active). */
  library?: string;
  /** The library's own description (OpenBLAS: version, build, CPU kernel). */
  config?: string;
  /** Threads this thread's products use. */
  threads?: number;
  /** One line for logs: what runs the products and why. */
  detail: string;
}

/** The libraries BAM_BLAS=auto tries, in order (the test suite's OpenBLAS detector tries the same). */
export const AUTO_LIBRARIES = ['libopenblas.so.0', 'libopenblas.so', 'libopenblas.0.dylib', 'libopenblas.dylib'];

let lib: BlasLib | undefined;
let status: BlasStatus = { active: false, detail: 'BLAS not enabled (selectBackend has not started wasm)' };
let threads = 1;
let xnnpackBatchMatMul: tf.KernelConfig | undefined;
/** Helper threads of this thread's products (none with 1 thread). */
let pool: BlasThreads | undefined;
const require = createRequire(import.meta.url);

/** Loads koffi and the first library of `candidates` that exports cblas_sgemm; throws with every reason. */
function loadLibrary(candidates: readonly string[]): BlasLib {
  let koffi: typeof import('koffi');
  try {
    koffi = require('koffi') as typeof import('koffi');
  } catch (err) {
    throw new Error(`koffi (the C FFI) did not load: ${errorLine(err)}`);
  }
  const failures: string[] = [];
  for (const path of candidates) {
    try {
      const so = koffi.load(path);
      const sgemm = so.func(
        'void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, uintptr_t a, int lda, uintptr_t b, int ldb, float beta, uintptr_t c, int ldc)',
      ) as SgemmAt;
      const memmove = so.func('uintptr_t memmove(float *dst, float *src, size_t n)') as (d: Float32Array, s: Float32Array, n: number) => number;
      const optional = <T>(decl: string): T | undefined => {
        try {
          return so.func(decl) as T;
        } catch {
          return undefined;
        }
      };
      const getConfig = optional<() => string>('const char *openblas_get_config()');
      return {
        path,
        sgemm,
        addressOf: (view) => memmove(view, view, 0),
        setThreads: optional<(n: number) => void>('void openblas_set_num_threads(int n)'),
        config: getConfig ? getConfig() : undefined,
      };
    } catch (err) {
      failures.push(`${path}: ${errorLine(err)}`);
    }
  }
  throw new Error(failures.join('; '));
}

function parseThreads(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new BamError(`BAM_BLAS_THREADS must be a whole number ≥ 1, got '${value}'`, 'E_BLAS', 'unset it to use every core on the main thread and 1 per worker thread');
  }
  return n;
}

/** Runs a plan's sgemm calls on the wasm heap that `view` lies in, on this thread's helpers too. */
function runPlan(plan: ProductPlan, view: Float32Array): void {
  const base = lib!.addressOf(new Float32Array(view.buffer, 0, 1));
  if (pool && plan.tasks > 1) pool.run(plan, lib!.sgemm, base);
  else runPlanInline(plan, lib!.sgemm, base);
}

/** Offset in floats of a heap view from the heap's start. */
const offsetOf = (view: Float32Array) => view.byteOffset / 4;

function backendOf(args: KernelArgs): WasmBackend {
  return args.backend as WasmBackend;
}

/** Flat index into a batch of shape `inShape` for flat output batch index `o` of `outShape` (broadcasting). */
function broadcastIndex(o: number, outShape: readonly number[], inShape: readonly number[]): number {
  let idx = 0;
  let stride = 1;
  let rest = o;
  for (let i = outShape.length - 1, j = inShape.length - 1; i >= 0; i--, j--) {
    const coord = rest % outShape[i];
    rest = Math.floor(rest / outShape[i]);
    if (j >= 0) {
      if (inShape[j] !== 1) idx += coord * stride;
      stride *= inShape[j];
    }
  }
  return idx;
}

/** TF.js's `BatchMatMul` on OpenBLAS: rank ≥ 2, broadcast batch axes, transposes by flag. */
function batchMatMul(args: KernelArgs): tf.TensorInfo {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
  if (!lib || a.dtype !== 'float32' || b.dtype !== 'float32') {
    return xnnpackBatchMatMul!.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const ra = a.shape.length;
  const rb = b.shape.length;
  const [aRows, aCols] = [a.shape[ra - 2], a.shape[ra - 1]];
  const [bRows, bCols] = [b.shape[rb - 2], b.shape[rb - 1]];
  const M = transposeA ? aCols : aRows;
  const K = transposeA ? aRows : aCols;
  const N = transposeB ? bRows : bCols;
  const Kb = transposeB ? bCols : bRows;
  if (K !== Kb) throw new ShapeError('matMul inner dimensions', [K], [Kb], 'BatchMatMul');
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const outBatch = tf.backend_util.assertAndGetBroadcastShape(aBatch, bBatch);
  const be = backendOf(args);
  const outInfo = be.makeOutput([...outBatch, M, N], 'float32');
  const G = sizeOf(outBatch);
  if (G * M * N === 0) return outInfo;
  const out = be.typedArrayFromHeap(outInfo) as Float32Array;
  if (K === 0) {
    out.fill(0);
    return outInfo;
  }
  const av = be.typedArrayFromHeap(a) as Float32Array;
  const bv = be.typedArrayFromHeap(b) as Float32Array;
  const sameA = sizeOf(aBatch) === G;
  const sameB = sizeOf(bBatch) === G;
  const plan = new ProductPlan(opsSettings().productBlocks);
  const shape = { ta: transposeA, tb: transposeB, m: M, n: N, k: K, lda: aCols, ldb: bCols, ldc: N, alpha: 1 };
  for (let g = 0; g < G; g++) {
    const ia = sameA ? g : broadcastIndex(g, outBatch, aBatch);
    const ib = sameB ? g : broadcastIndex(g, outBatch, bBatch);
    planProduct(plan, shape, [{ a: offsetOf(av) + ia * M * K, b: offsetOf(bv) + ib * K * N }], offsetOf(out) + g * M * N);
  }
  runPlan(plan, out);
  return outInfo;
}

/** Name of bam's grouped-product kernel (see the module comment and `gemmBatch`). */
export const GEMM_BATCH = 'BamGemmBatch';

/** Attributes of `gemmBatch`. */
export interface GemmBatchOptions {
  transA?: boolean;
  transB?: boolean;
  /** Matrix of `a` for product i (default i). */
  aIndex?: readonly number[];
  /** Matrix of `b` for product i (default i). */
  bIndex?: readonly number[];
  /** Output slot of product i (default i); products sharing a slot are summed. */
  outIndex?: readonly number[];
  /** Number of output slots (default: the number of products). */
  outCount?: number;
  /** Multiplies every product (default 1). */
  alpha?: number;
}

function gemmBatchKernel(args: KernelArgs): tf.TensorInfo {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const o = args.attrs as unknown as Required<GemmBatchOptions>;
  const [, aRows, aCols] = a.shape;
  const [, bRows, bCols] = b.shape;
  const M = o.transA ? aCols : aRows;
  const K = o.transA ? aRows : aCols;
  const N = o.transB ? bRows : bCols;
  const be = backendOf(args);
  const outInfo = be.makeOutput([o.outCount, M, N], 'float32');
  const out = be.typedArrayFromHeap(outInfo) as Float32Array;
  const av = be.typedArrayFromHeap(a) as Float32Array;
  const bv = be.typedArrayFromHeap(b) as Float32Array;
  // The products of each output slot, in order: one thread sums them (see planProduct).
  const terms: Array<Array<{ a: number; b: number }>> = Array.from({ length: o.outCount }, () => []);
  for (let i = 0; i < o.aIndex.length; i++) terms[o.outIndex[i]].push({ a: offsetOf(av) + o.aIndex[i] * M * K, b: offsetOf(bv) + o.bIndex[i] * K * N });
  const plan = new ProductPlan(opsSettings().productBlocks);
  const shape = { ta: o.transA, tb: o.transB, m: M, n: N, k: K, lda: aCols, ldb: bCols, ldc: N, alpha: o.alpha };
  for (let io = 0; io < o.outCount; io++) {
    if (terms[io].length === 0) out.fill(0, io * M * N, (io + 1) * M * N);
    else planProduct(plan, shape, terms[io], offsetOf(out) + io * M * N);
  }
  runPlan(plan, out);
  return outInfo;
}

/**
 * Products of matrix lists a [Ga, ·, ·] and b [Gb, ·, ·] (float32, on wasm with BLAS active):
 * out[outIndex[i]] (+)= alpha · op(a[aIndex[i]]) · op(b[bIndex[i]]), op = transpose when asked.
 * Returns [outCount, M, N]; slots no product writes are zero. No gradient (it is the building
 * block of ops with written-out gradients). Throws unless `blasActive()`.
 */
export function gemmBatch(a: tf.Tensor3D, b: tf.Tensor3D, opts: GemmBatchOptions = {}): tf.Tensor3D {
  if (!blasActive()) throw new BamError('gemmBatch needs the wasm backend with BLAS active', 'E_BACKEND', 'check blasActive() before calling it');
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const count = opts.aIndex?.length ?? opts.bIndex?.length ?? opts.outIndex?.length ?? a.shape[0];
  const iota = Array.from({ length: count }, (_, i) => i);
  const aIndex = opts.aIndex ?? iota;
  const bIndex = opts.bIndex ?? iota;
  const outIndex = opts.outIndex ?? iota;
  const outCount = opts.outCount ?? count;
  const K = transA ? a.shape[1] : a.shape[2];
  const Kb = transB ? b.shape[2] : b.shape[1];
  if (a.rank !== 3 || b.rank !== 3 || K !== Kb) throw new ShapeError('gemmBatch operands', [K], [Kb], 'gemmBatch');
  const bad = (idx: readonly number[], n: number) => idx.length !== count || idx.some((j) => !Number.isInteger(j) || j < 0 || j >= n);
  if (bad(aIndex, a.shape[0]) || bad(bIndex, b.shape[0]) || bad(outIndex, outCount)) {
    throw new BamError(`gemmBatch index lists must have ${count} entries within their operands`, 'E_SHAPE', 'this is a bug in the caller of gemmBatch');
  }
  const attrs = { transA, transB, aIndex, bIndex, outIndex, outCount, alpha: opts.alpha ?? 1 };
  return tf.engine().runKernel(GEMM_BATCH, { a, b }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor3D;
}

/** Name of bam's kernel of products over row segments (see `gemmSegments`). */
export const GEMM_SEGMENTS = 'BamGemmSegments';

/** Attributes of `BamGemmSegments`: rows per segment, and which of its two forms. */
interface GemmSegmentsAttrs {
  counts: number[];
  /** 'rows': out[seg s] = a[seg s] · op(b_s); 'outer': out_s = a[seg s]ᵀ · b[seg s]. */
  form: 'rows' | 'outer';
  /** 'rows' only: op(b_s) = b_sᵀ. */
  transB: boolean;
}

/**
 * Products over the row segments of a (segment s = `counts[s]` rows, in order), every segment's
 * blocks in ONE plan so that all of them share the threads (./blas-threads.ts). Each segment is
 * planned exactly as `BatchMatMul` plans the same product of a tensor holding only its rows, so
 * the bits are those of the segment-by-segment products.
 */
function gemmSegmentsKernel(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { counts, form, transB } = args.attrs as unknown as GemmSegmentsAttrs;
  const inputs = args.inputs as Record<string, tf.TensorInfo>;
  const a = inputs.a;
  const K = a.shape[1];
  const be = backendOf(args);
  const plan = new ProductPlan(opsSettings().productBlocks);
  if (form === 'rows') {
    const bs = counts.map((_, s) => inputs[`b${s}`]);
    const [bRows, bCols] = bs[0].shape;
    const N = transB ? bRows : bCols;
    const outInfo = be.makeOutput([a.shape[0], N], 'float32');
    // Views after every makeOutput: allocating can grow (and so detach) the heap.
    const out = be.typedArrayFromHeap(outInfo) as Float32Array;
    const aAt = offsetOf(be.typedArrayFromHeap(a) as Float32Array);
    let row = 0;
    counts.forEach((m, s) => {
      const shape = { ta: false, tb: transB, m, n: N, k: K, lda: K, ldb: bCols, ldc: N, alpha: 1 };
      if (m > 0) planProduct(plan, shape, [{ a: aAt + row * K, b: offsetOf(be.typedArrayFromHeap(bs[s]) as Float32Array) }], offsetOf(out) + row * N);
      row += m;
    });
    if (plan.tasks > 0) runPlan(plan, out);
    return outInfo;
  }
  const d = inputs.b;
  const N = d.shape[1];
  const outInfos = counts.map(() => be.makeOutput([K, N], 'float32'));
  const outs = outInfos.map((o) => be.typedArrayFromHeap(o) as Float32Array);
  const aAt = offsetOf(be.typedArrayFromHeap(a) as Float32Array);
  const dAt = offsetOf(be.typedArrayFromHeap(d) as Float32Array);
  let row = 0;
  counts.forEach((m, s) => {
    const shape = { ta: true, tb: false, m: K, n: N, k: m, lda: K, ldb: N, ldc: N, alpha: 1 };
    if (m > 0) planProduct(plan, shape, [{ a: aAt + row * K, b: dAt + row * N }], offsetOf(outs[s]));
    else outs[s].fill(0);
    row += m;
  });
  if (plan.tasks > 0) runPlan(plan, outs[0]);
  return outInfos;
}

function checkSegments(a: tf.Tensor2D, counts: readonly number[], where: string): void {
  if (!blasActive()) throw new BamError(`${where} needs the wasm backend with BLAS active`, 'E_BACKEND', 'check blasActive() before calling it');
  if (a.rank !== 2 || counts.length === 0 || counts.some((c) => !Number.isInteger(c) || c < 0) || counts.reduce((p, c) => p + c, 0) !== a.shape[0]) {
    throw new BamError(`${where}: segment row counts [${counts.join(', ')}] must be whole numbers summing to a's ${a.shape[0]} rows`, 'E_SHAPE', 'this is a bug in the caller');
  }
}

/**
 * Products over row segments of a [M, K] (float32, on wasm with BLAS active): segment s is the
 * next `counts[s]` rows, and its rows of the result [M, N] are a[seg s] · op(b[s]), op(b[s]) =
 * b[s] [K, N], or b[s]ᵀ for b[s] [N, K] with `transB`. One kernel for every segment (a mixture's
 * experts, each on its own tokens). No gradient: ops/segment-matmul.ts builds the op with one.
 */
export function gemmSegments(a: tf.Tensor2D, b: readonly tf.Tensor2D[], counts: readonly number[], transB = false): tf.Tensor2D {
  checkSegments(a, counts, 'gemmSegments');
  const K = a.shape[1];
  if (b.length !== counts.length) throw new BamError(`gemmSegments got ${b.length} matrices for ${counts.length} segments`, 'E_SHAPE', 'this is a bug in the caller');
  const N = transB ? b[0].shape[0] : b[0].shape[1];
  const want = transB ? [N, K] : [K, N];
  const bad = b.find((w) => w.rank !== 2 || w.shape[0] !== want[0] || w.shape[1] !== want[1]);
  if (bad) throw new ShapeError('gemmSegments operands b', want, bad.shape, 'gemmSegments');
  const inputs: Record<string, tf.Tensor> = { a };
  b.forEach((w, s) => (inputs[`b${s}`] = w));
  const attrs: GemmSegmentsAttrs = { counts: [...counts], form: 'rows', transB };
  return tf.engine().runKernel(GEMM_SEGMENTS, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor2D;
}

/**
 * The per-segment outer products of a [M, K] and d [M, N] over the same row segments:
 * out[s] = a[seg s]ᵀ · d[seg s] [K, N] (zero for an empty segment); a mixture's weight gradients.
 */
export function gemmSegmentsOuter(a: tf.Tensor2D, d: tf.Tensor2D, counts: readonly number[]): tf.Tensor2D[] {
  checkSegments(a, counts, 'gemmSegmentsOuter');
  if (d.rank !== 2 || d.shape[0] !== a.shape[0]) throw new ShapeError('gemmSegmentsOuter operand d', [a.shape[0], -1], d.shape, 'gemmSegmentsOuter');
  const attrs: GemmSegmentsAttrs = { counts: [...counts], form: 'outer', transB: false };
  return tf.engine().runKernel(GEMM_SEGMENTS, { a, b: d }, attrs as unknown as tf.NamedAttrMap) as unknown as tf.Tensor2D[];
}

/** Whether wasm's matrix products run on BLAS now (wasm active, a library loaded, engine `blas`). */
export function blasActive(): boolean {
  return status.active && tf.getBackend() === 'wasm';
}

/** What runs wasm's matrix products, and why. */
export function blasStatus(): Readonly<BlasStatus> {
  return status;
}

function registerBlasKernels(): void {
  if (!xnnpackBatchMatMul) xnnpackBatchMatMul = tf.getKernel('BatchMatMul', 'wasm');
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: batchMatMul as unknown as tf.KernelFunc });
  if (!tf.getKernel(GEMM_BATCH, 'wasm')) tf.registerKernel({ kernelName: GEMM_BATCH, backendName: 'wasm', kernelFunc: gemmBatchKernel as unknown as tf.KernelFunc });
  if (!tf.getKernel(GEMM_SEGMENTS, 'wasm')) tf.registerKernel({ kernelName: GEMM_SEGMENTS, backendName: 'wasm', kernelFunc: gemmSegmentsKernel as unknown as tf.KernelFunc });
}

function restoreXnnpack(): void {
  if (!xnnpackBatchMatMul) return;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel(xnnpackBatchMatMul);
  // XNNPACK's kernel binds its wasm function when the backend starts; bind it again.
  const backend = tf.engine().registry.wasm;
  if (backend && xnnpackBatchMatMul.setupFunc) xnnpackBatchMatMul.setupFunc(backend);
}

/** Options of `enableBlas`; each defaults to its env variable. */
export interface EnableBlasOptions {
  /** `auto`, `off`, or a library path (env `BAM_BLAS`). */
  library?: string;
  /** Threads per product from this thread (env `BAM_BLAS_THREADS`). */
  threads?: number;
  env?: Record<string, string | undefined>;
}

/**
 * Routes wasm's matrix products to BLAS when a library loads (see the module comment), or back to
 * XNNPACK with `library: 'off'`. Never throws for a missing library: the status says why it is not
 * active. A library path that was asked for by name and fails does throw (a BamError naming it).
 */
export function enableBlas(opts: EnableBlasOptions = {}): BlasStatus {
  const env = opts.env ?? process.env;
  const wanted = (opts.library ?? env.BAM_BLAS ?? 'auto').trim() || 'auto';
  threads = opts.threads ?? parseThreads(env.BAM_BLAS_THREADS) ?? (isMainThread ? availableParallelism() : 1);
  if (wanted === 'off') {
    pool?.close();
    pool = undefined;
    restoreXnnpack();
    status = { active: false, detail: 'matrix products on XNNPACK (BAM_BLAS=off)' };
    return status;
  }
  const candidates = wanted === 'auto' ? AUTO_LIBRARIES : [wanted];
  try {
    lib = lib && candidates.includes(lib.path) ? lib : loadLibrary(candidates);
  } catch (err) {
    restoreXnnpack();
    const why = errorLine(err);
    if (wanted !== 'auto') {
      status = { active: false, detail: `matrix products on XNNPACK (BLAS did not load: ${why})` };
      throw new BamError(`BAM_BLAS=${wanted} could not be loaded: ${why}`, 'E_BLAS', 'give the path of a CBLAS library (e.g. libopenblas.so.0), or BAM_BLAS=auto / off');
    }
    status = { active: false, detail: `matrix products on XNNPACK (no BLAS: ${why}; on Debian/Ubuntu \`apt-get install libopenblas0-pthread\` makes training ~2× faster)` };
    return status;
  }
  registerBlasKernels();
  // OpenBLAS's own threads would make a product's bits depend on their count (see the module comment).
  lib.setThreads?.(1);
  if (pool?.threads !== threads) {
    pool?.close();
    pool = threads > 1 ? new BlasThreads(threads, require.resolve('koffi'), lib.path) : undefined;
  }
  const name = lib.config ? lib.config.split(' ').slice(0, 2).join(' ') : lib.path;
  status = {
    active: true,
    library: lib.path,
    ...(lib.config ? { config: lib.config } : {}),
    threads,
    detail: `matrix products on ${name} (${lib.path}, ${threads} thread${threads === 1 ? '' : 's'})`,
  };
  return status;
}
