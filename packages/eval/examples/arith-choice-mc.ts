// The same task with defineMultipleChoiceTask: it builds the requests and scores acc, acc_norm.
import { z } from 'zod';
import { defineMultipleChoiceTask, mulberry32 } from '@bam/eval';

export default defineMultipleChoiceTask({
  id: 'arith-choice-mc',
  version: 1,
  description: 'What is a + b? Four consecutive numbers to choose from (acc, acc_norm).',
  options: z.object({ n: z.number().int().min(1).default(50), max: z.number().int().min(2).default(20) }).strict(),
  *documents(opts, ctx) {
    const rand = mulberry32(ctx.seed); // same seed, same documents
    for (let i = 0; i < opts.n; i++) {
      const a = Math.floor(rand() * opts.max);
      const b = Math.floor(rand() * opts.max);
      const gold = Math.floor(rand() * 4);
      yield { a, b, answers: [0, 1, 2, 3].map((k) => a + b - gold + k), gold };
    }
  },
  context: (doc) => `Question: What is ${doc.a} + ${doc.b}?\nAnswer:`, // lm-eval doc_to_text
  choices: (doc) => doc.answers.map(String), // doc_to_choice
  gold: (doc) => doc.gold, // doc_to_target
  continuation: (choice) => ` ${choice}`, // target_delimiter + choice; acc_norm counts its bytes
});
