/**
 * Kernels for the tfjs wasm backend (tfjs 4.22): one it lacks, six it has but slowly, and bam's
 * own element-wise ones (matrix products on BLAS are in ./blas.ts).
 *
 * - `UnsortedSegmentSum` is the gradient of `tf.gather` (embedding lookup, MoE dispatch); wasm
 *   has no kernel for it, so any gradient through a gather fails there.
 * - `Slice`, `SplitV` and `Unpack` on wasm copy the WHOLE input out of the wasm heap
 *   (`backend.readSync`) on every call, so taking G slices of a tensor costs G full copies
 *   (32 row blocks of a [4096, 128] tensor: ~22 ms, versus ~0.3 ms here). The replacements below
 *   read the heap through zero-copy views and copy only the contiguous runs they need.
 * - `GatherV2` on wasm takes ~1.5 ms to pick 256 rows of a [1024, 128] tensor and ~5 ms for an
 *   embedding lookup of 1024 rows; copying the rows' contiguous runs here is a fraction of that.
 * - `Identity` on wasm copies every element; ours shares the input's data (`makeIdentity`).
 * - `Concat` on wasm copies short runs slowly (`makeConcat`).
 * - `BamXentNll` (bam's): each row's cross-entropy from the softmax, without wasm's two row maxima.
 * - `BamSoftmaxXentGrad` (bam's): the cross-entropy gradient (p − onehot(t))·s in one pass,
 *   instead of a [N, V] one-hot, a cast, a subtraction and a product (model/loss.ts).
 * - `BamAdamW` (bam's): one AdamW step of one parameter in one pass (ops/adamw.ts).
 * - `BamRope` (bam's): RoPE's rotation, or its transpose for the gradient, in one pass
 *   (ops/rope.ts).
 *
 * The kernels here are JavaScript over `typedArrayFromHeap` views, except that BamAdamW, BamRope,
 * Transpose [0, 2, 1, 3] and the float32 chains (`CHAINS`) run bam's wasm SIMD kernels on the same
 * heap when they load (./simd: same arithmetic, same bits).
 * Views are taken after `makeOutput`, because allocating the output can grow (and so detach) the
 * wasm heap.
 */
import * as tf from '@tensorflow/tfjs';
// Registers the wasm backend's own kernels first, so ours replace them (not the reverse).
import '@tensorflow/tfjs-backend-wasm';
import { simdKernels } from './simd/index.ts';

/**
 * Whether bam's wasm SIMD kernels run (opsSettings().wasmKernels): 'simd', or 'js' for the
 * JavaScript loops and tfjs kernels and ops they replace.
 */
let kernelImpl: 'simd' | 'js' = 'simd';

/** Sets whether bam's wasm SIMD kernels run (called by setOpsSettings). */
export function setWasmKernelImpl(impl: 'simd' | 'js'): void {
  kernelImpl = impl;
}

/** bam's SIMD kernels on `backend`'s heap when the setting asks for them and they load there. */
const simdOn = (backend: unknown) => (kernelImpl === 'simd' ? simdKernels(backend) : undefined);

type Values = Float32Array | Int32Array | Uint8Array;

/** The part of tfjs-backend-wasm's BackendWasm these kernels (and ./blas.ts) use. */
export interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: ArrayLike<number>): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Values;
}

/** What a kernel function receives. */
export interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((p, d) => p * d, 1);

/**
 * out[dst .. dst+run) = src[from .. from+run). Short runs (RoPE's 16-float half-heads, column
 * blocks) copy faster in a loop than through a subarray view, which is what wasm's own kernels do.
 */
function copyRun(out: Values, dst: number, src: Values, from: number, run: number): void {
  if (run <= 64) for (let j = 0; j < run; j++) out[dst + j] = src[from + j];
  else out.set(src.subarray(from, from + run), dst);
}

/**
 * out[s, ...] = Σ_{i: ids[i] = s} x[i, ...] for segment ids in [0, numSegments); ids out of range
 * are dropped, as in TensorFlow. segmentIds may have any rank r that prefixes x's shape.
 */
