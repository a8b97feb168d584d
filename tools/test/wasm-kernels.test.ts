/**
 * The committed wasm kernels (packages/core/src/ops/simd/kernels-wasm.ts) are what
 * tools/build-wasm-kernels.ts assembles from kernels.wat now: the binary cannot drift from its source.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assembleKernels, kernelsModuleSource, OUT_PATH } from '../build-wasm-kernels.ts';

describe('wasm kernels build', () => {
  it('kernels-wasm.ts holds the bytes kernels.wat assembles to (run `npx tsx tools/build-wasm-kernels.ts` after editing the .wat)', async () => {
    const bytes = await assembleKernels();
    expect(bytes.unshared.length).toBeGreaterThan(100);
    expect(Buffer.from(bytes.shared).equals(Buffer.from(bytes.unshared))).toBe(false); // the memory import differs
    expect(readFileSync(OUT_PATH, 'utf8')).toBe(kernelsModuleSource(bytes));
  });
});
