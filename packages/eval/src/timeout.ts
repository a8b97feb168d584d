/**
 * Job timeouts: a sweep's `jobTimeout` (seconds), overridable per variant and per task, bounds
 * each evaluation job (the variant's `create()`, every model call and `score()`, and `dispose()`).
 * A job past its limit is aborted through piscina, which terminates its worker thread (a loop
 * that never yields is stopped too) and starts a fresh one; the job becomes a failed row saying
 * "timed out after N s" and the sweep goes on. `prepare` is not timed: building checkpoints takes
 * from seconds to days, and a killed build is resumed by the artifact store anyway.
 */
import type { SweepConfig } from './config.ts';

/**
 * The limit of the job (variant `vi`, task `ti`) in seconds, or undefined for none: the larger of
 * the variant's and the task's `jobTimeout` where either is set (a slow model needs its time on
 * every task, a long task on every model), else the sweep's.
 */
export function jobTimeoutOf(config: SweepConfig, vi: number, ti: number): number | undefined {
  const own = [config.variants[vi]?.jobTimeout, config.tasks[ti]?.jobTimeout].filter((s): s is number => s !== undefined);
  return own.length > 0 ? Math.max(...own) : config.jobTimeout;
}

/** The error message of a job stopped by its timeout. */
export function timedOutMessage(seconds: number): string {
  return `timed out after ${seconds} s (jobTimeout); its worker was stopped and replaced`;
}

/**
 * A signal that aborts when `outer` does or `seconds` pass; `timedOut` tells the two apart.
 * Call `clear()` when the job ends, so the timer does not outlive it.
 */
export function deadline(seconds: number, outer?: AbortSignal): { signal: AbortSignal; readonly timedOut: boolean; clear(): void } {
  const controller = new AbortController();
  let timedOut = false;
  const onOuter = (): void => controller.abort(outer?.reason);
  if (outer?.aborted) onOuter();
  else outer?.addEventListener('abort', onOuter, { once: true });
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error(timedOutMessage(seconds)));
  }, seconds * 1000);
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    clear() {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuter);
    },
  };
}