function unsortedSegmentSum({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const b = backend as WasmBackend;
  const x = inputs.x!;
  const ids = inputs.segmentIds!;
  const numSegments = (attrs as unknown as { numSegments: number }).numSegments;
  const inner = x.shape.slice(ids.shape.length);
  const innerSize = sizeOf(inner);
  const outInfo = b.makeOutput([numSegments, ...inner], x.dtype);
  const out = b.typedArrayFromHeap(outInfo);
  const xv = b.typedArrayFromHeap(x);
  const iv = b.typedArrayFromHeap(ids);
  out.fill(0);
  for (let i = 0; i < iv.length; i++) {
    const s = iv[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * innerSize;
    const dst = s * innerSize;
    for (let j = 0; j < innerSize; j++) out[dst + j] += xv[src + j];
  }
  return outInfo;
}

/**
 * Copies x[begin : begin + size] (any rank) into a new wasm tensor of shape `outShape`
 * (same element count as `size`). Trailing axes taken whole are merged into one contiguous run.
 */
function sliceInto(b: WasmBackend, x: tf.TensorInfo, begin: number[], size: number[], outShape: number[]): tf.TensorInfo {
  const rank = x.shape.length;
  const outInfo = b.makeOutput(outShape, x.dtype);
  const total = sizeOf(size);
  if (total === 0) return outInfo;
  const out = b.typedArrayFromHeap(outInfo);
  const xv = b.typedArrayFromHeap(x);
  const strides = new Array<number>(rank);
  for (let i = rank - 1, s = 1; i >= 0; i--) {
    strides[i] = s;
    s *= x.shape[i];
  }
  // The innermost axis k such that axes after k are taken whole: runs are size[k..] long.
  let k = rank - 1;
  while (k > 0 && size[k] === x.shape[k]) k--;
  const run = rank === 0 ? 1 : size[k] * strides[k];
  let base = 0;
  for (let i = 0; i < rank; i++) base += begin[i] * strides[i];
  const idx = new Array<number>(Math.max(k, 0)).fill(0); // counters over axes 0..k-1
  for (let o = 0; o < total; o += run) {
    let off = base;
    for (let i = 0; i < k; i++) off += idx[i] * strides[i];
    copyRun(out, o, xv, off, run);
    for (let i = k - 1; i >= 0; i--) {
      if (++idx[i] < size[i]) break;
      idx[i] = 0;
    }
  }
  return outInfo;
}

function makeSlice(fallback: tf.KernelFunc | undefined): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as KernelArgs;
    const x = inputs.x!;
    if (x.dtype === 'string' && fallback) return fallback(args);
    const a = attrs as unknown as { begin: number | number[]; size?: number | number[] };
    const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, a.begin, a.size);
    return sliceInto(backend as WasmBackend, x, begin, size, size);
  };
}

function makeSplitV(fallback: tf.KernelFunc | undefined): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as KernelArgs;
    const x = inputs.x!;
    if (x.dtype === 'string' && fallback) return fallback(args);
    const a = attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
    const axis = a.axis < 0 ? a.axis + x.shape.length : a.axis;
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, a.numOrSizeSplits, axis);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = [...x.shape];
      size[axis] = s;
      const out = sliceInto(backend as WasmBackend, x, [...begin], size, size);
      begin[axis] += s;
      return out;
    });
  };
}

function makeUnpack(fallback: tf.KernelFunc | undefined): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as KernelArgs;
    const x = inputs.value!;
    if (x.dtype === 'string' && fallback) return fallback(args);
    const rank = x.shape.length;
    const axis = ((attrs as unknown as { axis: number }).axis + rank) % rank;
    const outShape = x.shape.filter((_, i) => i !== axis);
    const size = [...x.shape];
    size[axis] = 1;
    const outs: tf.TensorInfo[] = [];
    for (let i = 0; i < x.shape[axis]; i++) {
      const begin = new Array<number>(rank).fill(0);
      begin[axis] = i;
      outs.push(sliceInto(backend as WasmBackend, x, begin, size, outShape));
    }
    return outs;
  };
}

/**
 * `x` gathered along `axis` by int32 `indices` (batchDims 0): rows are copied as contiguous runs
 * of the axes after `axis`. Other cases (strings, batchDims > 0) go to the wasm backend's kernel.
 * An index outside [0, x.shape[axis]) throws, as the cpu backend does.
 */
