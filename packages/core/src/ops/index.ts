/** Ops that are fast (or exist at all) on the tfjs wasm backend. */
export { matmul, matmulBt, linear, affine, batchMatmul } from './matmul.ts';
export { embeddingLookup } from './embedding.ts';
export { groupedCausalAttention, type GroupedAttentionOptions } from './attention.ts';
export { registerWasmKernels, setWasmSliceKernels, XENT_NLL, SOFTMAX_XENT_GRAD, ADAMW_STEP, ROPE } from './kernels.ts';
export { siluMul } from './swiglu.ts';
export { rmsNormFused } from './rms-norm.ts';
export { ropeFused } from './rope.ts';
export { targetNll } from './cross-entropy.ts';
export { adamwStep, type AdamWStepOptions } from './adamw.ts';
export { opsSettings, setOpsSettings, fusedOnWasm } from './settings.ts';
export type { OpsSettings } from './settings.ts';
export { segmentLinear } from './segment-matmul.ts';
export { enableBlas, blasActive, blasStatus, gemmBatch, GEMM_BATCH, gemmSegments, gemmSegmentsOuter, GEMM_SEGMENTS, AUTO_LIBRARIES as BLAS_AUTO_LIBRARIES, type BlasStatus, type EnableBlasOptions, type GemmBatchOptions } from './blas.ts';
