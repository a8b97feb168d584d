/** Ops that are fast (or exist at all) on the tfjs wasm backend. */
export { matmul, matmulBt, linear, batchMatmul } from './matmul.ts';
export { embeddingLookup } from './embedding.ts';
export { registerWasmKernels } from './kernels.ts';