function makeGather(fallback: tf.KernelFunc | undefined): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as KernelArgs;
    const x = inputs.x!;
    const idx = inputs.indices!;
    const a = attrs as unknown as { axis: number; batchDims: number };
    if ((x.dtype === 'string' || idx.dtype !== 'int32' || (a.batchDims ?? 0) !== 0) && fallback) return fallback(args);
    const b = backend as WasmBackend;
    const axis = a.axis < 0 ? a.axis + x.shape.length : a.axis;
    const outer = sizeOf(x.shape.slice(0, axis));
    const n = x.shape[axis];
    const inner = sizeOf(x.shape.slice(axis + 1));
    const m = sizeOf(idx.shape);
    const outInfo = b.makeOutput([...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)], x.dtype);
    if (outer * m * inner === 0) return outInfo;
    const out = b.typedArrayFromHeap(outInfo);
    const xv = b.typedArrayFromHeap(x);
    const iv = b.typedArrayFromHeap(idx);
    for (let j = 0; j < m; j++) {
      if (iv[j] < 0 || iv[j] >= n) throw new Error(`GatherV2: the index value ${iv[j]} is not in [0, ${n - 1}]`);
    }
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < m; j++) {
        const src = (o * n + iv[j]) * inner;
        if (inner === 1) out[o * m + j] = xv[src];
        else out.set(xv.subarray(src, src + inner), (o * m + j) * inner);
      }
    }
    return outInfo;
  };
}

/**
 * The gradient of the softmax cross-entropy w.r.t. the logits: probs [N, V] · scale[n], minus
 * scale[n] at (n, targets[n]); targets [N] int32 (a negative target subtracts nothing), scale [N].
 * The [N, V] product runs on wasm's own (SIMD) Multiply, whose fresh output this kernel then owns
 * and corrects at the N target entries: a JavaScript pass over the [N, V] values took ~9 ms at
 * N = 1,024, V = 4,096, the SIMD product ~1.5 ms.
 */
