/**
 * wasm's matrix products on OpenBLAS (ops/blas.ts): the kernels against products computed here in
 * float64, the model's loss and gradients against XNNPACK's, thread counts, and the errors a
 * wrong BAM_BLAS gives. These need OpenBLAS (Debian `libopenblas0-pthread`): without it they are
 * skipped and named in the run's last line, and under CI=true the file fails with the install command.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';
import { blasActive, blasStatus, enableBlas, gemmBatch, setOpsSettings } from '../../src/ops/index.ts';
import { productBlocks } from '../../src/ops/blas-threads.ts';
import { computeLossAndGrads, createModel, disposeModel, parseModelConfig, type ModelConfigInput } from '../../src/model/index.ts';
import { variantConfig, type Variant } from '../model/variants.ts';
import { needs } from '../../../../tools/test/components.ts';

// Skipped without openblas (the run's last line names it; CI=true fails instead): tools/test/components.ts.
const hasOpenBlas = await needs('openblas');

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: () => {} });
  if (!blasActive()) throw new Error(`OpenBLAS is not active: ${blasStatus().detail}`);
});
afterAll(() => {
  enableBlas();
});

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** op(A)·op(B) of row-major float32 matrices, in float64. */
function naive(a: Float32Array, b: Float32Array, M: number, N: number, K: number, ta: boolean, tb: boolean): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[ta ? k * M + i : i * K + k] * b[tb ? j * K + k : k * N + j];
      out[i * N + j] = s;
    }
  }
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  expect(worst).toBeLessThan(tol);
}

describe.runIf(hasOpenBlas)('BatchMatMul on OpenBLAS', () => {
  it('says which library runs the products', () => {
    const s = blasStatus();
    expect(s.active).toBe(true);
    expect(s.detail).toMatch(/^matrix products on .+ \(.+, \d+ threads?\)$/);
    expect(s.threads).toBeGreaterThanOrEqual(1);
  });

  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    it(`computes op(A)·op(B) of 2-D matrices with transposeA=${ta}, transposeB=${tb}`, () => {
      const [M, N, K] = [7, 5, 9];
      const av = values(M * K, 1);
      const bv = values(K * N, 2);
      const a = tf.tensor2d(av, ta ? [K, M] : [M, K]);
      const b = tf.tensor2d(bv, tb ? [N, K] : [K, N]);
      const c = tf.matMul(a, b, ta, tb);
      expect(c.shape).toEqual([M, N]);
      expectClose(c.dataSync(), naive(av, bv, M, N, K, ta, tb), 1e-5);
      tf.dispose([a, b, c]);
    });
  }

  it('broadcasts batch axes as TF.js does ([2, 1, M, K] · [3, K, N] → [2, 3, M, N])', () => {
    const [M, N, K] = [4, 3, 6];
    const av = values(2 * M * K, 3);
    const bv = values(3 * K * N, 4);
    const c = tf.tidy(() => tf.matMul(tf.tensor4d(av, [2, 1, M, K]), tf.tensor3d(bv, [3, K, N])));
    expect(c.shape).toEqual([2, 3, M, N]);
    const got = c.dataSync();
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 3; j++) {
        const want = naive(av.subarray(i * M * K, (i + 1) * M * K), bv.subarray(j * K * N, (j + 1) * K * N), M, N, K, false, false);
        expectClose(got.subarray((i * 3 + j) * M * N, (i * 3 + j + 1) * M * N), want, 1e-5);
      }
    }
    c.dispose();
  });

  it('gives zeros for an empty inner dimension and an empty result for an empty outer one', () => {
    const z = tf.tidy(() => tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 2])));
    expect(Array.from(z.dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
    const e = tf.tidy(() => tf.matMul(tf.zeros([0, 4]), tf.ones([4, 2])));
    expect(e.shape).toEqual([0, 2]);
    tf.dispose([z, e]);
  });

  it('leaves int32 products to the wasm backend (which refuses them, as without BLAS)', () => {
    const a = tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32');
    expect(() => tf.matMul(a, a)).toThrow(/non-float32/);
    a.dispose();
  });

  // bam's threads run fixed blocks of each product on a single-threaded OpenBLAS (ops/blas-threads.ts):
  // OpenBLAS's own threading gave other bits for 200×300×700 with 2 threads even on Intel (SkylakeX).
  // Both cuts (opsSettings().productBlocks): 256 and 200 rows are cut by rows under 'rows', by columns under 'longer'.
  for (const [[M, N, K], cut] of [[256, 384, 128], [200, 300, 700], [33, 1000, 129]].flatMap((s) => (['rows', 'longer'] as const).map((c) => [s, c] as const))) {
    it(`gives bit-identical products with 1, 2 and 3 threads (${M}×${N}×${K}, plain and transposed, blocks: ${cut})`, () => {
      const a = tf.tensor2d(values(M * K, 5), [M, K]);
      const at = tf.tensor2d(values(M * K, 5), [K, M]);
      const b = tf.tensor2d(values(K * N, 6), [K, N]);
      const prev = setOpsSettings({ productBlocks: cut });
      const run = (threads: number) => {
        enableBlas({ threads });
        expect(blasStatus().threads).toBe(threads);
        const c = tf.tidy(() => tf.concat([tf.matMul(a, b), tf.matMul(at, b, true, false)]));
        const out = c.dataSync().slice();
        c.dispose();
        return Buffer.from(out.buffer);
      };
      const one = run(1);
      expect(run(2).equals(one)).toBe(true);
      expect(run(3).equals(one)).toBe(true);
      const want = naive(a.dataSync() as Float32Array, b.dataSync() as Float32Array, M, N, K, false, false);
      expectClose(new Float32Array(one.buffer, one.byteOffset, M * N), want, 1e-4);
      enableBlas();
      setOpsSettings(prev);
      tf.dispose([a, at, b]);
    });
  }

  it('gives bit-identical grouped products (gemmBatch sums) with 1 and 2 threads', () => {
    const [G, M, N, K] = [6, 96, 80, 300];
    const a = tf.tensor3d(values(G * M * K, 9), [G, M, K]);
    const b = tf.tensor3d(values(G * K * N, 10), [G, N, K]);
    const run = (threads: number) => {
      enableBlas({ threads });
      const c = gemmBatch(a, b, { transB: true, outIndex: [0, 0, 0, 1, 1, 1], outCount: 2, alpha: 0.25 });
      const out = Buffer.from(c.dataSync().slice().buffer);
      c.dispose();
      return out;
    };
    expect(run(2).equals(run(1))).toBe(true);
    enableBlas();
    tf.dispose([a, b]);
  });
});

