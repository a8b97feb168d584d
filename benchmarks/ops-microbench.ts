/**
 * What bam's wasm fast paths buy, measured side by side in one process (the CPU is shared, so
 * the variants are interleaved round by round and the median is reported).
 *
 *   npx tsx benchmarks/ops-microbench.ts [--rounds 5] [--preset tiny] [--batch 8] [--variant dense|btx|bam-full|bam-kv-shared]
 *                                        [--settings builtin,+matmul,+xent,+slices,+per-head,-slices,+fused,+blas] [--skip-matmul]
 *   npx tsx benchmarks/ops-microbench.ts --ab rmsnorm,rope,xent,all,simd,moe,blocks [--rounds 6] [--variant dense,bam-full] [--score | --op]
 *
 * `--ab simd` times bam's wasm SIMD kernels (AdamW aside: one forward+backward) against the
 * JavaScript loops and tfjs ops they replace (`opsSettings().wasmKernels` 'js' vs 'simd'; the
 * same bits either way). `--ab moe` times a mixture's experts run one by one against their
 * products grouped in one kernel per projection (`opsSettings().moeProducts`; the same bits up to
 * top-2). `--ab blocks` times BLAS products cut into blocks of the longer output side against
 * blocks of rows (`opsSettings().productBlocks`; different bits, so the losses differ in the last
 * digits).
 *
 * Part 1: GFLOP/s of plain, transposed and batched matMul on wasm, on XNNPACK (wasm's own) and on
 * OpenBLAS (ops/blas.ts) when it loads.
 * Part 2: one forward+backward (computeLossAndGrads) of a preset model, B×T tokens, with the
 * fast paths switched on one at a time (ops/settings.ts):
 *   builtin      tf.matMul gradient, batched attention, tfjs Slice/SplitV/Unpack kernels,
 *                TF.js's logsumexp gradient in the loss
 *   +matmul      custom matmul gradient (explicit transposes, plain 2-D products)
 *   +xent        + cross-entropy with a written-out gradient
 *   +slices      + zero-copy Slice/SplitV/Unpack kernels
 *   +per-head    + attention as 2-D products per (batch, head), built from autodiff pieces
 *                (a MoA runs its experts one by one)
 *   +fused       + attention as one op with a written-out gradient (ops/attention.ts); a MoA runs
 *                all experts' groups in that one op (mixture/moa.ts moaFused)   (= bam's default)
 *   -slices      +fused but with tfjs's Slice/SplitV/Unpack/Identity (what +fused costs without them)
 *   +blas        + matrix products on OpenBLAS (ops/blas.ts; attention through gemmBatch)   (= bam's default)
 * Every setting but +blas runs its products on XNNPACK (BAM_BLAS=off).
 *
 * With --ab (instead of parts 1 and 2): each named element-wise fast path (swiglu, rmsnorm, rope,
 * xent = the loss's crossEntropyForward; `all` = the four together) as `ops` against `fused`,
 * everything else at bam's defaults (OpenBLAS products when they load), alternated within each
 * round (in reverse order every other round) over one forward+backward per variant given; medians
 * over rounds and the losses of both (which should agree to float32 rounding).
 * --score times one scoring batch (scoreTokens) instead, with the batch's summed log-probability;
 * --op times each fast path's own op at the preset's shapes (less noise than a whole step).
 */
import * as tf from '@tensorflow/tfjs';
import {
  BamError,
  blasStatus,
  createModel,
  applyRope,
  disposeModel,
  enableBlas,
  rmsNorm,
  ropeTables,
  scoreTokens,
  siluMul,
  tokenNll,
  type ModelConfig,
  selectBackend,
  setOpsSettings,
  type OpsSettings,
} from '@bam/core';
import { BENCH_OPTIONS, benchmarkArgs, forwardBackwardStep, parseVariants, variantOf } from './lib/common.ts';