function softmaxXentGrad({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const b = backend as WasmBackend;
  const p = inputs.probs!;
  const scale = inputs.scale!;
  const [N, V] = p.shape;
  const multiply = tf.getKernel('Multiply', 'wasm')!.kernelFunc;
  // scale viewed as a column [N, 1] (same data; a transient view, as wasm's Reshape makes).
  const column: tf.TensorInfo = { dataId: scale.dataId, shape: [N, 1], dtype: scale.dtype };
  const outInfo = multiply({ inputs: { a: p, b: column }, backend: backend as tf.KernelBackend, attrs: {} }) as tf.TensorInfo;
  const out = b.typedArrayFromHeap(outInfo);
  const tv = b.typedArrayFromHeap(inputs.targets!);
  const sv = b.typedArrayFromHeap(scale);
  for (let n = 0; n < N; n++) {
    const t = tv[n];
    if (t >= 0 && t < V) out[n * V + t] -= sv[n];
  }
  return outInfo;
}

/** Name of bam's cross-entropy kernel (registered for wasm; see `xentNll`). */
export const XENT_NLL = 'BamXentNll';

/**
 * The cross-entropy of each row, −log softmax(logits_n)[t_n], from probs = softmax(logits) [N, V],
 * the logits [N, V] and targets [N] int32: −log(p[n, t_n]) in float64 while p[n, t_n] ≥ 1e-30 (a
 * normal float32, so relatively exact); below that, where the float32 probability has underflowed,
 * logsumexp(logits_n) − logits[n, t_n] from the row in float64. Reads N values of the [N, V]
 * probabilities in the common case, where a max over the logits and one over the probabilities
 * (logsumexp = m − log p_max, ops/cross-entropy.ts) cost two passes of wasm's Max (~13 ms at N = 1,024,
 * V = 4,096). A target outside [0, V) throws.
 */
function xentNll({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const b = backend as WasmBackend;
  const [N, V] = inputs.probs!.shape;
  const outInfo = b.makeOutput([N], 'float32');
  const out = b.typedArrayFromHeap(outInfo);
  const [pv, lv] = [inputs.probs!, inputs.logits!].map((t) => b.typedArrayFromHeap(t) as Float32Array);
  const tv = b.typedArrayFromHeap(inputs.targets!);
  for (let n = 0; n < N; n++) {
    const t = tv[n];
    if (!(t >= 0 && t < V)) throw new Error(`BamXentNll: the target ${t} is not in [0, ${V - 1}]`);
    const pt = pv[n * V + t];
    if (pt >= 1e-30) {
      out[n] = -Math.log(pt);
      continue;
    }
    const row = n * V;
    let m = -Infinity;
    for (let v = 0; v < V; v++) if (lv[row + v] > m) m = lv[row + v];
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(lv[row + v] - m);
    out[n] = m + Math.log(sum) - lv[row + t];
  }
  return outInfo;
}

/** Name of bam's cross-entropy gradient kernel (registered for wasm; see `softmaxXentGrad`). */
export const SOFTMAX_XENT_GRAD = 'BamSoftmaxXentGrad';

/** Name of bam's one-pass AdamW kernel (registered for wasm; see ops/adamw.ts). */
export const ADAMW_STEP = 'BamAdamW';

/**
 * One AdamW step of one parameter (ops/adamw.ts has the formula): inputs p, m, v, g of one shape
 * and a scalar gradient scale; outputs the new p, m and v. Float64 arithmetic, float32 storage.
 */
function adamwKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const b = backend as WasmBackend;
  const a = attrs as unknown as { lr: number; beta1: number; beta2: number; epsilon: number; weightDecay: number; bc1: number; bc2: number };
  const shape = inputs.p!.shape;
  const outs = [b.makeOutput(shape, 'float32'), b.makeOutput(shape, 'float32'), b.makeOutput(shape, 'float32')];
  const [op, om, ov] = outs.map((o) => b.typedArrayFromHeap(o));
  const [pv, mv, vv, gv] = [inputs.p!, inputs.m!, inputs.v!, inputs.g!].map((t) => b.typedArrayFromHeap(t));
  const s = b.typedArrayFromHeap(inputs.scale!)[0];
  const { beta1, beta2, epsilon } = a;
  const keep = 1 - a.lr * a.weightDecay;
  const step = a.lr / a.bc1;
  const sqrtBc2 = Math.sqrt(a.bc2);
  const simd = simdOn(backend);
  if (simd) {
    simd.adamw(pv.byteOffset, mv.byteOffset, vv.byteOffset, gv.byteOffset, op.byteOffset, om.byteOffset, ov.byteOffset, pv.length, s, beta1, 1 - beta1, beta2, 1 - beta2, keep, step, sqrtBc2, epsilon);
    return outs;
  }
  for (let i = 0; i < pv.length; i++) {
    const g = gv[i] * s;
    const m = beta1 * mv[i] + (1 - beta1) * g;
    const v = beta2 * vv[i] + (1 - beta2) * g * g;
    om[i] = m;
    ov[i] = v;
    op[i] = pv[i] * keep - (step * m) / (Math.sqrt(v) / sqrtBc2 + epsilon);
  }
  return outs;
}

/** Name of bam's RoPE kernel (registered for wasm; see ops/rope.ts). */
export const ROPE = 'BamRope';

/**
 * Rotates each head of x [B, T, H, Dh] by position: for i < R/2 (R = 2·cos.shape[1]) the pair
 * (x[i], x[i + R/2]) at position t turns by the angle of cos/sin [T, R/2] row t; dimensions R..Dh-1
 * are copied. `transpose` turns by the opposite angle, the rotation's transpose (its gradient).
 */
function ropeKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const b = backend as WasmBackend;
  const x = inputs.x!;
  const [B, T, H, Dh] = x.shape;
  const half = inputs.cos!.shape[1];
  const sign = (attrs as unknown as { transpose: boolean }).transpose ? -1 : 1;
  const outInfo = b.makeOutput([...x.shape], 'float32');
  const out = b.typedArrayFromHeap(outInfo) as Float32Array;
  const [xv, cv, sv] = [x, inputs.cos!, inputs.sin!].map((t) => b.typedArrayFromHeap(t) as Float32Array);
  const simd = simdOn(backend);
  if (simd) {
    simd.rope(xv.byteOffset, cv.byteOffset, sv.byteOffset, out.byteOffset, B * T, T, H, Dh, half, sign);
    return outInfo;
  }
  for (let bt = 0; bt < B * T; bt++) {
    const tab = (bt % T) * half;
    for (let h = 0, o = bt * H * Dh; h < H; h++, o += Dh) {
      for (let i = 0; i < half; i++) {
        const c = cv[tab + i];
        const s = sign * sv[tab + i];
        const x1 = xv[o + i];
        const x2 = xv[o + half + i];
        out[o + i] = x1 * c - x2 * s;
        out[o + half + i] = x2 * c + x1 * s;
      }
      for (let j = 2 * half; j < Dh; j++) out[o + j] = xv[o + j];
    }
  }
  return outInfo;
}

