/** `bam experts`: continued pre-training of each branch on its domain (in parallel workers). */
import { stageCommand } from './upcycle.ts';

export const command = stageCommand(
  'experts',
  'experts',
  'train (or reuse) the dense domain experts: CPT of each branch on its domain mix',
  "Continues pre-training each branch of the seed on its domain (each mix holds the preset's share of\ngeneral text; peak LR = lrRatio × the seed's), in parallel worker threads, into\n--out/expert/<hash>/. Earlier stages are built or reused first.",
);
