/**
 * Cost curves (benchmarks/scaling.ts --curves): how a training step's and a scoring pass's time
 * per token and peak tensor memory grow along one axis at a time — d_model, number of experts,
 * top-k, context — each beside the analytic FLOPs per token (@bam/core `forwardFlops`: ×3 for a
 * training step, ×1 for scoring), and a chart of measured cost against the FLOPs line.
 *
 * A training step here is forward + backward (`computeLossAndGrads`, the step's tokens-dependent
 * work; AdamW is O(parameters) and left out); scoring is `scoreTokens` over the same batch (the
 * LanguageModel's work). Time is the median over rounds of the mean of `reps` calls; peak memory is
 * the model's weights plus the most tensor bytes one call adds at once (`tf.profile`'s peakBytes; for
 * scoring, of the batch's forward and log-softmax).
 */
import * as tf from '@tensorflow/tfjs';
import { createModel, disposeModel, forward, forwardFlops, scoreTokens, type BamModel, type ModelConfig } from '@bam/core';
import { forwardBackwardStep, median } from './common.ts';

/** The axes a cost curve can walk. */
export const AXES = ['width', 'experts', 'topk', 'context'] as const;
export type Axis = (typeof AXES)[number];

/** One point of a curve: a config, the context it runs at, and its label. */
export interface CurvePoint {
  axis: Axis;
  /** The variant the curve belongs to (e.g. "bam-full"). */
  series: string;
  /** The axis value (d_model, experts, k, context). */
  x: number;
  config: ModelConfig;
}

/** What was measured at a point, for one mode. */
export interface CurveMeasure {
  /** Milliseconds per token (median over rounds). */
  msPerToken: number;
  /** Every round's ms per token. */
  rounds: number[];
  /** Peak tensor bytes during one call. */
  peakBytes: number;
  /** Analytic FLOPs per token (3 × forward for training, forward for scoring). */
  flopsPerToken: number;
}

/** The two kinds of work measured at every point. */
export const MODES = ['train', 'score'] as const;
export type Mode = (typeof MODES)[number];

/** Analytic FLOPs per token of a point in a mode, at its own context. */
export function pointFlops(p: CurvePoint, mode: Mode): number {
  const f = forwardFlops(p.config, p.config.maxSeqLen).perToken;
  return mode === 'train' ? 3 * f : f;
}

/** A forward + backward step, or a scoring pass, over a fixed batch [B, maxSeqLen] of a model. */
function workOf(model: BamModel, mode: Mode, batchSize: number): { run: () => Promise<void>; profile: () => Promise<number>; dispose: () => void } {
  if (mode === 'train') {
    const { step, dispose } = forwardBackwardStep(model, batchSize);
    return {
      run: async () => {
        const out = step();
        await out[0].data();
        tf.dispose(out);
      },
      profile: async () => {
        const info = await tf.profile(() => step() as unknown as tf.Tensor);
        tf.dispose(info.result as unknown as tf.Tensor[]);
        return info.peakBytes;
      },
      dispose,
    };
  }
  const { maxSeqLen: T, vocabSize: V } = model.config;
  // B sequences of T + 1 tokens (token i is i·7919 mod V, as forwardBackwardStep's batch): T predictions each.
  const seqs = Array.from({ length: batchSize }, (_, b) => Array.from({ length: T + 1 }, (_, t) => ((b * T + t) * 7919) % V));
  const run = async () => {
    await scoreTokens(model, seqs, { batchSize });
  };
  return {
    run,
    profile: async () => {
      // scoreTokens awaits its read-back, and tf.profile takes a synchronous function: profile the
      // batch's tensor work as scoreTokens does it (forward, then log-softmax over the logits).
      const input = tf.tensor2d(seqs.flatMap((s) => s.slice(0, T)), [batchSize, T], 'int32');
      const info = await tf.profile(() => {
        const { logits, aux } = forward(model, input);
        const lse = tf.logSumExp(tf.reshape(logits, [batchSize * T, V]), 1); // [B·T]
        tf.dispose([logits, aux.loadBalance, aux.zLoss]);
        return lse;
      });
      tf.dispose([input, info.result as unknown as tf.Tensor]);
      return info.peakBytes;
    },
    dispose: () => {},
  };
}

/**
 * Measures every point in both modes: per round, every point and mode once (`reps` timed calls
 * after the warm-up round), interleaved so load drift hits all points alike. `log` gets progress.
 */
