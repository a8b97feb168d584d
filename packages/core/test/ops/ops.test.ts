import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';
import { batchMatmul, blasActive, enableBlas, embeddingLookup, linear, matmul, matmulBt } from '../../src/ops/index.ts';

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: () => {} });
});

function rand(shape: number[], seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, 1, 'float32', seed);
}

async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  expect(a.shape).toEqual(b.shape);
  const [x, y] = [await a.data(), await b.data()];
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

/** Runs f on the cpu backend and on wasm with the same inputs (as plain arrays) and returns both outputs' values. */
async function onBoth(f: () => tf.Tensor | tf.Tensor[]): Promise<{ wasm: number[][]; cpu: number[][]; shapes: number[][] }> {
  const run = async () => {
    const out = tf.tidy(f);
    const list = Array.isArray(out) ? out : [out];
    const vals = await Promise.all(list.map(async (t) => Array.from(await t.data())));
    const shapes = list.map((t) => t.shape);
    tf.dispose(list);
    return { vals, shapes };
  };
  await tf.setBackend('cpu');
  const cpu = await run();
  await tf.setBackend('wasm');
  const wasm = await run();
  expect(wasm.shapes).toEqual(cpu.shapes);
  return { wasm: wasm.vals, cpu: cpu.vals, shapes: wasm.shapes };
}

describe('matmul with the explicit-transpose gradient', () => {
  // That gradient is what runs on XNNPACK; with OpenBLAS these ops are tf.matMul itself.
  beforeAll(() => {
    enableBlas({ library: 'off' });
    expect(blasActive()).toBe(false);
  });
  afterAll(() => {
    enableBlas();
  });

  it('computes a·b like tf.matMul', async () => {
    const a = rand([5, 7], 1) as tf.Tensor2D;
    const b = rand([7, 3], 2) as tf.Tensor2D;
    expect(await maxAbsDiff(matmul(a, b), tf.matMul(a, b))).toBeLessThan(1e-5);
    expect(await maxAbsDiff(matmulBt(a, tf.transpose(b) as tf.Tensor2D), tf.matMul(a, b))).toBeLessThan(1e-5);
  });

  it("has the same gradients as tf's built-in matMul gradient", async () => {
    const a = rand([6, 4], 3) as tf.Tensor2D;
    const b = rand([4, 5], 4) as tf.Tensor2D;
    const w = rand([6, 5], 5);
    const loss = (mm: (x: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor) => (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(mm(x as tf.Tensor2D, y as tf.Tensor2D), w));
    const [ga, gb] = tf.grads(loss(matmul))([a, b]);
    const [ra, rb] = tf.grads(loss((x, y) => tf.matMul(x, y)))([a, b]);
    expect(await maxAbsDiff(ga, ra)).toBeLessThan(1e-5);
    expect(await maxAbsDiff(gb, rb)).toBeLessThan(1e-5);
    // d/da Σ(a·b ⊙ w) = w·bᵀ: check one entry by hand.
    const [bv, wv, gav] = [await b.array(), (await w.array()) as number[][], (await ga.array()) as number[][]];
    const expected = [0, 1, 2, 3, 4].reduce((s, j) => s + wv[2][j] * bv[1][j], 0);
    expect(gav[2][1]).toBeCloseTo(expected, 5);
  });

  it('batchMatmul has the same values and gradients as the built-in batched matMul', async () => {
    const a = rand([3, 4, 5], 6) as tf.Tensor3D;
    const b = rand([3, 5, 2], 7) as tf.Tensor3D;
    const f = (mm: (x: tf.Tensor3D, y: tf.Tensor3D) => tf.Tensor) => (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(mm(x as tf.Tensor3D, y as tf.Tensor3D)));
    expect(await maxAbsDiff(batchMatmul(a, b), tf.matMul(a, b))).toBeLessThan(1e-5);
    const [ga, gb] = tf.grads(f(batchMatmul))([a, b]);
    const [ra, rb] = tf.grads(f((x, y) => tf.matMul(x, y)))([a, b]);
    expect(await maxAbsDiff(ga, ra)).toBeLessThan(1e-4);
    expect(await maxAbsDiff(gb, rb)).toBeLessThan(1e-4);
  });

  it('linear flattens leading axes: [2, 3, 4]·[4, 5] → [2, 3, 5]', async () => {
    const x = rand([2, 3, 4], 8);
    const w = rand([4, 5], 9) as tf.Tensor2D;
    const y = linear(x, w);
    expect(y.shape).toEqual([2, 3, 5]);
    expect(await maxAbsDiff(y, tf.reshape(tf.matMul(tf.reshape(x, [6, 4]) as tf.Tensor2D, w), [2, 3, 5]))).toBeLessThan(1e-5);
  });

  it('names the operand when shapes do not match', () => {
    expect(() => matmul(tf.zeros([2, 3]) as tf.Tensor2D, tf.zeros([4, 5]) as tf.Tensor2D)).toThrow(/shape mismatch for 'matmul operand b'/);
  });

  it('does not leak tensors across a gradient', () => {
    const a = rand([4, 4], 10) as tf.Tensor2D;
    const b = rand([4, 4], 11) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(matmul(x as tf.Tensor2D, y as tf.Tensor2D)))([a, b]);
    tf.dispose(g);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('embedding lookup on wasm', () => {
  it('returns the table rows named by the ids, in the ids shape', async () => {
    const table = tf.tensor2d([[0, 1], [10, 11], [20, 21]]);
    const out = embeddingLookup(table, tf.tensor2d([[2, 0], [1, 1]], [2, 2], 'int32'));
    expect(out.shape).toEqual([2, 2, 2]);
    expect(await out.array()).toEqual([[[20, 21], [0, 1]], [[10, 11], [10, 11]]]);
  });

  it('has the gradient of the one-hot matmul (repeated ids add up)', async () => {
    const V = 7;
    const table = rand([V, 3], 12) as tf.Tensor2D;
    const ids = tf.tensor1d([3, 0, 3, 6, 3], 'int32');
    const w = rand([5, 3], 13);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(embeddingLookup(t as tf.Tensor2D, ids), w)))(table);
    const ref = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.matMul(tf.oneHot(ids, V).toFloat() as tf.Tensor2D, t as tf.Tensor2D), w)))(table);
    expect(await maxAbsDiff(g, ref)).toBeLessThan(1e-6);
    const gv = (await g.array()) as number[][];
    const wv = (await w.array()) as number[][];
    expect(gv[3][1]).toBeCloseTo(wv[0][1] + wv[2][1] + wv[4][1], 6);
    expect(gv[1]).toEqual([0, 0, 0]);
  });

  it('rejects float ids with a hint', () => {
    expect(() => embeddingLookup(tf.zeros([3, 2]) as tf.Tensor2D, tf.tensor1d([1]))).toThrow(/must be int32/);
  });
});

