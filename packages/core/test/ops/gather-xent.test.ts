import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';
import { setOpsSettings, SOFTMAX_XENT_GRAD, targetNll, XENT_NLL } from '../../src/ops/index.ts';
import { tokenNll } from '../../src/model/index.ts';

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: () => {} });
});

/** Values of f() on the cpu backend and on wasm, from the same plain-array inputs. */
async function onBoth(f: () => tf.Tensor): Promise<{ wasm: number[]; cpu: number[]; shape: number[] }> {
  const run = async () => {
    const t = tf.tidy(f);
    const vals = Array.from(await t.data());
    const shape = t.shape;
    t.dispose();
    return { vals, shape };
  };
  await tf.setBackend('cpu');
  const cpu = await run();
  await tf.setBackend('wasm');
  const wasm = await run();
  expect(wasm.shape).toEqual(cpu.shape);
  return { wasm: wasm.vals, cpu: cpu.vals, shape: wasm.shape };
}

describe("bam's GatherV2 kernel on wasm", () => {
  const x = Array.from({ length: 2 * 5 * 3 }, (_, i) => i * 0.5 - 3);
  const cases: Array<[string, () => tf.Tensor]> = [
    ['rows of a matrix (MoE dispatch, embedding lookup)', () => tf.gather(tf.tensor2d(x, [10, 3]), tf.tensor1d([9, 0, 4, 4], 'int32'))],
    ['along a middle axis with 2-D indices', () => tf.gather(tf.tensor3d(x, [2, 5, 3]), tf.tensor2d([[1, 4], [0, 0]], [2, 2], 'int32'), 1)],
    ['along the last axis', () => tf.gather(tf.tensor3d(x, [2, 5, 3]), tf.tensor1d([2, 0], 'int32'), 2)],
    ['single elements of a flat tensor (the picked logits)', () => tf.gather(tf.tensor1d(x), tf.tensor1d([29, 3, 17], 'int32'))],
    ['int32 values', () => tf.gather(tf.tensor2d(x.map((v) => Math.round(v * 2)), [10, 3], 'int32'), tf.tensor1d([1, 8], 'int32'))],
    ['no indices', () => tf.gather(tf.tensor2d(x, [10, 3]), tf.tensor1d([], 'int32'))],
  ];
  for (const [name, f] of cases) {
    it(`equals the cpu kernel: ${name}`, async () => {
      const r = await onBoth(f);
      expect(r.wasm).toEqual(r.cpu);
    });
  }

  it('equals the cpu kernel in the gradient (a scatter-add of repeated rows)', async () => {
    const r = await onBoth(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, tf.tensor1d([2, 2, 0], 'int32')), tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3]))))(tf.tensor2d(x.slice(0, 12), [4, 3])));
    expect(r.wasm).toEqual(r.cpu);
  });

  it('rejects an index outside the axis, naming it', () => {
    expect(() => tf.tidy(() => tf.gather(tf.tensor2d(x, [10, 3]), tf.tensor1d([10], 'int32')))).toThrow(/index value 10 is not in \[0, 9\]/);
  });

  it("is switched back to tfjs's kernel with wasmSliceKernels: 'tfjs'", async () => {
    const prev = setOpsSettings({ wasmSliceKernels: 'tfjs' });
    try {
      const r = await onBoth(cases[0][1]);
      expect(r.wasm).toEqual(r.cpu);
    } finally {
      setOpsSettings(prev);
    }
  });
});

