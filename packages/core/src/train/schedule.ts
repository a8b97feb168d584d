/**
 * Learning-rate schedule of the BAM paper (arXiv:2408.08274, training details): linear warm-up
 * from 0 to the peak, then cosine decay to 10% of the peak at the last step.
 */
import { ConfigError } from '../errors.ts';

/** Schedule settings: `peak` LR, `warmup` steps, decay floor as a fraction of peak. */
export interface LrSchedule {
  peak: number;
  warmup: number;
  /** The LR at the last step is `minRatio · peak` (default 0.1, the paper's 10%). */
  minRatio?: number;
}

function check(s: LrSchedule, totalSteps: number): void {
  const issues: Array<{ path: string; message: string }> = [];
  if (!(Number.isFinite(s.peak) && s.peak >= 0)) issues.push({ path: 'lr.peak', message: `must be a finite number >= 0, got ${s.peak}` });
  if (!(Number.isInteger(s.warmup) && s.warmup >= 0)) issues.push({ path: 'lr.warmup', message: `must be an integer >= 0, got ${s.warmup}` });
  const r = s.minRatio ?? 0.1;
  if (!(r >= 0 && r <= 1)) issues.push({ path: 'lr.minRatio', message: `must be in [0, 1], got ${r}` });
  if (!(Number.isInteger(totalSteps) && totalSteps >= 1)) issues.push({ path: 'steps', message: `must be an integer >= 1, got ${totalSteps}` });
  if (issues.length) throw new ConfigError('learning-rate schedule', issues);
}

/**
 * The learning rate for 0-based `step` of a run of `totalSteps` steps:
 * `peak · step / warmup` while `step <= warmup` (so 0 at step 0 and the peak at step `warmup`),
 * then `min + (peak − min) · ½(1 + cos(π · (step − warmup) / (totalSteps − 1 − warmup)))`, which
 * reaches `min = minRatio · peak` at the last step `totalSteps − 1` and stays there after it.
 * When `warmup >= totalSteps − 1` there is no room to decay and the warm-up alone applies.
 */
export function learningRate(schedule: LrSchedule, step: number, totalSteps: number): number {
  check(schedule, totalSteps);
  const { peak, warmup } = schedule;
  const min = (schedule.minRatio ?? 0.1) * peak;
  if (step <= warmup) return warmup === 0 ? peak : (peak * Math.max(step, 0)) / warmup;
  const span = totalSteps - 1 - warmup;
  if (span <= 0) return peak;
  const progress = Math.min(1, (step - warmup) / span);
  return min + (peak - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
