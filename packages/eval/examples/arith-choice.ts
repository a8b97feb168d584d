// A custom task in one file: pick the sum of two numbers among four consecutive answers.
import { z } from 'zod';
import { defineTask, loglikelihood, mulberry32, scoreMultipleChoice } from '@bam/eval';

export default defineTask({
  id: 'arith-choice',
  version: 1,
  description: 'What is a + b? Four consecutive numbers to choose from (acc, acc_norm).',
  options: z
    .object({
      n: z.number().int().min(1).default(50), // documents
      max: z.number().int().min(2).default(20), // operands are in [0, max)
    })
    .strict(),
  metrics: {
    acc: { aggregation: 'mean', higherIsBetter: true },
    acc_norm: { aggregation: 'mean', higherIsBetter: true },
  },
  *documents(opts, ctx) {
    const rand = mulberry32(ctx.seed); // same seed, same documents
    for (let i = 0; i < opts.n; i++) {
      const a = Math.floor(rand() * opts.max);
      const b = Math.floor(rand() * opts.max);
      const gold = Math.floor(rand() * 4);
      const choices = [0, 1, 2, 3].map((k) => ` ${a + b - gold + k}`);
      yield { prompt: `Question: What is ${a} + ${b}?\nAnswer:`, choices, gold };
    }
  },
  requests: (doc) => doc.choices.map((c) => loglikelihood(doc.prompt, c)),
  score: (doc, responses) => scoreMultipleChoice(responses, doc.choices, doc.gold),
});