describe('wasm kernels registered by bam', () => {
  it('Concat equals the cpu kernel on every axis of rank 1 to 4, with short runs and empty inputs', async () => {
    const t = (shape: number[], seed: number) => tf.tensor(Array.from({ length: shape.reduce((a, d) => a * d, 1) }, (_, i) => i * 7 + seed), shape);
    const cases: Array<() => tf.Tensor> = [
      () => tf.concat([t([3], 1), t([2], 2)], 0),
      () => tf.concat([t([2, 3], 1), t([2, 5], 2), t([2, 1], 3)], 1),
      () => tf.concat([t([2, 3], 1), t([4, 3], 2)], 0),
      () => tf.concat([t([2, 4, 3, 16], 1), t([2, 4, 3, 16], 2)], -1), // RoPE's halves
      () => tf.concat([t([2, 2, 3, 2], 1), t([2, 2, 0, 2], 2), t([2, 2, 5, 2], 3)], 2),
      () => tf.concat([t([2, 70], 1), t([2, 80], 2)], 1), // runs longer than 64
    ];
    for (const f of cases) {
      const { wasm, cpu } = await onBoth(f);
      expect(wasm).toEqual(cpu);
    }
  });

  it('Identity (tf.clone) shares the data instead of copying it, and each tensor frees on its own', () => {
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const buffers = tf.memory().numDataBuffers;
    const y = tf.clone(x);
    expect(tf.memory().numDataBuffers).toBe(buffers); // no new buffer
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(y.shape).toEqual([2, 3]);
    y.dispose();
  });

  it('UnsortedSegmentSum on wasm equals the cpu kernel, dropping out-of-range ids', async () => {
    const x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    const { wasm, cpu } = await onBoth(() => tf.unsortedSegmentSum(tf.tensor2d(x, [4, 3]), tf.tensor1d([2, 0, 2, 5], 'int32'), 3));
    expect(wasm).toEqual(cpu);
    expect(wasm[0]).toEqual([4, 5, 6, 0, 0, 0, 8, 10, 12]);
  });

  it('Slice equals the cpu kernel for contiguous and strided slices of rank 1 to 5', async () => {
    const cases: [number[], number[], number[]][] = [
      [[10], [3], [4]],
      [[6, 7], [1, 2], [3, 4]],
      [[6, 7], [2, 0], [3, 7]],
      [[2, 3, 4, 5], [1, 0, 1, 2], [1, 3, 2, 3]],
      [[2, 3, 4, 5, 6], [0, 1, 1, 0, 2], [2, 2, 3, 5, 3]],
      [[4, 5], [1, 1], [0, 3]],
      [[4, 5], [1, 2], [-1, -1]],
    ];
    for (const [shape, begin, size] of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      const vals = Float32Array.from({ length: n }, (_, i) => i);
      const { wasm, cpu } = await onBoth(() => tf.slice(tf.tensor(vals, shape), begin, size));
      expect(wasm).toEqual(cpu);
    }
  });

  it('Unpack and SplitV equal the cpu kernels on every axis', async () => {
    const vals = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 1.5);
    for (const axis of [0, 1, 2]) {
      const u = await onBoth(() => tf.unstack(tf.tensor3d(vals, [2, 3, 4]), axis));
      expect(u.wasm).toEqual(u.cpu);
    }
    const s = await onBoth(() => tf.split(tf.tensor3d(vals, [2, 3, 4]), [1, -1], 2));
    expect(s.wasm).toEqual(s.cpu);
    expect(s.shapes).toEqual([[2, 3, 1], [2, 3, 3]]);
    const i = await onBoth(() => tf.split(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), 3, 0));
    expect(i.wasm).toEqual([[1, 2], [3, 4], [5, 6]]);
  });
});
