/**
 * Perplexity per domain, the paper's Table 1 (Zhang et al. 2024, BAM, §5): `ppl-general`,
 * `ppl-code`, `ppl-law`, `ppl-math` and `ppl-ood`, one task id per domain so the wide
 * `table_token_perplexity.csv` has one column per domain.
 *
 * Source: `@bam/core` `loadDomain(domain, split)`, the held-out **test** split by default
 * (`validation` on request; `train` is refused). Splits are by licence family, file, Brown sample,
 * speech, README family or chapter, so no test document shares a unit with training text; `ood`
 * (Moby-Dick) is never trained on. Which documents: `limit` of the split's documents in hash
 * order of (`seed`, id) — a fixed sample spread over the split (for math: READMEs and generated
 * arithmetic alike) — each cut to its first `maxChars` characters at a word boundary.
 *
 * Scoring: one `loglikelihoodRolling` request per document; lm-eval wikitext metrics from
 * `scoreRolling`, aggregated over the corpus: token perplexity exp(−Σ logprob / Σ tokens) (the
 * paper's number; it depends on the tokenizer), bits per byte −Σ logprob / (Σ bytes · ln 2) and
 * byte perplexity 2^bits_per_byte (tokenizer-free), word perplexity exp(−Σ logprob / Σ words)
 * (words = whitespace pieces, as lm-eval counts them).
 */
import { z } from 'zod';
import { defineTask, loglikelihoodRolling, scoreRolling, type TaskPlugin } from '@bam/eval';
import { loadDomain, type Domain } from '@bam/core';
import { excerpt, hashOrder, limitOption, memoByOptions, seedOption, splitOption, type EvalSplit } from './common.ts';

/** Options of every `ppl-<domain>` task. */
export const PerplexityOptionsSchema = z
  .object({
    /** Documents scored (a fixed sample of the split; ood's test split has 14). */
    limit: limitOption(20),
    /** Characters kept from the start of each document (cut at a word boundary). */
    maxChars: z.number().int().min(16).default(2000),
    split: splitOption,
    /** Sample seed: which documents (not the job seed). */
    seed: seedOption,
  })
  .strict();

/** Parsed options of a perplexity task. */
export type PerplexityOptions = z.infer<typeof PerplexityOptionsSchema>;

/** One document of a perplexity task: the text scored and where it came from. */
export interface PerplexityDoc {
  /** The core document id, e.g. `brown/news/ca07` or `arith/test/0003`. */
  id: string;
  text: string;
}

/** The domains that get a perplexity task, in Table 1 order (+ ood). */
export const PERPLEXITY_DOMAINS = ['general', 'code', 'law', 'math', 'ood'] as const satisfies readonly Domain[];

/** The documents of a perplexity task: deterministic for (domain, options). */
export function perplexityDocs(domain: Domain, opts: PerplexityOptions): PerplexityDoc[] {
  const docs = loadDomain(domain, opts.split as EvalSplit);
  return hashOrder(docs, (d) => d.id, 'bam-ppl-v1', domain, opts.seed)
    .slice(0, opts.limit)
    .map((d) => ({ id: d.id, text: excerpt(d.text, opts.maxChars) }))
    .filter((d) => d.text.length > 0);
}

/**
 * The perplexity task of one domain (`ppl-<domain>`): token, word and byte perplexity and bits per
 * byte of its held-out documents, from rolling loglikelihoods.
 */
export function perplexityTask(domain: Domain): TaskPlugin<PerplexityOptions, PerplexityDoc> {
  return defineTask<PerplexityOptions, PerplexityDoc>({
    id: `ppl-${domain}`,
    version: 1,
    description: `Perplexity on held-out ${domain} text (core loadDomain('${domain}', split), default test): token/word/byte perplexity and bits per byte.`,
    options: PerplexityOptionsSchema,
    metrics: {
      token_perplexity: { aggregation: 'perplexity', higherIsBetter: false, description: 'exp(−Σ logprob / Σ tokens) (the paper’s perplexity)' },
      bits_per_byte: { aggregation: 'bits_per_byte', higherIsBetter: false, description: '−Σ logprob / (Σ UTF-8 bytes · ln 2)' },
      word_perplexity: { aggregation: 'perplexity', higherIsBetter: false, description: 'exp(−Σ logprob / Σ words)' },
      byte_perplexity: { aggregation: 'perplexity', higherIsBetter: false, headline: false, description: 'exp(−Σ logprob / Σ bytes) = 2^bits_per_byte' },
    },
    documents: memoByOptions((opts: PerplexityOptions) => perplexityDocs(domain, opts)),
    requests: (doc) => [loglikelihoodRolling(doc.text)],
    score: (doc, responses) => scoreRolling(responses[0], doc.text),
  });
}

/** `ppl-general`: Brown + State of the Union, held out. */
export const pplGeneral = perplexityTask('general');
/** `ppl-code`: held-out `effect` source files. */
export const pplCode = perplexityTask('code');
/** `ppl-law`: held-out SPDX licence families. */
export const pplLaw = perplexityTask('law');
/** `ppl-math`: held-out stdlib math/stats READMEs and generated arithmetic. */
export const pplMath = perplexityTask('math');
/** `ppl-ood`: held-out Moby-Dick chapters (never trained on). */
export const pplOod = perplexityTask('ood');

/** The five perplexity tasks, in Table 1 order (general, code, law, math) then ood. */
export const perplexityTasks = [pplGeneral, pplCode, pplLaw, pplMath, pplOod] as const;
