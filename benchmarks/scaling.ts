/**
 * How training cost grows: tokens/s (and achieved GFLOP/s) as the number of experts goes
 * 2 → 4 → 8 (btx: FFN experts, top-1; bam-full and bam-kv-shared: attention and FFN experts,
 * soft attention routing) and as d_model doubles (128 → 256, with the SwiGLU width doubled and the
 * heads kept, for dense and btx). All cases interleaved in one process run (lib/train-runner.ts).
 *
 *   npx tsx benchmarks/scaling.ts [--preset tiny] [--experts 2,4,8] [--variants btx,bam-full,bam-kv-shared]
 *       [--widths dense,btx] [--rounds 3] [--steps 6] [--batch-size 8] [--workers 1] [--json]
 *
 * What the FLOPs say before measuring: top-1 FFN experts add only router FLOPs (each token still
 * runs one FFN), so btx should not slow down with E; soft MoA runs every attention expert for
 * every token, so bam's attention FLOPs grow linearly with E; doubling d multiplies the
 * projection and FFN FLOPs by 4 and the attention-score FLOPs by 2.
 */
import { selectBackend } from '@bam/core';
import { BENCH_OPTIONS, benchmarkArgs, intList, machineInfo, machineLine, markdownTable, parseVariants, variantOf } from './lib/common.ts';
import { cells, cpuCell, flopsPerToken, measureTraining, medianOf, toJson, type TrainCase } from './lib/train-runner.ts';

const { values, experts, variants, widths } = benchmarkArgs(
  'scaling.ts',
  'Training tokens/s as the experts go 2 → 4 → 8 and as d_model doubles, beside the FLOPs growth, interleaved in one process run.',
  {
    preset: BENCH_OPTIONS.preset,
    experts: { kind: 'string', arg: 'LIST', default: '2,4,8', help: 'comma-separated expert counts of the mixtures' },
    variants: { ...BENCH_OPTIONS.variants, default: 'btx,bam-full,bam-kv-shared', help: 'comma-separated variants whose expert count grows' },
    widths: { kind: 'string', arg: 'LIST', default: 'dense,btx', help: 'comma-separated variants measured at d_model and 2 × d_model' },
    rounds: BENCH_OPTIONS.rounds,
    steps: { ...BENCH_OPTIONS.steps, default: 6 },
    'batch-size': BENCH_OPTIONS['batch-size'],
    workers: { kind: 'int', min: 1, default: 1, help: 'worker threads of the bam engine (1: train() in this thread; W > 1: data-parallel)' },
    json: BENCH_OPTIONS.json,
  },
  (v) => ({ values: v, experts: intList(v.experts, 'experts'), variants: parseVariants(v.variants), widths: parseVariants(v.widths) }),
);
const log = (s: string) => {
  if (!values.json) console.error(s);
};
await selectBackend({ prefer: 'wasm', log: () => {} });
const B = values['batch-size'];
const engine = `bam ×${values.workers}`;
const expertCases: TrainCase[] = variants.flatMap((v) =>
  experts.map((e) => ({ label: `${v} E=${e}`, config: variantOf(values.preset, v, {}, { experts: e }) })),
);
const base = variantOf(values.preset, 'dense');
const widthCases: TrainCase[] = widths.flatMap((v) =>
  [1, 2].map((k) => ({ label: `${v} D=${base.dModel * k}`, config: variantOf(values.preset, v, { dModel: base.dModel * k, dFF: base.dFF * k }) })),
);
const cases = [...expertCases, ...widthCases];
const T = base.maxSeqLen;
const machineStart = machineInfo();
log(machineLine(machineStart));
const m = await measureTraining(cases, { engines: [engine], rounds: values.rounds, steps: values.steps, batchSize: B, seqLen: T, log });
const machineEnd = machineInfo();
/** Each case against the first case of its group (same variant): measured slow-down and FLOPs growth. */
const table = (group: TrainCase[]) =>
  group.map((c) => {
    const first = group.find((x) => x.label.split(' ')[0] === c.label.split(' ')[0])!;
    return [
      c.label,
      (flopsPerToken(c, T) / 1e9).toFixed(4),
      ...cells(m, c, engine, T),
      cpuCell(m, c, engine),
      `${(medianOf(m, first.label, engine) / medianOf(m, c.label, engine)).toFixed(2)}×`,
      `${(medianOf(m, first.label, engine, 'perCpu') / medianOf(m, c.label, engine, 'perCpu')).toFixed(2)}×`,
      `${(flopsPerToken(c, T) / flopsPerToken(first, T)).toFixed(2)}×`,
    ];
  });
const header = ['case', 'GFLOP/token', `${engine} tokens/s`, 'GFLOP/s', 'tokens/CPU-s', 'time per token vs first', 'CPU per token vs first', 'FLOPs per token vs first'];
if (values.json) {
  console.log(JSON.stringify({ benchmark: 'scaling', preset: values.preset, engine, results: toJson(m), machine: { ...machineStart, loadAverageEnd: machineEnd.loadAverage } }));
} else {
  console.log(`\n${machineLine(machineStart)} (end: ${machineEnd.loadAverage.join(' / ')})`);
  console.log(`preset ${values.preset}, batch ${B} × ${T}, ${values.steps} steps per run, ${values.rounds} rounds, ${engine}\n`);
  if (expertCases.length) console.log(`${markdownTable(header, table(expertCases))}\n`);
  if (widthCases.length) console.log(markdownTable(header, table(widthCases)));
}
