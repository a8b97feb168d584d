/**
 * Switches between bam's fast paths and TF.js's own implementations, so a benchmark or an
 * ablation can measure what each fast path buys (benchmarks/ops-microbench.ts). The defaults
 * are the fast paths; nothing else should need to change these.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmKernelImpl, setWasmSliceKernels } from './kernels.ts';

export interface OpsSettings {
  /** `explicit-transpose` (default): custom gradient of plain 2-D products; `builtin`: tf.matMul's own gradient. */
  matmulGradient: 'explicit-transpose' | 'builtin';
  /**
   * `fused` (default): one op with a written-out gradient over 2-D products per (batch, head)
   * (ops/attention.ts); `per-head`: the same products built from autodiff pieces; `batched`:
   * batched tf.matMul (the reference).
   */
  attention: 'fused' | 'per-head' | 'batched';
  /** `bam` (default): zero-copy Slice/SplitV/Unpack/GatherV2/Identity on wasm; `tfjs`: the wasm backend's own kernels. */
  wasmSliceKernels: 'bam' | 'tfjs';
  /** `explicit` (default): cross-entropy with a written-out gradient; `builtin`: TF.js's logsumexp gradient. */
  crossEntropyGradient: 'explicit' | 'builtin';
  /**
   * `separate` (default): a parallel block makes q, k, v, gate and up in five products; `fused`:
   * with dense attention and a dense FFN, in ONE product with the concatenated weights (PaLM,
   * Chowdhery et al. 2022, §2). On OpenBLAS the fused form measured slower (the split of its output
   * and the concatenation of its gradients cost more than the bigger product saves:
   * benchmarks/RESULTS.md, blocks.ts); it may pay off where products dominate (wide models, GPUs).
   */
  parallelProjections: 'fused' | 'separate';
  /** `fused` (default): SwiGLU's silu(gate) ⊙ up with a written-out gradient on wasm (ops/swiglu.ts); `ops`: tfjs ops, autodiff. */
  swiglu: 'fused' | 'ops';
  /** `fused` (default): RMSNorm with a written-out gradient on wasm (ops/rms-norm.ts); `ops`: tfjs ops, autodiff. */
  rmsnorm: 'fused' | 'ops';
  /** `fused` (default): RoPE's rotation and its transpose in one pass each on wasm (ops/rope.ts); `ops`: tfjs ops. */
  rope: 'fused' | 'ops';
  /**
   * `fused` (default): the cross-entropy's per-row NLL (loss and scoring) read off the softmax on
   * wasm (`BamXentNll`, ops/cross-entropy.ts); `ops`: logsumexp from two row maxima.
   */
  crossEntropyForward: 'fused' | 'ops';
  /**
   * `simd` (default): on wasm, AdamW, RoPE, Transpose [0, 2, 1, 3] and the float32 chains of
   * SwiGLU, RMSNorm and attention's softmax run as bam's wasm SIMD kernels on tfjs's heap
   * (ops/simd); `js`: the JavaScript loops and tfjs kernels and ops they replace. Both do the same
   * arithmetic in the same order: identical results.
   */
  wasmKernels: 'simd' | 'js';
  /**
   * `grouped` (default): with products on BLAS, a mixture's SwiGLU experts run each projection
   * as one kernel over all experts' tokens (mixture/moe-ffn.ts, ops/segment-matmul.ts);
   * `per-expert`: one expert at a time. The same values (bit for bit up to top-2).
   */
  moeProducts: 'grouped' | 'per-expert';
  /**
   * `rows` (default): bam's BLAS kernels cut a product of 128 or more rows into blocks of rows for
   * their threads; `longer`: the longer side of the output, rows or columns (ops/blas-threads.ts,
   * `ProductCut`). Rows ran faster on 2 threads; the two give different bits.
   */
  productBlocks: 'rows' | 'longer';
}

const current: OpsSettings = {
  matmulGradient: 'explicit-transpose',
  attention: 'fused',
  wasmSliceKernels: 'bam',
  crossEntropyGradient: 'explicit',
  parallelProjections: 'separate',
  swiglu: 'fused',
  rmsnorm: 'fused',
  rope: 'fused',
  crossEntropyForward: 'fused',
  wasmKernels: 'simd',
  moeProducts: 'grouped',
  productBlocks: 'rows',
};

/** The settings in force (read-only view). */
export function opsSettings(): Readonly<OpsSettings> {
  return current;
}

/** Changes some settings; returns the previous ones (pass them back to restore). */
export function setOpsSettings(next: Partial<OpsSettings>): OpsSettings {
  const prev = { ...current };
  Object.assign(current, next);
  if (next.wasmSliceKernels && next.wasmSliceKernels !== prev.wasmSliceKernels) setWasmSliceKernels(next.wasmSliceKernels);
  if (next.wasmKernels) setWasmKernelImpl(next.wasmKernels);
  return prev;
}

/**
 * Whether the element-wise fast path `which` runs: its setting is `fused`, the backend is wasm
 * (where bam's kernels are registered and where these paths were measured to pay) and every
 * tensor is float32.
 */
export function fusedOnWasm(which: 'swiglu' | 'rmsnorm' | 'rope' | 'crossEntropyForward', ...tensors: tf.Tensor[]): boolean {
  return current[which] === 'fused' && tf.getBackend() === 'wasm' && tensors.every((t) => t.dtype === 'float32');
}