/**
 * `Identity` (tf.clone, customGrad outputs, AddN's gradient, same-dtype Cast) without copying:
 * the output shares the input's heap data, as the cpu backend's Identity and wasm's own Reshape
 * do. Safe because tensors are immutable: kernels write only to fresh outputs, and a Variable's
 * assign swaps its data instead of writing into it. wasm's own Identity copies every element
 * (~10% of a training step once matrix products run on BLAS).
 */
function makeIdentity(fallback: tf.KernelFunc | undefined): tf.KernelFunc {
  return (args) => {
    const { inputs, backend } = args as unknown as KernelArgs;
    const x = inputs.x!;
    if (x.dtype === 'string' && fallback) return fallback(args);
    (backend as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}

/**
 * `Concat` along any axis: each input contributes one contiguous run per index of the axes before
 * `axis`. wasm's own kernel copies every run through a subarray view, which is slow for the short
 * runs of RoPE's half-heads (16 floats); `copyRun` copies short runs in a loop.
 */
function makeConcat(fallback: tf.KernelFunc | undefined): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as KernelArgs;
    const list = Object.values(inputs) as tf.TensorInfo[];
    if (list.some((t) => t.dtype === 'string') && fallback) return fallback(args);
    const b = backend as WasmBackend;
    const axis = tf.util.parseAxisParam((attrs as unknown as { axis: number }).axis, list[0].shape)[0];
    tf.backend_util.assertParamsConsistent(list.map((t) => t.shape), axis);
    const outShape = tf.backend_util.computeOutShape(list.map((t) => t.shape), axis);
    const outInfo = b.makeOutput(outShape, list[0].dtype);
    const total = sizeOf(outShape);
    if (total === 0) return outInfo;
    const parts = list.filter((t) => sizeOf(t.shape) > 0);
    const out = b.typedArrayFromHeap(outInfo);
    const views = parts.map((t) => b.typedArrayFromHeap(t));
    const runs = parts.map((t) => sizeOf(t.shape.slice(axis)));
    const width = runs.reduce((a, r) => a + r, 0);
    const outer = total / width;
    for (let i = 0; i < parts.length; i++) {
      const run = runs[i];
      const src = views[i];
      let dst = runs.slice(0, i).reduce((a, r) => a + r, 0);
      for (let o = 0; o < outer; o++, dst += width) copyRun(out, dst, src, o * run, run);
    }
    return outInfo;
  };
}

/**
 * bam's float32 chains on wasm SIMD (ops/simd/kernels.wat): each runs the float32 operations of a
 * few tfjs ops (ops/swiglu.ts, ops/rms-norm.ts, ops/attention.ts) in one pass, with those ops'
 * bits (row sums left to right from 0, as tfjs's Sum and Mean). Inputs in the order listed;
 * `outputs` outputs, each the shape of `shapeOf`'s input, except RMSNorm's r, one per row. For use
 * where `chainsOnWasm()` says the SIMD module runs.
 */