describe('cross-entropy with the softmax-derived logsumexp and the one-pass gradient kernel', () => {
  const N = 6;
  const V = 7;
  const logitVals = Array.from({ length: N * V }, (_, i) => Math.sin(i * 1.7) * 4 + (i % V === 3 ? 30 : 0));

  it('BamSoftmaxXentGrad equals (softmax − onehot)·scale, skipping negative targets', () => {
    const p = tf.softmax(tf.tensor2d(logitVals, [N, V]));
    const t = tf.tensor1d([0, 3, 6, -1, 2, 3], 'int32');
    const scale = tf.tensor1d([0.5, 1, -2, 1, 0, 3]);
    const got = tf.engine().runKernel(SOFTMAX_XENT_GRAD, { probs: p, targets: t, scale }) as tf.Tensor;
    const pv = p.dataSync();
    const tv = [0, 3, 6, -1, 2, 3];
    const sv = [0.5, 1, -2, 1, 0, 3];
    const want = tf.tensor2d(Array.from(pv, (x, i) => (x - (tv[Math.floor(i / V)] === i % V ? 1 : 0)) * sv[Math.floor(i / V)]), [N, V]);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0])).toBeLessThan(1e-7);
    tf.dispose([p, t, scale, got, want]);
  });

  it('gives the loss and gradient of the builtin logsumexp form, even when a target is 30 nats away', async () => {
    const logits = tf.tensor3d(logitVals, [2, 3, V]);
    const targets = tf.tensor2d([1, 3, 0, 6, -1, 5], [2, 3], 'int32');
    const lossAndGrad = () => {
      const g = tf.valueAndGrad((l: tf.Tensor) => tokenNll(l as tf.Tensor3D, targets));
      const { value, grad } = g(logits);
      return [value, grad] as const;
    };
    const [fastLoss, fastGrad] = lossAndGrad();
    const prev = setOpsSettings({ crossEntropyGradient: 'builtin' });
    const [refLoss, refGrad] = lossAndGrad();
    setOpsSettings(prev);
    const l = (await fastLoss.data())[0];
    expect(l).toBeGreaterThan(10);
    expect(Math.abs(l - (await refLoss.data())[0])).toBeLessThan(1e-5 * l);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(fastGrad, refGrad))).dataSync()[0])).toBeLessThan(1e-6);
    tf.dispose([logits, targets, fastLoss, fastGrad, refLoss, refGrad]);
  });

  /** Mean NLL in float64 of rows of `V` logits and their targets (−1 = ignored). */
  function nll64(logits: number[], targets: number[]): number {
    let total = 0;
    let count = 0;
    targets.forEach((t, n) => {
      if (t < 0) return;
      const row = logits.slice(n * V, (n + 1) * V);
      const m = Math.max(...row);
      total += m + Math.log(row.reduce((a, l) => a + Math.exp(l - m), 0)) - row[t];
      count++;
    });
    return total / count;
  }

  it('BamXentNll gives −log softmax at the target, also where that probability underflows float32 (100 nats)', () => {
    // Row 2's target is 100 nats below its row's maximum: exp(−100) ≈ 4e-44 is 0 or denormal in float32.
    const vals = logitVals.map((l, i) => (i === 2 * V + 5 ? l - 100 : l));
    const t = [1, 3, 5, 6, 0, 2];
    const got = tf.tidy(() => {
      const logits = tf.tensor2d(vals, [N, V]);
      return Array.from((tf.engine().runKernel(XENT_NLL, { probs: tf.softmax(logits), logits, targets: tf.tensor1d(t, 'int32') }) as tf.Tensor).dataSync());
    });
    t.forEach((tn, n) => expect(got[n]).toBeCloseTo(nll64(vals.slice(n * V, (n + 1) * V), [tn]), 4));
    expect(got[2]).toBeGreaterThan(100);
  });

  it('targetNll (the scoring form, softmax made inside) agrees fused, ops, on cpu and with float64, per row', async () => {
    const t = [1, 3, 5, 6, 0, 2];
    const rows = (which: 'fused' | 'ops') => {
      const prev = setOpsSettings({ crossEntropyForward: which });
      try {
        return tf.tidy(() => targetNll(tf.tensor2d(logitVals, [N, V]), tf.tensor1d(t, 'int32')));
      } finally {
        setOpsSettings(prev);
      }
    };
    const [fused, ops] = [rows('fused'), rows('ops')];
    const [f, o] = [Array.from(await fused.data()), Array.from(await ops.data())];
    tf.dispose([fused, ops]);
    const both = await onBoth(() => targetNll(tf.tensor2d(logitVals, [N, V]), tf.tensor1d(t, 'int32')));
    t.forEach((tn, n) => {
      const want = nll64(logitVals.slice(n * V, (n + 1) * V), [tn]);
      for (const got of [f[n], o[n], both.cpu[n], both.wasm[n]]) expect(Math.abs(got - want)).toBeLessThan(1e-5 * Math.max(1, want));
    });
  });

  it('BamXentNll rejects a target outside the vocabulary, naming it', () => {
    expect(() => tf.tidy(() => {
      const logits = tf.tensor2d(logitVals, [N, V]);
      return tf.engine().runKernel(XENT_NLL, { probs: tf.softmax(logits), logits, targets: tf.tensor1d([0, 1, 2, 3, 4, V], 'int32') });
    })).toThrow(/target 7 is not in \[0, 6\]/);
  });

  it("gives the loss of the two-maxima form (crossEntropyForward: 'ops'), the cpu backend's and float64's, with padding ignored", async () => {
    const targetVals = [1, 3, 0, 6, -1, 5];
    const loss = async (which: 'fused' | 'ops') => {
      const prev = setOpsSettings({ crossEntropyForward: which });
      try {
        const t = tf.tidy(() => tokenNll(tf.tensor3d(logitVals, [2, 3, V]), tf.tensor2d(targetVals, [2, 3], 'int32')));
        const kernels = (await tf.profile(() => tf.tidy(() => tokenNll(tf.tensor3d(logitVals, [2, 3, V]), tf.tensor2d(targetVals, [2, 3], 'int32'))))).kernelNames;
        const v = (await t.data())[0];
        t.dispose();
        return { v, kernels };
      } finally {
        setOpsSettings(prev);
      }
    };
    const fused = await loss('fused');
    const ops = await loss('ops');
    expect(fused.kernels).toContain(XENT_NLL);
    expect(fused.kernels).not.toContain('Max');
    expect(ops.kernels).not.toContain(XENT_NLL);
    const want = nll64(logitVals, targetVals);
    expect(Math.abs(fused.v - want)).toBeLessThan(1e-5 * want);
    expect(Math.abs(fused.v - ops.v)).toBeLessThan(1e-5 * want);
    const cpu = await onBoth(() => tokenNll(tf.tensor3d(logitVals, [2, 3, V]), tf.tensor2d(targetVals, [2, 3], 'int32')));
    expect(Math.abs(cpu.wasm[0] - cpu.cpu[0])).toBeLessThan(1e-5 * want);
  });
});