export async function measureCurves(
  points: CurvePoint[],
  opts: { batchSize: number; rounds: number; reps: number; log: (s: string) => void },
): Promise<Map<CurvePoint, Record<Mode, CurveMeasure>>> {
  const out = new Map<CurvePoint, Record<Mode, CurveMeasure>>();
  const models = new Map<CurvePoint, BamModel>();
  try {
    for (const p of points) {
      const model = createModel(p.config, 0);
      models.set(p, model);
      const peaks = {} as Record<Mode, number>;
      // tf.profile's peakBytes counts every live tensor, the other points' models too: keep this
      // model's weights and what the call adds on top of the bytes live before it.
      let weights = 0;
      for (const v of model.params.values()) weights += v.size * 4; // float32
      for (const mode of MODES) {
        const w = workOf(model, mode, opts.batchSize);
        await w.run(); // warm-up
        const before = tf.memory().numBytes;
        peaks[mode] = weights + (await w.profile()) - before;
        w.dispose();
      }
      const measure = (m: Mode): CurveMeasure => ({ msPerToken: 0, rounds: [], peakBytes: peaks[m], flopsPerToken: pointFlops(p, m) });
      out.set(p, { train: measure('train'), score: measure('score') });
    }
    for (let r = 0; r < opts.rounds; r++) {
      for (const p of points) {
        for (const mode of MODES) {
          const w = workOf(models.get(p)!, mode, opts.batchSize);
          const t0 = performance.now();
          for (let i = 0; i < opts.reps; i++) await w.run();
          const ms = (performance.now() - t0) / opts.reps / (opts.batchSize * p.config.maxSeqLen);
          w.dispose();
          out.get(p)![mode].rounds.push(ms);
          opts.log(`round ${r + 1}/${opts.rounds} ${p.axis} ${p.series} ${p.x} ${mode}: ${(1000 / ms).toFixed(0)} tokens/s`);
        }
      }
    }
  } finally {
    for (const m of models.values()) disposeModel(m);
  }
  for (const m of out.values()) for (const mode of MODES) m[mode].msPerToken = median(m[mode].rounds);
  return out;
}

/** One curve of the chart: an axis and series in one mode, points relative to its first. */
export interface ChartSeries {
  label: string;
  /** [FLOPs per token ÷ first's, time per token ÷ first's] per point. */
  points: Array<[number, number]>;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

/**
 * An SVG of measured time against analytic FLOPs, both relative to each curve's first point, on
 * log₂ axes, one panel per mode, with the FLOPs line (time ∝ FLOPs, the diagonal): a curve above
 * the diagonal costs more than its FLOPs say, below it less (e.g. wider products run nearer
 * the BLAS peak).
 */
export function curvesSvg(panels: Array<{ title: string; series: ChartSeries[] }>): string {
  const W = 460;
  const H = 400;
  const pad = { l: 56, r: 12, t: 30, b: 44 };
  const all = panels.flatMap((p) => p.series.flatMap((s) => s.points.flat()));
  const hi = Math.max(2, ...all);
  const lo = Math.min(1, ...all);
  const [l0, l1] = [Math.floor(Math.log2(lo)), Math.ceil(Math.log2(hi))];
  const sx = (v: number) => pad.l + ((Math.log2(v) - l0) / (l1 - l0)) * (W - pad.l - pad.r);
  const sy = (v: number) => H - pad.b - ((Math.log2(v) - l0) / (l1 - l0)) * (H - pad.t - pad.b);
  const labels = [...new Set(panels.flatMap((p) => p.series.map((s) => s.label)))];
  const color = (label: string) => COLORS[labels.indexOf(label) % COLORS.length];
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const panel = (p: { title: string; series: ChartSeries[] }, i: number) => {
    const ticks: string[] = [];
    for (let e = l0; e <= l1; e++) {
      const v = 2 ** e;
      ticks.push(
        `<line x1="${sx(v)}" y1="${pad.t}" x2="${sx(v)}" y2="${H - pad.b}" stroke="#eee"/><text x="${sx(v)}" y="${H - pad.b + 14}" text-anchor="middle">${v}×</text>`,
        `<line x1="${pad.l}" y1="${sy(v)}" x2="${W - pad.r}" y2="${sy(v)}" stroke="#eee"/><text x="${pad.l - 4}" y="${sy(v) + 4}" text-anchor="end">${v}×</text>`,
      );
    }
    const lines = p.series.map((s) => {
      const pts = s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
      const dots = s.points.map(([x, y]) => `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${color(s.label)}"/>`).join('');
      return `<polyline points="${pts.join(' ')}" fill="none" stroke="${color(s.label)}" stroke-width="1.5"/>${dots}`;
    });
    return `<g transform="translate(${i * W},0)"><text x="${W / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>${ticks.join('')}` +
      `<line x1="${sx(2 ** l0)}" y1="${sy(2 ** l0)}" x2="${sx(2 ** l1)}" y2="${sy(2 ** l1)}" stroke="#000" stroke-dasharray="4 3"/>` +
      `${lines.join('')}<text x="${W / 2}" y="${H - 8}" text-anchor="middle">analytic FLOPs per token ÷ first point's</text>` +
      `<text transform="translate(14,${H / 2}) rotate(-90)" text-anchor="middle">measured time per token ÷ first point's</text></g>`;
  };
  const legend = labels.map((l, i) => `<g transform="translate(${pad.l + (i % 4) * 220},${H + 14 + Math.floor(i / 4) * 18})"><rect width="12" height="3" y="-4" fill="${color(l)}"/><text x="16" y="0">${esc(l)}</text></g>`);
  const height = H + 20 + Math.ceil(labels.length / 4) * 18;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W * panels.length}" height="${height}" font-family="sans-serif" font-size="11">` +
    `<rect width="100%" height="100%" fill="#fff"/>${panels.map(panel).join('')}` +
    `${legend.join('')}` +
    `<text x="${W * panels.length - 8}" y="${height - 4}" text-anchor="end" fill="#555">dashed: time ∝ FLOPs</text></svg>\n`;
}
