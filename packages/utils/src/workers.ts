import { availableParallelism } from 'node:os';

/** Worker threads used when none is configured: one per available core. */
export function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}