describe('the fixed blocks of a product', () => {
  it('depend on the shape alone, cover the rows (or, with fewer than 128, the longer side) exactly on multiples of 64, and never split the inner dimension', () => {
    expect(productBlocks(8, 8, 8)).toEqual({ axis: 'm', ranges: [[0, 8]] });
    // 2·200·300·700 = 84 MFLOP → 20 blocks wanted, but 200 rows hold 4 of 64 (rows whenever they make two blocks).
    expect(productBlocks(200, 300, 700)).toEqual({ axis: 'm', ranges: [[0, 64], [64, 128], [128, 192], [192, 200]] });
    // Fewer than 128 rows: the longer side; 2·100·1000·300 = 60 MFLOP → 14 blocks wanted, of 1000/14 columns rounded up to 128.
    expect(productBlocks(100, 1000, 300)).toEqual({ axis: 'n', ranges: Array.from({ length: 8 }, (_, i) => [128 * i, Math.min(1000, 128 * (i + 1))]) });
    // 2·4096·64·512 = 268 MFLOP → 64 wanted, capped at 16 blocks of 256 rows.
    expect(productBlocks(4096, 64, 512)).toEqual({ axis: 'm', ranges: Array.from({ length: 16 }, (_, i) => [256 * i, 256 * (i + 1)]) });
    // 2·100·100·100 = 2 MFLOP: one block.
    expect(productBlocks(100, 100, 100).ranges).toEqual([[0, 100]]);
  });

  it("cut the longer output side under 'longer' (the reference)", () => {
    // 2·200·300·700 = 84 MFLOP → 20 blocks wanted, but 300 columns hold 5 of 64.
    expect(productBlocks(200, 300, 700, 'longer')).toEqual({ axis: 'n', ranges: [[0, 64], [64, 128], [128, 192], [192, 256], [256, 300]] });
    expect(productBlocks(4096, 64, 512, 'longer')).toEqual(productBlocks(4096, 64, 512, 'rows'));
  });
});

