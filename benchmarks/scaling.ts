/**
 * How training cost grows: tokens/s (and achieved GFLOP/s) as the number of experts goes
 * 2 → 4 → 8 (btx: FFN experts, top-1; bam-full and bam-kv-shared: attention and FFN experts,
 * soft attention routing) and as d_model doubles (128 → 256, with the SwiGLU width doubled and the
 * heads kept, for dense and btx). All cases interleaved in one process run (lib/train-runner.ts).
 *
 *   npx tsx benchmarks/scaling.ts [--preset tiny] [--experts 2,4,8] [--variants btx,bam-full,bam-kv-shared]
 *       [--widths dense,btx] [--rounds 3] [--steps 6] [--batch-size 8] [--workers 1] [--json]
 *
 * With `--curves`, cost curves instead (lib/cost-curves.ts): time per token and peak tensor memory
 * of a training step (forward + backward) and of scoring, against the analytic FLOPs, along
 * d_model (`--curve-widths`, dense and bam-full, d_ff scaled alike, heads kept), experts
 * (`--curve-experts`, btx and bam-full), top-k (`--topk`: btx's FFN k and bam-full's attention k
 * at max(4, k) experts) and context (`--contexts`, dense and bam-full), plus an SVG chart:
 *
 *   npx tsx benchmarks/scaling.ts --curves [--axes width,experts,topk,context] [--curve-widths 128,256,512]
 *       [--curve-experts 4,8,16] [--topk 1,2,4] [--contexts 64,128,256,512] [--curve-batch 2]
 *       [--reps 2] [--rounds 3] [--chart benchmarks/cost-curves.svg] [--json]
 *
 * What the FLOPs say before measuring: top-1 FFN experts add only router FLOPs (each token still
 * runs one FFN), so btx should not slow down with E; soft MoA runs every attention expert for
 * every token, so bam's attention FLOPs grow linearly with E; doubling d multiplies the
 * projection and FFN FLOPs by 4 and the attention-score FLOPs by 2.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { BamError, parseModelConfig, selectBackend, type ModelConfig } from '@bam/core';
import { BENCH_OPTIONS, benchmarkArgs, intList, machineInfo, machineLine, markdownTable, parseVariants, spread, variantOf } from './lib/common.ts';
import { AXES, curvesSvg, measureCurves, MODES, type Axis, type CurvePoint } from './lib/cost-curves.ts';
import { cells, cpuCell, flopsPerToken, measureTraining, medianOf, toJson, type TrainCase } from './lib/train-runner.ts';

const { values, experts, variants, widths, axes, curve } = benchmarkArgs(
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
    curves: { kind: 'flag', help: 'measure cost curves (time and peak memory vs FLOPs along each axis) instead of the tables above' },
    axes: { kind: 'string', arg: 'LIST', default: AXES.join(','), help: `cost-curve axes, of ${AXES.join(', ')}` },
    'curve-widths': { kind: 'string', arg: 'LIST', default: '128,256,512', help: 'd_model values of the width curve' },
    'curve-experts': { kind: 'string', arg: 'LIST', default: '4,8,16', help: 'expert counts of the experts curve' },
    topk: { kind: 'string', arg: 'LIST', default: '1,2,4', help: 'k values of the top-k curve' },
    contexts: { kind: 'string', arg: 'LIST', default: '64,128,256,512', help: 'context lengths of the context curve' },
    'curve-batch': { kind: 'int', min: 1, default: 2, help: 'sequences per batch of the cost curves' },
    reps: { kind: 'int', min: 1, default: 2, help: 'timed calls per point, mode and round of the cost curves' },
    chart: { kind: 'string', arg: 'FILE', default: 'benchmarks/cost-curves.svg', help: 'where the cost-curve chart (SVG) is written' },
    json: BENCH_OPTIONS.json,
  },
  (v) => {
    const axes = v.axes.split(',').map((s) => s.trim()).filter(Boolean);
    for (const a of axes) if (!(AXES as readonly string[]).includes(a)) throw new BamError(`unknown axis '${a}'`, 'E_BENCH', `use some of: ${AXES.join(', ')}`);
    return {
      values: v,
      experts: intList(v.experts, 'experts'),
      variants: parseVariants(v.variants),
      widths: parseVariants(v.widths),
      axes: axes as Axis[],
      curve: { width: intList(v['curve-widths'], 'curve-widths'), experts: intList(v['curve-experts'], 'curve-experts'), topk: intList(v.topk, 'topk'), context: intList(v.contexts, 'contexts') },
    };
  },
);
const log = (s: string) => {
  if (!values.json) console.error(s);
};
await selectBackend({ prefer: 'wasm', log: () => {} });
if (values.curves) {
  await costCurves();
  process.exit(0);
}
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

/** The points of every requested axis (see the module comment). */
function curvePoints(): CurvePoint[] {
  const base = variantOf(values.preset, 'dense');
  const points: CurvePoint[] = [];
  const add = (axis: Axis, series: string, x: number, config: ModelConfig) => points.push({ axis, series, x, config });
  for (const axis of axes) {
    for (const x of curve[axis]) {
      if (axis === 'width') {
        for (const v of ['dense', 'bam-full'] as const) add(axis, v, x, variantOf(values.preset, v, { dModel: x, dFF: Math.round((base.dFF * x) / base.dModel) }));
      } else if (axis === 'experts') {
        for (const v of ['btx', 'bam-full'] as const) add(axis, v, x, variantOf(values.preset, v, {}, { experts: x }));
      } else if (axis === 'topk') {
        const e = Math.max(4, ...curve.topk);
        const btx = variantOf(values.preset, 'btx', {}, { experts: e });
        if (btx.ffn.kind !== 'moe') throw new BamError('the btx recipe made no MoE FFN', 'E_BENCH');
        add(axis, 'btx (FFN k)', x, parseModelConfig({ ...btx, ffn: { ...btx.ffn, router: { ...btx.ffn.router, k: x } } }, 'top-k curve'));
        const bam = variantOf(values.preset, 'bam-full', {}, { experts: e });
        add(axis, 'bam-full (attention k)', x, parseModelConfig({ ...bam, attention: { ...bam.attention, router: { kind: 'topk', k: x } } }, 'top-k curve'));
      } else {
        for (const v of ['dense', 'bam-full'] as const) add(axis, v, x, variantOf(values.preset, v, { maxSeqLen: x }));
      }
    }
  }
  return points;
}

