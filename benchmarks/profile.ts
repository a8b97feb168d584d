/**
 * Where a training step's time goes on wasm: `tf.profile` of one forward + backward
 * (`computeLossAndGrads`) per variant, kernel time summed by kernel name and the matMul time by
 * operand shapes (with its GFLOP/s), plus the step's wall time and kernel count. Kernel times of
 * ops nested in a custom gradient are counted inside it too ("unnamed scope"), so the by-kernel
 * column adds up to more than the wall time.
 *
 *   npx tsx benchmarks/profile.ts [--preset tiny] [--variants dense,bam-full] [--batch-size 8] [--top 12]
 */
import * as tf from '@tensorflow/tfjs';
import { createModel, disposeModel, selectBackend } from '@bam/core';
import { BENCH_OPTIONS, benchmarkArgs, forwardBackwardStep, machineLine, markdownTable, median, parseVariants, variantOf } from './lib/common.ts';

const { values, variants } = benchmarkArgs(
  'profile.ts',
  'Where one forward + backward spends its time on wasm: tf.profile kernel time by kernel and by matMul shape, per variant.',
  {
    preset: BENCH_OPTIONS.preset,
    variants: { ...BENCH_OPTIONS.variants, default: 'dense,bam-full' },
    'batch-size': BENCH_OPTIONS['batch-size'],
    top: { kind: 'int', min: 1, default: 12, help: 'rows of each table (kernels, matMul shapes)' },
  },
  (v) => ({ values: v, variants: parseVariants(v.variants) }),
);
await selectBackend({ prefer: 'wasm', log: () => {} });
const { 'batch-size': B, top } = values;
console.log(machineLine());

for (const variant of variants) {
  const config = variantOf(values.preset, variant);
  const T = config.maxSeqLen;
  const model = createModel(config, 1);
  const { step, dispose } = forwardBackwardStep(model, B);
  tf.dispose(step());
  const wall: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const out = step();
    await out[0].data();
    tf.dispose(out);
    wall.push(performance.now() - t0);
  }
  const info = await tf.profile(() => step() as unknown as tf.Tensor);
  tf.dispose(info.result as unknown as tf.Tensor[]);
  const byKernel = new Map<string, { ms: number; n: number }>();
  const byShape = new Map<string, { ms: number; n: number; flops: number }>();
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const a = byKernel.get(k.name) ?? { ms: 0, n: 0 };
    a.ms += ms;
    a.n++;
    byKernel.set(k.name, a);
    if (k.name === 'BatchMatMul') {
      const [sa, sb] = k.inputShapes;
      const out = k.outputShapes[0] as number[];
      // The profile has no transpose flags; the output [.., M, N] fixes them: K = |a's matrix| / M.
      const M = out[out.length - 2];
      const K = (sa[sa.length - 2] * sa[sa.length - 1]) / M;
      const key = `[${sa.join(',')}]·[${sb.join(',')}] → [${out.join(',')}]`;
      const s = byShape.get(key) ?? { ms: 0, n: 0, flops: 0 };
      s.ms += ms;
      s.n++;
      s.flops += 2 * out.reduce((p, d) => p * d, 1) * K;
      byShape.set(key, s);
    }
  }
  const tokens = B * T;
  console.log(`\n## ${variant} — preset ${values.preset}, B=${B}, T=${T}: ${median(wall).toFixed(0)} ms per forward+backward (${Math.round((tokens / median(wall)) * 1000)} tokens/s), ${info.kernels.length} kernels\n`);
  const kernels = [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, top);
  console.log(markdownTable(['kernel', 'ms', 'calls'], kernels.map(([n, a]) => [n, a.ms.toFixed(1), String(a.n)])));
  const shapes = [...byShape].sort((a, b) => b[1].ms - a[1].ms).slice(0, top);
  console.log('');
  console.log(markdownTable(['matMul operands', 'ms', 'calls', 'GFLOP/s'], shapes.map(([n, s]) => [n, s.ms.toFixed(1), String(s.n), (s.flops / s.ms / 1e6).toFixed(1)])));
  dispose();
  disposeModel(model);
}
