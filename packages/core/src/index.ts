// Public API of @bam/core. Other packages import only from here.
export {};
export * from './errors.ts';
export { canonicalJson, configHash, bytesHash } from './util/hash.ts';
export { writeFileAtomic } from './util/atomic.ts';
export * from './model/index.ts';
export * from './backend/index.ts';
export * from './ops/index.ts';
export * from './checkpoint/index.ts';
export * from './train/index.ts';
export * from './mixture/index.ts';