/** The --curves mode: measure, print a table per axis, write the chart. */
async function costCurves(): Promise<void> {
  const B = values['curve-batch'];
  const points = curvePoints();
  const machineStart = machineInfo();
  log(machineLine(machineStart));
  const m = await measureCurves(points, { batchSize: B, rounds: values.rounds, reps: values.reps, log });
  const machineEnd = machineInfo();
  const firstOf = (p: CurvePoint) => points.find((q) => q.axis === p.axis && q.series === p.series)!;
  const names: Record<Axis, string> = { width: 'd_model', experts: 'experts', topk: 'k', context: 'context' };
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  if (values.json) {
    console.log(JSON.stringify({
      benchmark: 'cost-curves',
      preset: values.preset,
      batchSize: B,
      results: points.map((p) => ({ axis: p.axis, series: p.series, x: p.x, ...m.get(p) })),
      machine: { ...machineStart, loadAverageEnd: machineEnd.loadAverage },
    }));
  } else {
    console.log(`\n${machineLine(machineStart)} (end: ${machineEnd.loadAverage.join(' / ')})`);
    console.log(`preset ${values.preset}, batch ${B} × context, ${values.reps} calls per point, mode and round, ${values.rounds} rounds; "÷ first": against the curve's first point\n`);
    for (const axis of axes) {
      const header = ['series', names[axis], ...MODES.flatMap((mode) => [`${mode} tokens/s`, `${mode} time ÷ first`, `${mode} FLOPs ÷ first`, `${mode} peak MiB`])];
      const rows = points
        .filter((p) => p.axis === axis)
        .map((p) => {
          const f = m.get(firstOf(p))!;
          const c = m.get(p)!;
          return [
            p.series,
            String(p.x),
            ...MODES.flatMap((mode) => [
              spread(c[mode].rounds.map((ms) => 1000 / ms)),
              `${(c[mode].msPerToken / f[mode].msPerToken).toFixed(2)}×`,
              `${(c[mode].flopsPerToken / f[mode].flopsPerToken).toFixed(2)}×`,
              mib(c[mode].peakBytes),
            ]),
          ];
        });
      console.log(`${markdownTable(header, rows)}\n`);
    }
  }
  const svg = curvesSvg(
    MODES.map((mode) => ({
      title: mode === 'train' ? `training step (forward + backward), ${values.preset}` : `scoring (forward + log-softmax), ${values.preset}`,
      series: axes.flatMap((axis) =>
        [...new Set(points.filter((p) => p.axis === axis).map((p) => p.series))].map((series) => {
          const ps = points.filter((p) => p.axis === axis && p.series === series);
          const f = m.get(ps[0])![mode];
          return { label: `${names[axis]}: ${series}`, points: ps.map((p) => [m.get(p)![mode].flopsPerToken / f.flopsPerToken, m.get(p)![mode].msPerToken / f.msPerToken] as [number, number]) };
        }),
      ),
    })),
  );
  // Atomic: a reader never sees half a chart.
  writeFileSync(`${values.chart}.tmp`, svg);
  renameSync(`${values.chart}.tmp`, values.chart);
  log(`chart written to ${values.chart}`);
}
