/** `bam branch`: the seed (built or reused) copied once per expert domain. */
import { stageCommand } from './upcycle.ts';

export const command = stageCommand(
  'branch',
  'branch',
  'copy the seed once per expert domain (deep copies; builds the seed first if needed)',
  'Makes N−1 deep copies of the preset\'s seed, one per domain, in --out/branch/<hash>/ (building or\nreusing the seed first).',
);
