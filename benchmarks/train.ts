/**
 * Training throughput per variant, bam on wasm beside the PyTorch peer, in ONE process run:
 * tokens/s and achieved GFLOP/s (training FLOPs per token from the paper's analytic count,
 * `trainingFlops`) of forward + backward + clipping + AdamW on the same batches from the same
 * initial weights. Engines and variants are interleaved round by round (lib/train-runner.ts), so
 * load drift on a shared machine hits them all alike; each cell is the median (min–max) over rounds.
 *
 *   npx tsx benchmarks/train.ts [--preset tiny] [--variants dense,btx,bam-full,bam-kv-shared]
 *       [--rounds 3] [--steps 10] [--batch-size 8] [--seq-len 128] [--workers 1,2] [--no-peer]
 *       [--peer-threads 2] [--peer-blas-threads 1] [--json]
 *
 * Engines: `bam ×1` is `train()` in this thread; `bam ×W` is `trainDataParallel` over W worker
 * threads (gradients averaged every step); `torch` is benchmarks/peers/torch_peer.py with
 * torch.set_num_threads(peer-threads), OPENBLAS_NUM_THREADS=peer-blas-threads (1 by default) and
 * OMP_WAIT_POLICY=PASSIVE. bam's matrix products run on OpenBLAS when it is installed (the header
 * says which library and how many threads; BAM_BLAS=off measures XNNPACK).
 * Python start-up and torch import are outside its timing, as tfjs start-up is outside bam's.
 *
 * The product ceiling, measured in the same run after the rounds: bam's own matMul (OpenBLAS with
 * this thread's BLAS threads) of the step's largest product, the LM head [B·T, D]·[D, V], median of
 * 9 after a warm-up, the product alone (one element read back); each bam ×1 rate is also given as
 * a share of it. (Before 2026-12-05 05:30 UTC the whole product was read back, which timed a copy
 * of it too and put the ceiling 15–50% lower.)
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type ModelConfig } from '@bam/core';
import { BENCH_OPTIONS, benchmarkArgs, intList, machineInfo, machineLine, markdownTable, parseVariants, variantOf } from './lib/common.ts';
import { peerInfo } from './lib/peer.ts';
import { cells, cpuCell, flopsPerToken, measureTraining, medianOf, toJson, type TrainCase } from './lib/train-runner.ts';

const { values, variants, workers } = benchmarkArgs(
  'train.ts',
  'Training tokens/s and GFLOP/s per variant: bam in one thread, bam data-parallel, and the PyTorch peer on the same batches, interleaved in one process run.',
  {
    preset: BENCH_OPTIONS.preset,
    variants: BENCH_OPTIONS.variants,
    rounds: BENCH_OPTIONS.rounds,
    steps: BENCH_OPTIONS.steps,
    'batch-size': BENCH_OPTIONS['batch-size'],
    'seq-len': BENCH_OPTIONS['seq-len'],
    workers: { ...BENCH_OPTIONS.workers, default: '1,2', help: 'comma-separated worker-thread counts of bam engines (1: train(); W > 1: trainDataParallel)' },
    'no-peer': { kind: 'flag', help: 'leave out the PyTorch peer' },
    'peer-threads': { kind: 'int', min: 1, default: 2, help: "the peer's torch.set_num_threads" },
    'peer-blas-threads': { kind: 'int', min: 1, default: 1, help: "the peer's OPENBLAS_NUM_THREADS" },
    json: BENCH_OPTIONS.json,
  },
  (v) => ({ values: v, variants: parseVariants(v.variants), workers: intList(v.workers, 'workers') }),
);
const log = (s: string) => {
  if (!values.json) console.error(s);
};
const backend = await selectBackend({ prefer: 'wasm', log: () => {} });
const T = values['seq-len'];
const B = values['batch-size'];
const peerThreads = values['peer-threads'];
const peerBlasThreads = values['peer-blas-threads'];
const info = values['no-peer'] ? null : peerInfo();
if (info && !info.ok) log(`PyTorch peer skipped: ${info.error}`);
const usePeer = info?.ok === true;
const bamEngines = workers.map((w) => `bam ×${w}`);
const engines = [...bamEngines, ...(usePeer ? ['torch'] : [])];
const cases: TrainCase[] = variants.map((v) => ({ label: v, config: variantOf(values.preset, v) }));

const machineStart = machineInfo();
log(machineLine(machineStart));
const m = await measureTraining(cases, { engines, rounds: values.rounds, steps: values.steps, batchSize: B, seqLen: T, peerThreads, peerBlasThreads, log });
const ceiling = productCeiling(cases[0].config, B * T);
const machineEnd = machineInfo();

const header = ['variant', 'GFLOP/token', ...engines.flatMap((e) => [`${e} tokens/s`, `${e} GFLOP/s`]), 'bam ×1 % of ceiling', ...(usePeer ? bamEngines.map((e) => `${e} / torch`) : [])];
const rows = cases.map((c) => [
  c.label,
  (flopsPerToken(c, T) / 1e9).toFixed(4),
  ...engines.flatMap((e) => cells(m, c, e, T)),
  workers.includes(1) ? `${((100 * medianOf(m, c.label, 'bam ×1') * flopsPerToken(c, T)) / 1e9 / ceiling.gflops).toFixed(0)}%` : '—',
  ...(usePeer ? bamEngines.map((e) => `${(medianOf(m, c.label, e) / medianOf(m, c.label, 'torch')).toFixed(2)}×`) : []),
]);
// Tokens per CPU-second (all threads): what each engine gets from the CPU time it is given, which
// the load of other users' sessions does not change the way it changes wall-clock throughput.
const cpuHeader = ['variant', ...engines.map((e) => `${e} tokens/CPU-s`), ...(usePeer ? bamEngines.map((e) => `${e} / torch`) : [])];
const cpuRows = cases.map((c) => [
  c.label,
  ...engines.map((e) => cpuCell(m, c, e)),
  ...(usePeer ? bamEngines.map((e) => `${(medianOf(m, c.label, e, 'perCpu') / medianOf(m, c.label, 'torch', 'perCpu')).toFixed(2)}×`) : []),
]);
if (values.json) {
  console.log(JSON.stringify({
    benchmark: 'train',
    preset: values.preset,
    backend: backend.name,
    batchSize: B,
    seqLen: T,
    peer: usePeer && info?.ok ? { torch: info.torch, threads: peerThreads, blasThreads: peerBlasThreads } : null,
    results: toJson(m),
    productCeiling: ceiling,
    machine: { ...machineStart, loadAverageEnd: machineEnd.loadAverage },
  }));
} else {
  console.log(`\n${machineLine(machineStart)} (end: ${machineEnd.loadAverage.join(' / ')})`);
  console.log(`preset ${values.preset}, batch ${B} × ${T}, ${values.steps} steps per run, ${values.rounds} rounds${usePeer && info?.ok ? `, torch ${info.torch} with ${peerThreads} threads (OpenBLAS ${peerBlasThreads})` : ''}`);
  console.log(`product ceiling: bam's matMul ${ceiling.shape} at ${ceiling.gflops.toFixed(1)} GFLOP/s (median of 9)\n`);
  console.log(markdownTable(header, rows));
  console.log(`\ntokens per CPU-second (all threads of the engine's process)\n`);
  console.log(markdownTable(cpuHeader, cpuRows));
}

/** bam's own rate on the step's largest product, the LM head [n, D]·[D, V] (what "the machine" means for item 3 of issue 15). */
function productCeiling(config: ModelConfig, n: number): { shape: string; gflops: number } {
  const a = tf.randomNormal([n, config.dModel]) as tf.Tensor2D;
  const b = tf.randomNormal([config.dModel, config.vocabSize]) as tf.Tensor2D;
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    // One element read back (the product has then run on any backend): reading all of c would
    // time a 4·n·V-byte copy out of the heap too, which at `tiny` costs half as much as the product.
    tf.tidy(() => tf.slice(c, [0, 0], [1, 1]).dataSync());
    if (i > 0) times.push((performance.now() - t0) / 1e3); // the first is the warm-up
    c.dispose();
  }
  tf.dispose([a, b]);
  times.sort((x, y) => x - y);
  return { shape: `[${n}, ${config.dModel}]·[${config.dModel}, ${config.vocabSize}]`, gflops: (2 * n * config.dModel * config.vocabSize) / times[4] / 1e9 };
}