export const CHAINS = {
  /** g, s, u → gs = g·s, out = gs·u (SwiGLU's forward after σ). */
  swigluForward: { kernel: 'BamSwigluFwd', inputs: ['g', 's', 'u'], shapeOf: 'g', outputs: 2 },
  /** dy, s, gs, u → dg = (dy·u)·(s + (gs − gs·s)), du = dy·gs. */
  swigluBackward: { kernel: 'BamSwigluBwd', inputs: ['dy', 's', 'gs', 'u'], shapeOf: 'dy', outputs: 2 },
  /** x [..., D], w [D] (attr eps) → xh = x·r, r [..., 1] = 1/√(mean(x²) + eps), y = xh·w (Square, Mean, Add, Rsqrt, Multiply ×2). */
  rmsNormForward: { kernel: 'BamRmsNormFwd', inputs: ['x', 'w'], shapeOf: 'x', outputs: 3 },
  /** dy [..., D], w [D], xh, r [..., 1] → dx = r·(g − xh·mean(g·xh)) with g = dy·w, dyx = dy·xh. */
  rmsNormBackward: { kernel: 'BamRmsNormBwd', inputs: ['dy', 'w', 'xh', 'r'], shapeOf: 'dy', outputs: 2 },
  /** p, dp [rows, S] → ds = p·(dp − Σ_row dp·p) (the softmax's backward; the sum left to right, as tfjs's Sum). */
  softmaxBackward: { kernel: 'BamSoftmaxBwd', inputs: ['p', 'dp'], shapeOf: 'p', outputs: 1 },
  /** x [..., T, S], m [T, S] → x + m, m repeated over the leading axes (an additive mask). */
  addRepeated: { kernel: 'BamAddRepeated', inputs: ['x', 'm'], shapeOf: 'x', outputs: 1 },
} as const;
export type Chain = keyof typeof CHAINS;

/** Whether the chains run here: the wasm backend, `wasmKernels: 'simd'` and the SIMD module loaded on its heap. */
export function chainsOnWasm(): boolean {
  return tf.getBackend() === 'wasm' && simdOn(tf.backend()) !== undefined;
}

function chainKernel(chain: Chain): tf.KernelFunc {
  const { inputs: names, shapeOf, outputs: count } = CHAINS[chain];
  return ((args: KernelArgs) => {
    const b = args.backend as WasmBackend;
    const simd = simdKernels(args.backend);
    if (!simd) throw new Error(`${CHAINS[chain].kernel} needs bam's wasm SIMD module, which is not loaded on this backend`);
    const shape = [...args.inputs[shapeOf]!.shape];
    const rowShape = [...shape.slice(0, -1), 1];
    const outs = Array.from({ length: count }, (_, i) => b.makeOutput(chain === 'rmsNormForward' && i === 1 ? rowShape : shape, 'float32'));
    const [o1, o2, o3] = outs.map((o) => b.typedArrayFromHeap(o).byteOffset);
    const at = names.map((n) => b.typedArrayFromHeap(args.inputs[n]!).byteOffset);
    const n = sizeOf(shape);
    const D = shape.length ? shape[shape.length - 1] : 1;
    const rows = D === 0 ? 0 : n / D;
    switch (chain) {
      case 'swigluForward':
        simd.swiglu_fwd(at[0], at[1], at[2], o1, o2, n);
        break;
      case 'swigluBackward':
        simd.swiglu_bwd(at[0], at[1], at[2], at[3], o1, o2, n);
        break;
      case 'rmsNormForward':
        // eps as the float32 scalar tf.add(mean, eps) would make of it
        simd.rmsnorm_fwd(at[0], at[1], o1, o2, o3, rows, D, Math.fround((args.attrs as unknown as { eps: number }).eps));
        break;
      case 'rmsNormBackward':
        simd.rmsnorm_bwd(at[0], at[1], at[2], at[3], o1, o2, rows, D);
        break;
      case 'softmaxBackward':
        simd.softmax_bwd(at[0], at[1], o1, rows, D);
        break;
      case 'addRepeated': {
        const inner = sizeOf(args.inputs.m!.shape);
        simd.add_repeated(at[0], at[1], o1, inner === 0 ? 0 : n / inner, inner);
        break;
      }
    }
    return outs;
  }) as unknown as tf.KernelFunc;
}

type Outputs<C extends Chain> = (typeof CHAINS)[C]['outputs'] extends 1 ? tf.Tensor : (typeof CHAINS)[C]['outputs'] extends 2 ? [tf.Tensor, tf.Tensor] : [tf.Tensor, tf.Tensor, tf.Tensor];