// The fast-path settings of part 2 by name (ops/settings.ts), in the order the header comment explains them.
const fused: Partial<OpsSettings> = { matmulGradient: 'explicit-transpose', crossEntropyGradient: 'explicit', attention: 'fused', wasmSliceKernels: 'bam' };
const allSettings: [string, Partial<OpsSettings>][] = [
  ['builtin', { matmulGradient: 'builtin', crossEntropyGradient: 'builtin', attention: 'batched', wasmSliceKernels: 'tfjs' }],
  ['+matmul', { matmulGradient: 'explicit-transpose', crossEntropyGradient: 'builtin', attention: 'batched', wasmSliceKernels: 'tfjs' }],
  ['+xent', { matmulGradient: 'explicit-transpose', crossEntropyGradient: 'explicit', attention: 'batched', wasmSliceKernels: 'tfjs' }],
  ['+slices', { matmulGradient: 'explicit-transpose', crossEntropyGradient: 'explicit', attention: 'batched', wasmSliceKernels: 'bam' }],
  ['+per-head', { matmulGradient: 'explicit-transpose', crossEntropyGradient: 'explicit', attention: 'per-head', wasmSliceKernels: 'bam' }],
  ['-slices', { matmulGradient: 'explicit-transpose', crossEntropyGradient: 'explicit', attention: 'fused', wasmSliceKernels: 'tfjs' }],
  ['+fused', fused],
  ['+blas', fused],
];

// The element-wise fast paths --ab times (ops/settings.ts), each switched alone, or all together.
type Elementwise = 'swiglu' | 'rmsnorm' | 'rope' | 'crossEntropyForward';
const abSettings: Record<string, Elementwise[]> = {
  swiglu: ['swiglu'],
  rmsnorm: ['rmsnorm'],
  rope: ['rope'],
  xent: ['crossEntropyForward'],
  all: ['swiglu', 'rmsnorm', 'rope', 'crossEntropyForward'],
};
/** --ab names that switch a whole step's setting rather than an element-wise path: the setting as `ops` (the reference) and as `fused` (bam's default). */
const wholeStep: Record<string, Record<'ops' | 'fused', Partial<OpsSettings>>> = {
  /** bam's wasm SIMD kernels against the JavaScript loops and tfjs ops they replace. */
  simd: { ops: { wasmKernels: 'js' }, fused: { wasmKernels: 'simd' } },
  /** A mixture's experts one by one against their products grouped in one kernel per projection. */
  moe: { ops: { moeProducts: 'per-expert' }, fused: { moeProducts: 'grouped' } },
  /** BLAS products cut into blocks of the longer side against blocks of rows. */
  blocks: { ops: { productBlocks: 'longer' }, fused: { productBlocks: 'rows' } },
};
const abNames = [...Object.keys(abSettings), ...Object.keys(wholeStep)];
const withAll = (name: string, mode: 'ops' | 'fused'): Partial<OpsSettings> =>
  wholeStep[name]?.[mode] ?? Object.fromEntries(abSettings[name].map((n) => [n, mode]));

