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
 */
import { selectBackend } from '@bam/core';
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
const machineEnd = machineInfo();

const header = ['variant', 'GFLOP/token', ...engines.flatMap((e) => [`${e} tokens/s`, `${e} GFLOP/s`]), ...(usePeer ? bamEngines.map((e) => `${e} / torch`) : [])];
const rows = cases.map((c) => [
  c.label,
  (flopsPerToken(c, T) / 1e9).toFixed(4),
  ...engines.flatMap((e) => cells(m, c, e, T)),
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
    machine: { ...machineStart, loadAverageEnd: machineEnd.loadAverage },
  }));
} else {
  console.log(`\n${machineLine(machineStart)} (end: ${machineEnd.loadAverage.join(' / ')})`);
  console.log(`preset ${values.preset}, batch ${B} × ${T}, ${values.steps} steps per run, ${values.rounds} rounds${usePeer && info?.ok ? `, torch ${info.torch} with ${peerThreads} threads (OpenBLAS ${peerBlasThreads})` : ''}\n`);
  console.log(markdownTable(header, rows));
  console.log(`\ntokens per CPU-second (all threads of the engine's process)\n`);
  console.log(markdownTable(cpuHeader, cpuRows));
}