/** Runs one chain on wasm → its output, or its outputs (new tensors). Check `chainsOnWasm()` first. */
export function runChain<C extends Chain>(chain: C, inputs: tf.Tensor[], attrs: Record<string, number> = {}): Outputs<C> {
  const { kernel, inputs: names, outputs } = CHAINS[chain];
  const map: tf.NamedTensorMap = {};
  names.forEach((n, i) => (map[n] = inputs[i]));
  const out = tf.engine().runKernel(kernel, map, attrs as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
  return (outputs === 1 ? out[0] : out) as Outputs<C>;
}

/**
 * `Transpose` with perm [0, 2, 1, 3] (attention's head split and merge, and their gradients) of a
 * 4-byte dtype as bam's wasm SIMD copy of whole last-axis runs; every other transpose goes to wasm's
 * own kernel, which walks element by element (~1.2 ns per element at [8, 128, 16, 32]).
 */
function makeTranspose(fallback: tf.KernelFunc | undefined): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as KernelArgs;
    const x = inputs.x!;
    const perm = (attrs as unknown as { perm: number[] }).perm;
    const simd = x.shape.length === 4 && (x.dtype === 'float32' || x.dtype === 'int32') && perm.join() === '0,2,1,3' ? simdOn(backend) : undefined;
    if (!simd) {
      if (!fallback) throw new Error('wasm has no Transpose kernel to fall back to');
      return fallback(args);
    }
    const b = backend as WasmBackend;
    const [A, B, C, D] = x.shape;
    const outInfo = b.makeOutput([A, C, B, D], x.dtype);
    if (A * B * C * D > 0) simd.transpose_0213(b.typedArrayFromHeap(x).byteOffset, b.typedArrayFromHeap(outInfo).byteOffset, A, B, C, D);
    return outInfo;
  };
}

const originals = new Map<string, tf.KernelConfig | undefined>();
const ours: Record<string, (fallback: tf.KernelFunc | undefined) => tf.KernelFunc> = {
  Slice: makeSlice,
  SplitV: makeSplitV,
  Unpack: makeUnpack,
  GatherV2: makeGather,
  Identity: makeIdentity,
  Concat: makeConcat,
  Transpose: makeTranspose,
};

function setKernel(config: tf.KernelConfig): void {
  if (tf.getKernel(config.kernelName, 'wasm')) tf.unregisterKernel(config.kernelName, 'wasm');
  tf.registerKernel(config);
}

/**
 * `bam`: use the zero-copy Slice/SplitV/Unpack/GatherV2/Identity, Concat and Transpose above on wasm; `tfjs`: restore the wasm
 * backend's own kernels (for benchmarks; see ops/settings.ts).
 */
export function setWasmSliceKernels(which: 'bam' | 'tfjs'): void {
  for (const [name, make] of Object.entries(ours)) {
    if (!originals.has(name)) originals.set(name, tf.getKernel(name, 'wasm'));
    const original = originals.get(name);
    // The original's setupFunc binds its wasm function when the backend starts: ours falls back to it.
    if (which === 'bam') setKernel({ kernelName: name, backendName: 'wasm', kernelFunc: make(original?.kernelFunc), ...(original?.setupFunc ? { setupFunc: original.setupFunc } : {}) });
    else if (original) {
      setKernel(original);
      // A kernel that binds wasm functions at backend start (GatherV2) missed that start while
      // ours stood in for it; bind it now.
      const backend = tf.engine().registry.wasm;
      if (backend && original.setupFunc) original.setupFunc(backend);
    }
  }
}

let registered = false;

/**
 * Registers bam's wasm kernels: adds `UnsortedSegmentSum` (absent), `BamXentNll`,
 * `BamSoftmaxXentGrad`, `BamAdamW` and `BamRope`, and replaces `Slice`, `SplitV`, `Unpack` and
 * `GatherV2` with zero-copy versions. Idempotent; runs on import of `ops/`.
 */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  const added: Record<string, unknown> = {
    UnsortedSegmentSum: unsortedSegmentSum,
    [XENT_NLL]: xentNll,
    [SOFTMAX_XENT_GRAD]: softmaxXentGrad,
    [ADAMW_STEP]: adamwKernel,
    [ROPE]: ropeKernel,
    ...Object.fromEntries(Object.keys(CHAINS).map((c) => [CHAINS[c as Chain].kernel, chainKernel(c as Chain)])),
  };
  for (const [kernelName, kernelFunc] of Object.entries(added)) {
    if (!tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as tf.KernelFunc });
  }
  setWasmSliceKernels('bam');
}

registerWasmKernels();