const { values, variant, variants: abVariants, ab } = benchmarkArgs(
  'ops-microbench.ts',
  "What each wasm fast path buys: matMul GFLOP/s by form, and one forward + backward with the fast paths switched on one at a time (setOpsSettings).",
  {
    rounds: { ...BENCH_OPTIONS.rounds, default: 5 },
    preset: BENCH_OPTIONS.preset,
    batch: { ...BENCH_OPTIONS['batch-size'], help: 'sequences per forward + backward' },
    variant: { kind: 'string', arg: 'VARIANT', default: 'dense', help: 'the variant measured in part 2, one of dense, btx, bam-full, bam-kv-shared' },
    settings: { kind: 'string', arg: 'LIST', default: 'builtin,+matmul,+xent,+slices,+per-head,-slices,+fused,+blas', help: 'comma-separated fast-path settings of part 2, in order (the first is the baseline)' },
    'skip-matmul': { kind: 'flag', help: 'leave out part 1 (matMul GFLOP/s)' },
    op: { kind: 'flag', help: "with --ab: time each fast path's own op (forward + backward at the preset's shapes) instead of a whole step" },
    score: { kind: 'flag', help: 'with --ab: time scoreTokens of B sequences of T + 1 tokens (one scoring batch) instead of forward + backward' },
    ab: { kind: 'string', arg: 'LIST', default: '', help: `element-wise fast paths to time as ops vs fused (${abNames.join(', ')}), instead of parts 1 and 2; --variant may then list several` },
  },
  (v) => {
    const unknown = v.settings.split(',').filter((n) => !allSettings.some(([known]) => known === n));
    if (unknown.length) throw new BamError(`--settings: unknown setting${unknown.length > 1 ? 's' : ''} '${unknown.join(',')}'`, 'E_BENCH', `known names are ${allSettings.map(([n]) => n).join(', ')}`);
    const ab = v.ab.split(',').filter(Boolean);
    const unknownAb = ab.filter((n) => !abNames.includes(n));
    if (unknownAb.length) throw new BamError(`--ab: unknown fast path '${unknownAb.join(',')}'`, 'E_BENCH', `known names are ${abNames.join(', ')}`);
    const variants = parseVariants(v.variant);
    const steps = ab.filter((n) => n === 'all' || Object.hasOwn(wholeStep, n));
    if (v.op && steps.length) throw new BamError(`--op: '${steps.join("', '")}' switch whole steps, not one op`, 'E_BENCH', 'name the element-wise fast paths one by one');
    if (!ab.length && variants.length > 1) throw new BamError('--variant: one variant only without --ab', 'E_BENCH', 'pass one of dense, btx, bam-full, bam-kv-shared');
    return { values: v, variant: variants[0], variants, ab };
  },
);
const { rounds, batch: B } = values;

const choice = await selectBackend({ log: () => {} });
const blasFound = blasStatus().active;
console.log(`backend: ${choice.name}; ${blasStatus().detail}`);
const engines = blasFound ? (['xnnpack', 'blas'] as const) : (['xnnpack'] as const);
const useEngine = (e: 'xnnpack' | 'blas') => enableBlas({ library: e === 'blas' ? 'auto' : 'off' });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeIt(f: () => tf.Tensor | tf.Tensor[], n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const out = f();
    const list = Array.isArray(out) ? out : [out];
    await list[0].data();
    tf.dispose(list);
  }
  return (performance.now() - t0) / n;
}

/**
 * For --op: one fast path's own op at the preset's shapes (N = B·T rows), forward and backward of
 * Σ op(x)² (or the loss itself for xent); resolves to the sum of the first gradient.
 */
function opStep(name: string, c: ModelConfig): () => Promise<number> {
  const T = c.maxSeqLen;
  const N = B * T;
  const Dh = c.dModel / c.nHeads;
  const rand = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);
  const sumSq = (t: tf.Tensor) => tf.sum(tf.square(t));
  let grads: () => tf.Tensor[];
  if (name === 'rmsnorm') {
    const [x, w] = [rand([N, c.dModel], 1), rand([c.dModel], 2)];
    grads = () => tf.grads((a: tf.Tensor, s: tf.Tensor) => sumSq(rmsNorm(a, { scale: s as tf.Tensor1D }, c.normEps)))([x, w]);
  } else if (name === 'rope') {
    const x = rand([B, T, c.nHeads, Dh], 1);
    const { cos, sin } = ropeTables(T, Dh, c.ropeBase);
    grads = () => tf.grads((a: tf.Tensor) => sumSq(applyRope(a as tf.Tensor4D, cos, sin)))([x]);
  } else if (name === 'swiglu') {
    const [g, u] = [rand([N, c.dFF], 1), rand([N, c.dFF], 2)];
    grads = () => tf.grads((a: tf.Tensor, b: tf.Tensor) => sumSq(siluMul(a, b)))([g, u]);
  } else {
    const logits = rand([B, T, c.vocabSize], 1);
    const targets = tf.tensor2d(Int32Array.from({ length: N }, (_, i) => (i * 7919) % c.vocabSize), [B, T], 'int32');
    grads = () => tf.grads((l: tf.Tensor) => tokenNll(l as tf.Tensor3D, targets))([logits]);
  }
  return async () => {
    const out = grads();
    const total = tf.sum(out[0]);
    const v = (await total.data())[0];
    tf.dispose([...out, total]);
    return v;
  };
}

