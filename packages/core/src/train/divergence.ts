/**
 * Divergence detection: stops a run while its numbers are still finite, before the weights are
 * ruined and a NaN shows up. Each step's loss and gradient norm are compared with their running
 * baselines (bias-corrected exponential moving averages of the healthy steps before it):
 *
 *     loss alarm       loss > lossRatio · baseline_loss  and  loss − baseline_loss > minLossRise
 *     gradient alarm   gradNorm > gradNormRatio · baseline_gradNorm   (after `warmupSteps` steps)
 *
 * The absolute `minLossRise` keeps a near-zero loss from alarming on noise; the gradient check waits
 * for a baseline because the first steps' gradient norms swing while Adam's moments fill up.
 */
import { ConfigError } from '../errors.ts';

/** Divergence thresholds; 0 disables a check. Defaults in `DIVERGENCE_DEFAULTS`. */
export interface DivergenceOptions {
  /** A loss above this multiple of its baseline (and `minLossRise` above it) is divergence. */
  lossRatio?: number;
  /** The smallest rise over the baseline (in loss units, nats for the LM loss) that can alarm. */
  minLossRise?: number;
  /** A gradient norm above this multiple of its baseline is divergence. */
  gradNormRatio?: number;
  /** Weight of the history in the moving averages (0 ≤ beta < 1). */
  emaBeta?: number;
  /** Steps observed before the gradient-norm check arms. */
  warmupSteps?: number;
}

/**
 * The defaults: a 3× loss jump of at least 1 nat, or a 10× gradient-norm jump after 10 steps. A
 * healthy LM run's loss falls from ln V and its steps change the loss by a few percent, so 3× is
 * far outside healthy noise, and reached within a step or two once an LR is too high.
 */
export const DIVERGENCE_DEFAULTS: Required<DivergenceOptions> = { lossRatio: 3, minLossRise: 1, gradNormRatio: 10, emaBeta: 0.9, warmupSteps: 10 };

/** Why a step counts as divergence. */
export interface DivergenceAlarm {
  /** The step (1-based) whose scalars alarmed. */
  step: number;
  kind: 'loss' | 'gradNorm';
  value: number;
  baseline: number;
}

/** The detector's moving averages, saved in checkpoints so a resumed run judges like the uninterrupted one. */
export interface DivergenceState {
  lossEma: number;
  gradEma: number;
  /** Healthy steps observed. */
  seen: number;
}

/** Checks thresholds and fills in the defaults; a bad value is a `ConfigError` naming it. */
export function resolveDivergence(o: DivergenceOptions = {}): Required<DivergenceOptions> {
  const r = { ...DIVERGENCE_DEFAULTS, ...o };
  const issues: Array<{ path: string; message: string }> = [];
  for (const k of ['lossRatio', 'minLossRise', 'gradNormRatio'] as const) {
    if (!(Number.isFinite(r[k]) && r[k] >= 0)) issues.push({ path: `divergence.${k}`, message: `must be a finite number >= 0 (0 disables), got ${r[k]}` });
  }
  if (r.lossRatio > 0 && r.lossRatio <= 1) issues.push({ path: 'divergence.lossRatio', message: `must be 0 (off) or above 1, got ${r.lossRatio}` });
  if (r.gradNormRatio > 0 && r.gradNormRatio <= 1) issues.push({ path: 'divergence.gradNormRatio', message: `must be 0 (off) or above 1, got ${r.gradNormRatio}` });
  if (!(r.emaBeta >= 0 && r.emaBeta < 1)) issues.push({ path: 'divergence.emaBeta', message: `must be in [0, 1), got ${r.emaBeta}` });
  if (!(Number.isInteger(r.warmupSteps) && r.warmupSteps >= 0)) issues.push({ path: 'divergence.warmupSteps', message: `must be an integer >= 0, got ${r.warmupSteps}` });
  if (issues.length) throw new ConfigError('divergence thresholds', issues);
  return r;
}

/** Watches a run's per-step loss and gradient norm for divergence. */
export class DivergenceDetector {
  readonly thresholds: Required<DivergenceOptions>;
  private s: DivergenceState = { lossEma: 0, gradEma: 0, seen: 0 };

  constructor(options: DivergenceOptions = {}, state?: DivergenceState) {
    this.thresholds = resolveDivergence(options);
    if (state) this.s = { ...state };
  }

  /** The moving averages (for a checkpoint). */
  get state(): DivergenceState {
    return { ...this.s };
  }

  /**
   * Judges step `step`'s finite loss and gradient norm against the baselines of the steps before;
   * returns the alarm, or undefined after folding a healthy step into the baselines.
   */
  observe(step: number, loss: number, gradNorm: number): DivergenceAlarm | undefined {
    const t = this.thresholds;
    if (this.s.seen > 0) {
      const lossBase = this.baseline(this.s.lossEma);
      if (t.lossRatio > 0 && loss > t.lossRatio * lossBase && loss - lossBase > t.minLossRise) return { step, kind: 'loss', value: loss, baseline: lossBase };
      const gradBase = this.baseline(this.s.gradEma);
      if (t.gradNormRatio > 0 && this.s.seen >= t.warmupSteps && gradNorm > t.gradNormRatio * gradBase) return { step, kind: 'gradNorm', value: gradNorm, baseline: gradBase };
    }
    const b = t.emaBeta;
    this.s = { lossEma: b * this.s.lossEma + (1 - b) * loss, gradEma: b * this.s.gradEma + (1 - b) * gradNorm, seen: this.s.seen + 1 };
    return undefined;
  }

  /** Bias-corrected average (Adam's correction: the EMA starts at 0). */
  private baseline(ema: number): number {
    return ema / (1 - this.thresholds.emaBeta ** this.s.seen);
  }
}

/** A number for a message: grouped digits when large, 4 significant digits otherwise. */
const readable = (x: number): string => (Math.abs(x) >= 1e4 ? Math.round(x).toLocaleString('en') : String(Number(x.toPrecision(4))));

/** One line saying what diverged, e.g. `loss 2,351 is 423× its running baseline 5.555`. */
export function describeAlarm(a: DivergenceAlarm): string {
  const what = a.kind === 'loss' ? 'loss' : 'gradient norm';
  return `${what} ${readable(a.value)} is ${readable(a.value / a.baseline)}× its running baseline ${readable(a.baseline)}`;
}
