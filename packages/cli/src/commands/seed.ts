/** `bam seed`: the pipeline's first stage: pre-train (or reuse) the dense seed of a preset. */
import { stageCommand } from './upcycle.ts';

export const command = stageCommand(
  'seed',
  'seed',
  'pre-train (or reuse) the dense seed of an upcycle preset on general text',
  'Pre-trains the dense seed of the preset on general text into --out/seed/<hash>/ (or reuses it).',
);