// --ab: ops vs fused per element-wise fast path, interleaved round by round.
if (ab.length) {
  for (const v of abVariants) {
    const config = variantOf(values.preset, v);
    const T = config.maxSeqLen;
    const model = createModel(config, 1);
    const { step: trainStep, dispose } = forwardBackwardStep(model, B);
    const sequences = Array.from({ length: B }, (_, b) => Array.from({ length: T + 1 }, (_, t) => (((b * (T + 1) + t) * 7919) % config.vocabSize)));
    // Scoring: the summed log-probability of the batch stands in for the loss.
    const scoreStep = async () => (await scoreTokens(model, sequences, { batchSize: B })).reduce((a, r) => a + r.logprobs.reduce((x, y) => x + y, 0), 0);
    const ops = values.op ? new Map(ab.map((name) => [name, opStep(name, config)])) : undefined;
    const run = async (name: string) => {
      if (ops) return ops.get(name)!();
      if (values.score) return scoreStep();
      const out = trainStep();
      const loss = (await out[0].data())[0];
      tf.dispose(out);
      return loss;
    };
    const cases = ab.flatMap((name) => (['ops', 'fused'] as const).map((mode) => ({ name, mode, settings: withAll(name, mode) })));
    const times = cases.map(() => [] as number[]);
    const losses = cases.map(() => 0);
    for (let r = 0; r < rounds + 1; r++) {
      // Odd rounds run the cases in reverse: the position in a round biased the times (up to ~20% in a
      // three-way test), so each case leads equally often.
      const order = [...cases.entries()];
      if (r % 2 === 1) order.reverse();
      for (const [i, c] of order) {
        const prev = setOpsSettings(c.settings);
        const t0 = performance.now();
        const loss = await run(c.name);
        // Round 0 warms up and records each case's loss.
        if (r === 0) losses[i] = loss;
        else times[i].push(performance.now() - t0);
        setOpsSettings(prev);
      }
    }
    console.log(`\n${values.op ? 'one op, forward+backward' : values.score ? 'scoreTokens' : 'forward+backward'}, preset ${values.preset} as ${v}, B=${B}, T=${T}: median (min–max) of ${rounds} interleaved rounds`);
    for (const [i, c] of cases.entries()) {
      const ms = median(times[i]);
      const vsOps = c.mode === 'fused' ? `  ${((ms / median(times[i - 1]) - 1) * 100).toFixed(0).padStart(4)}% vs ops` : '';
      const digits = values.op ? 2 : 0;
      console.log(`  ${c.name.padEnd(8)} ${c.mode.padEnd(6)} ${ms.toFixed(digits).padStart(5)} ms (${Math.min(...times[i]).toFixed(digits)}–${Math.max(...times[i]).toFixed(digits)})  ${values.op ? 'Σ grad' : values.score ? 'Σ log p' : 'loss'} ${losses[i].toFixed(values.score ? 3 : 6)}${vsOps}`);
    }
    dispose();
    disposeModel(model);
  }
  process.exit(0);
}