describe.runIf(hasOpenBlas)('gemmBatch', () => {
  it('sums the products that share an output slot, scales by alpha and zeroes unwritten slots', () => {
    const [M, N, K] = [3, 4, 5];
    const av = values(3 * K * M, 7); // a: 3 matrices stored [K, M] (read transposed)
    const bv = values(2 * K * N, 8); // b: 2 matrices [K, N]
    const a = tf.tensor3d(av, [3, K, M]);
    const b = tf.tensor3d(bv, [2, K, N]);
    // out[0] = 0.5·(a0ᵀ·b1 + a2ᵀ·b0); out[1] untouched; out[2] = 0.5·a1ᵀ·b1
    const c = gemmBatch(a, b, { transA: true, aIndex: [0, 2, 1], bIndex: [1, 0, 1], outIndex: [0, 0, 2], outCount: 3, alpha: 0.5 });
    expect(c.shape).toEqual([3, M, N]);
    const A = (i: number) => av.subarray(i * K * M, (i + 1) * K * M);
    const B = (i: number) => bv.subarray(i * K * N, (i + 1) * K * N);
    const p01 = naive(A(0), B(1), M, N, K, true, false);
    const p20 = naive(A(2), B(0), M, N, K, true, false);
    const p11 = naive(A(1), B(1), M, N, K, true, false);
    const want = new Float64Array(3 * M * N);
    for (let i = 0; i < M * N; i++) {
      want[i] = 0.5 * (p01[i] + p20[i]);
      want[2 * M * N + i] = 0.5 * p11[i];
    }
    expectClose(c.dataSync(), want, 1e-5);
    tf.dispose([a, b, c]);
  });

  it('names index lists that do not fit the operands', () => {
    const a = tf.zeros([2, 3, 3]) as tf.Tensor3D;
    expect(() => gemmBatch(a, a, { aIndex: [0, 2] })).toThrow(/index lists must have 2 entries within their operands/);
    a.dispose();
  });
});

describe.runIf(hasOpenBlas)('a model on OpenBLAS against the same model on XNNPACK', () => {
  const BASE: ModelConfigInput = { vocabSize: 96, dModel: 32, nHeads: 4, nLayers: 2, dFF: 48, maxSeqLen: 16, initStd: 0.2 };
  for (const variant of ['dense', 'btx', 'bam-full', 'bam-kv-shared'] as Variant[]) {
    it(`${variant}: same loss and gradients`, () => {
      const model = createModel(parseModelConfig(variantConfig(BASE, variant) as ModelConfigInput), 11);
      const tokens = Int32Array.from({ length: 2 * 17 }, (_, i) => (i * 29 + 5) % 96);
      const inputs = tf.tensor2d(tokens.filter((_, i) => i % 17 !== 16), [2, 16], 'int32');
      const targets = tf.tensor2d(tokens.filter((_, i) => i % 17 !== 0), [2, 16], 'int32');
      const run = (library: 'auto' | 'off') => {
        enableBlas({ library });
        const r = computeLossAndGrads(model, inputs, targets);
        const out = { loss: r.loss.dataSync()[0], grads: new Map([...r.grads].map(([n, g]) => [n, g.dataSync().slice()])) };
        tf.dispose([r.loss, r.nll, r.loadBalance, r.zLoss, ...r.grads.values()]);
        return out;
      };
      const xnn = run('off');
      expect(blasActive()).toBe(false);
      const blas = run('auto');
      expect(blasActive()).toBe(true);
      expect(Math.abs(blas.loss - xnn.loss)).toBeLessThan(1e-5 * Math.abs(xnn.loss));
      expect(blas.grads.size).toBe(xnn.grads.size);
      for (const [name, g] of xnn.grads) {
        const scale = Math.max(1e-3, ...Array.from(g, Math.abs));
        const got = blas.grads.get(name)!;
        let worst = 0;
        for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(got[i] - g[i]));
        expect(worst / scale, name).toBeLessThan(1e-4);
      }
      tf.dispose([inputs, targets]);
      disposeModel(model);
    });
  }
});

describe.runIf(hasOpenBlas)('choosing the library', () => {
  it('BAM_BLAS=off keeps XNNPACK and says so', () => {
    const s = enableBlas({ env: { BAM_BLAS: 'off' } });
    expect(s).toEqual({ active: false, detail: 'matrix products on XNNPACK (BAM_BLAS=off)' });
    const c = tf.tidy(() => tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([1, 0, 0, 1], [2, 2])));
    expect(Array.from(c.dataSync())).toEqual([1, 2, 3, 4]);
    c.dispose();
    expect(enableBlas().active).toBe(true);
  });

  it('a library that does not load is an error naming it, and selectBackend does not fall back past it', async () => {
    expect(() => enableBlas({ env: { BAM_BLAS: '/nonexistent/libnoblas.so' } })).toThrow(/BAM_BLAS=\/nonexistent\/libnoblas\.so could not be loaded/);
    expect(blasActive()).toBe(false);
    await expect(selectBackend({ env: { BAM_BLAS: '/nonexistent/libnoblas.so' }, log: () => {} })).rejects.toThrow(/could not be loaded/);
    await selectBackend({ prefer: 'wasm', log: () => {} });
    expect(blasActive()).toBe(true);
  });

  it('rejects a thread count that is not a whole number ≥ 1', () => {
    expect(() => enableBlas({ env: { BAM_BLAS_THREADS: '0' } })).toThrow(/BAM_BLAS_THREADS must be a whole number ≥ 1, got '0'/);
    expect(enableBlas({ env: { BAM_BLAS_THREADS: '1' } }).detail).toMatch(/1 thread\)$/);
    enableBlas();
  });
});
