/**
 * The custom-task example as source text, for `bam new-task`: the same file the README shows
 * (examples/arith-choice.ts; a test keeps the two identical), with the task id of the user's choice.
 */
import { readFileSync } from 'node:fs';

/** Task ids `bam new-task` accepts: what a sweep config and a file name can both carry. */
export const TASK_ID = /^[a-z][a-z0-9-]{0,62}$/;

/** The README's example task, its id set to `id` (a TASK_ID). */
export function exampleTaskSource(id: string): string {
  const text = readFileSync(new URL('../examples/arith-choice.ts', import.meta.url), 'utf8');
  return text.replace("id: 'arith-choice'", `id: '${id}'`);
}