// Part 1: matMul throughput.
if (!values['skip-matmul']) {
  const M = 1024, K = 128, N = 512;
  const a = tf.randomNormal([M, K]) as tf.Tensor2D;
  const b = tf.randomNormal([K, N]) as tf.Tensor2D;
  const bt = tf.randomNormal([N, K]) as tf.Tensor2D;
  const at = tf.randomNormal([K, M]) as tf.Tensor2D;
  const G = 32, T = 128, Dh = 32;
  const q = tf.randomNormal([G, T, Dh]) as tf.Tensor3D;
  const kt = tf.randomNormal([G, Dh, T]) as tf.Tensor3D;
  const q2 = tf.randomNormal([T, Dh]) as tf.Tensor2D;
  const kt2 = tf.randomNormal([Dh, T]) as tf.Tensor2D;
  const flops2d = 2 * M * K * N;
  const flopsAttn = 2 * G * T * T * Dh;
  const cases: [string, () => tf.Tensor, number][] = [
    [`2-D [${M},${K}]·[${K},${N}]`, () => tf.matMul(a, b), flops2d],
    ['2-D transposeB', () => tf.matMul(a, bt, false, true), flops2d],
    ['2-D transposeA', () => tf.matMul(at, b, true, false), flops2d],
    [`batched [${G},${T},${Dh}]·[${G},${Dh},${T}]`, () => tf.matMul(q, kt), flopsAttn],
    [`${G}× 2-D [${T},${Dh}]·[${Dh},${T}]`, () => tf.tidy(() => tf.stack(Array.from({ length: G }, () => tf.matMul(q2, kt2)))), flopsAttn],
  ];
  const times = new Map<string, number[]>(engines.flatMap((e) => cases.map(([n]) => [`${e}|${n}`, []] as [string, number[]])));
  for (let r = 0; r < rounds; r++) {
    for (const e of engines) {
      useEngine(e);
      for (const [name, f] of cases) {
        await timeIt(f, 1); // untimed: wakes the engine's threads after the other engine's turn
        times.get(`${e}|${name}`)!.push(await timeIt(f, 5));
      }
    }
  }
  useEngine(engines[engines.length - 1]);
  console.log('\nmatMul on wasm (median of rounds)');
  for (const [name, , flops] of cases) {
    const cells = engines.map((e) => {
      const ms = median(times.get(`${e}|${name}`)!);
      return `${e} ${ms.toFixed(2).padStart(7)} ms ${(flops / ms / 1e6).toFixed(1).padStart(6)} GFLOP/s`;
    });
    console.log(`  ${name.padEnd(34)} ${cells.join('   ')}`);
  }
}

// Part 2: forward+backward of a preset model.
{
  const config = variantOf(values.preset, variant);
  const T = config.maxSeqLen;
  const model = createModel(config, 1);
  const { step, dispose } = forwardBackwardStep(model, B);
  // +blas needs OpenBLAS; without it the header line says why and the setting is left out.
  const wanted = values.settings.split(',').filter((n) => n !== '+blas' || blasFound);
  const variants = allSettings.filter(([n]) => wanted.includes(n));
  const times = new Map<string, number[]>(variants.map(([n]) => [n, []]));
  const losses = new Map<string, number>();
  for (let r = 0; r < rounds + 1; r++) {
    for (const [name, settings] of variants) {
      setOpsSettings(settings);
      useEngine(name === '+blas' ? 'blas' : 'xnnpack');
      if (r === 0) {
        // Warm-up round, and a check that every variant computes the same loss.
        const out = step();
        losses.set(name, (await out[0].data())[0]);
        tf.dispose(out);
        continue;
      }
      times.get(name)!.push(await timeIt(step, 1));
    }
  }
  setOpsSettings(fused);
  useEngine(engines[engines.length - 1]);
  const base = median(times.get(variants[0][0])!);
  console.log(`\nforward+backward, preset ${values.preset} as ${values.variant} (D=${config.dModel}, L=${config.nLayers}, H=${config.nHeads}, F=${config.dFF}, V=${config.vocabSize}), B=${B}, T=${T}: median of ${rounds}`);
  for (const [name] of variants) {
    const ms = median(times.get(name)!);
    console.log(
      `  ${name.padEnd(10)} ${ms.toFixed(0).padStart(6)} ms/step  ${((B * T) / (ms / 1000)).toFixed(0).padStart(6)} tokens/s  ${(base / ms).toFixed(2)}×  loss ${losses.get(name)!.toFixed(5)}`,
    );
  }
  dispose();
  disposeModel(model);
}
