/**
 * The TF.js backend of a variant's worker: chosen once per thread by @bam/core's `selectBackend`
 * (tensorflow → webgpu on a hardware adapter → wasm → cpu; `BAM_BACKEND` picks one by name).
 * Every built-in variant's `setup()` calls this, so the second variant in a worker costs nothing.
 */
import { selectBackend, type BackendChoice } from '@bam/core';
import type { Logger } from '@bam/eval';

let chosen: Promise<BackendChoice> | undefined;

/**
 * Selects the TF.js backend of this thread once (honours env `BAM_BACKEND`) and logs the choice
 * and its reason. Later calls return the first choice. A failed selection (e.g. `BAM_BACKEND`
 * names a backend that does not load) is not memoised, so it throws again on the next call.
 */
export function ensureBackend(logger: Logger): Promise<BackendChoice> {
  if (!chosen) {
    const p = selectBackend({ log: (line) => logger.info(line) });
    chosen = p;
    p.catch(() => {
      if (chosen === p) chosen = undefined;
    });
  }
  return chosen;
}
