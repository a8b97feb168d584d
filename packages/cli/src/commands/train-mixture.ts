/** `bam train-mixture`: trains every recipe's mixture under each budget (the whole pipeline). */
import { stageCommand } from './upcycle.ts';

export const command = stageCommand(
  'train-mixture',
  'train-mixture',
  'train (or reuse) each recipe mixture under each budget (data-matched, compute-matched)',
  'Trains each recipe\'s mixture on equal parts of every domain under each budget into\n--out/train-mixture/<hash>/ (earlier stages built or reused first) and prints the checkpoint table.',
);
