/**
 * The queue benchmark's empty job: a variant whose model is @bam/eval's deterministic fake (no
 * weights, no TF.js) and a task of one document with one request, so a job's time is the
 * scheduling around it.
 */
import { z } from 'zod';
import { defineTask, defineVariant, fakeLanguageModel, loglikelihood, type LoglikelihoodResult } from '@bam/eval';

export const emptyVariant = defineVariant({
  id: 'empty',
  description: 'the fake model (queue benchmark)',
  options: z.object({}).strict(),
  create: () => fakeLanguageModel(),
});

export const emptyTask = defineTask({
  id: 'empty',
  version: 1,
  description: 'one document, one request (queue benchmark)',
  options: z.object({}).strict(),
  metrics: { ll: { aggregation: 'mean', higherIsBetter: true } },
  documents: () => ['x'],
  requests: () => [loglikelihood('a', 'b')],
  score: (_doc, [r]) => ({ ll: (r as LoglikelihoodResult).logprob }),
});

export default [emptyVariant, emptyTask];
