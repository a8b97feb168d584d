/**
 * Parallel vs sequential blocks (PaLM §2 reports ~15% faster training for the parallel
 * formulation at large scale): training tokens/s of each variant with both block kinds,
 * interleaved in one process run (lib/train-runner.ts), on bam's wasm trainer.
 *
 *   npx tsx benchmarks/blocks.ts [--preset tiny] [--variants dense,bam-full] [--rounds 3] [--steps 10]
 *       [--batch-size 8] [--workers 1] [--json]
 *
 * The parallel block has one norm per layer and lets attention and FFN read the same normed
 * input; the sequential one has two norms and the FFN reads the attention's output. Same FLOPs
 * (the norms are not counted), so any difference is overhead. With a dense attention and a dense
 * FFN the parallel block can make its five input projections in one product (PaLM's fusion,
 * `parallelProjections: 'fused'`; the default is five products); a third case per such variant,
 * "parallel, fused projections", shows what the fusion does (bam ×1 only).
 */
import { selectBackend } from '@bam/core';
import { BENCH_OPTIONS, benchmarkArgs, machineInfo, machineLine, markdownTable, parseVariants, variantOf } from './lib/common.ts';
import { cells, cpuCell, measureTraining, medianOf, toJson, type TrainCase } from './lib/train-runner.ts';

const { values, variants } = benchmarkArgs(
  'blocks.ts',
  'Training tokens/s of each variant with parallel and with sequential blocks, interleaved in one process run.',
  {
    preset: BENCH_OPTIONS.preset,
    variants: { ...BENCH_OPTIONS.variants, default: 'dense,bam-full' },
    rounds: BENCH_OPTIONS.rounds,
    steps: BENCH_OPTIONS.steps,
    'batch-size': BENCH_OPTIONS['batch-size'],
    workers: { kind: 'int', min: 1, default: 1, help: 'worker threads of the bam engine (1: train() in this thread; W > 1: data-parallel)' },
    json: BENCH_OPTIONS.json,
  },
  (v) => ({ values: v, variants: parseVariants(v.variants) }),
);
const log = (s: string) => {
  if (!values.json) console.error(s);
};
await selectBackend({ prefer: 'wasm', log: () => {} });
const B = values['batch-size'];
const engine = `bam ×${values.workers}`;
const cases: TrainCase[] = variants.flatMap((v) => {
  const both = (['parallel', 'sequential'] as const).map((block) => ({ label: `${v} ${block}`, config: variantOf(values.preset, v, { block }) }));
  const fusable = both[0].config.attention.kind === 'dense' && both[0].config.ffn.kind === 'dense' && engine === 'bam ×1';
  return fusable ? [...both, { label: `${v} parallel, fused projections`, config: both[0].config, ops: { parallelProjections: 'fused' as const } }] : both;
});
const T = cases[0].config.maxSeqLen;
const machineStart = machineInfo();
log(machineLine(machineStart));
const m = await measureTraining(cases, { engines: [engine], rounds: values.rounds, steps: values.steps, batchSize: B, seqLen: T, log });
const machineEnd = machineInfo();
const rowsOf = (v: string, parallelLabel: string) => {
  const [p, s] = [cases.find((c) => c.label === parallelLabel)!, cases.find((c) => c.label === `${v} sequential`)!];
  return [
    parallelLabel.replace(/ parallel$/, '').replace(' parallel,', ','),
    ...cells(m, p, engine, T),
    ...cells(m, s, engine, T),
    `${(medianOf(m, p.label, engine) / medianOf(m, s.label, engine)).toFixed(2)}×`,
    cpuCell(m, p, engine),
    cpuCell(m, s, engine),
    `${(medianOf(m, p.label, engine, 'perCpu') / medianOf(m, s.label, engine, 'perCpu')).toFixed(2)}×`,
  ];
};
const rows = variants.flatMap((v) => cases.filter((c) => c.label.startsWith(`${v} parallel`)).map((c) => rowsOf(v, c.label)));
if (values.json) {
  console.log(JSON.stringify({ benchmark: 'blocks', preset: values.preset, engine, results: toJson(m), machine: { ...machineStart, loadAverageEnd: machineEnd.loadAverage } }));
} else {
  console.log(`\n${machineLine(machineStart)} (end: ${machineEnd.loadAverage.join(' / ')})`);
  console.log(`preset ${values.preset}, batch ${B} × ${T}, ${values.steps} steps per run, ${values.rounds} rounds, ${engine}\n`);
  console.log(
    markdownTable(
      ['variant', 'parallel tokens/s', 'parallel GFLOP/s', 'sequential tokens/s', 'sequential GFLOP/s', 'parallel / sequential', 'parallel tokens/CPU-s', 'sequential tokens/CPU-s', 'per CPU-s'],
      rows,
    ),
  );
}
