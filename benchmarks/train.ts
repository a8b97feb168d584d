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
import { parseArgs } from 'node:util';
import { selectBackend } from '@bam/core';
import { intOption, machineInfo, machineLine, markdownTable, parseVariants, variantOf } from './lib/common.ts';
import { peerInfo } from './lib/peer.ts';
import { cells, cpuCell, flopsPerToken, measureTraining, medianOf, toJson, type TrainCase } from './lib/train-runner.ts';

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'tiny' },
    variants: { type: 'string', default: 'dense,btx,bam-full,bam-kv-shared' },
    rounds: { type: 'string', default: '3' },
    steps: { type: 'string', default: '10' },
    'batch-size': { type: 'string', default: '8' },
    'seq-len': { type: 'string', default: '128' },
    workers: { type: 'string', default: '1,2' },
    'no-peer': { type: 'boolean', default: false },
    'peer-threads': { type: 'string', default: '2' },
    'peer-blas-threads': { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const log = (s: string) => {
  if (!values.json) console.error(s);
};
const backend = await selectBackend({ prefer: 'wasm', log: () => {} });
const T = intOption(values['seq-len'], 'seq-len');
const B = intOption(values['batch-size'], 'batch-size');
const peerThreads = intOption(values['peer-threads'], 'peer-threads');
const peerBlasThreads = intOption(values['peer-blas-threads'], 'peer-blas-threads');
const info = values['no-peer'] ? null : peerInfo();
if (info && !info.ok) log(`PyTorch peer skipped: ${info.error}`);
const usePeer = info?.ok === true;
const bamEngines = values.workers!.split(',').map((w) => `bam ×${intOption(w, 'workers')}`);
const engines = [...bamEngines, ...(usePeer ? ['torch'] : [])];
const cases: TrainCase[] = parseVariants(values.variants!).map((v) => ({ label: v, config: variantOf(values.preset!, v) }));

const machineStart = machineInfo();
log(machineLine(machineStart));
const m = await measureTraining(cases, { engines, rounds: intOption(values.rounds, 'rounds'), steps: intOption(values.steps, 'steps'), batchSize: B, seqLen: T, peerThreads, peerBlasThreads, log });
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
