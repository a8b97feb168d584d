/**
 * The built-in task plugins: perplexity per domain (the paper's Table 1 columns), five
 * downstream multiple-choice tasks built from offline, held-out data, and the routing analysis
 * per domain (`routing-<domain>`, issue 7: what a mixture's routers decide on each domain).
 */
import type { TaskPlugin } from '@bam/eval';
import { perplexityTasks } from './perplexity.ts';
import { wordnetDefinition } from './wordnet-definition.ts';
import { wordnetCloze } from './wordnet-cloze.ts';
import { licenseId } from './license-id.ts';
import { arithmetic } from './arithmetic.ts';
import { codeCompletion } from './code-completion.ts';

export {
  PERPLEXITY_DOMAINS,
  PerplexityOptionsSchema,
  perplexityDocs,
  perplexityTask,
  perplexityTasks,
  pplCode,
  pplGeneral,
  pplLaw,
  pplMath,
  pplOod,
  type PerplexityDoc,
  type PerplexityOptions,
} from './perplexity.ts';
export { WordnetDefinitionOptionsSchema, wordnetDefinition, wordnetDefinitionDocs, type WordnetDefinitionDoc, type WordnetDefinitionOptions } from './wordnet-definition.ts';
export { WordnetClozeOptionsSchema, inGeneralTraining, splitLastWord, wordnetCloze, wordnetClozeDocs, type WordnetClozeDoc, type WordnetClozeOptions } from './wordnet-cloze.ts';
export { LicenseIdOptionsSchema, licenseId, licenseIdDocs, spdxNames, type LicenseIdDoc, type LicenseIdOptions } from './license-id.ts';
export { ArithmeticOptionsSchema, arithmetic, arithmeticDocs, arithmeticEvalProblems, arithmeticEvalSeed, closeDistractors, inTrainingArithmetic, type ArithmeticDoc, type ArithmeticOptions } from './arithmetic.ts';
export { CodeCompletionOptionsSchema, codeCompletion, codeCompletionDocs, inCodeTraining, isTargetLine, type CodeCompletionDoc, type CodeCompletionOptions } from './code-completion.ts';
export { EVAL_SPLITS, excerpt, type EvalSplit, type MultipleChoiceDoc } from './common.ts';
export {
  DEFAULT_ROUTING_GRID,
  ROUTING_DOMAINS,
  RoutingAnalysisOptionsSchema,
  routingAnalysisTask,
  routingTasks,
  scoreRouting,
  type RoutingAnalysisDefinition,
  type RoutingAnalysisOptions,
  type RoutingDoc,
} from './routing-analysis.ts';
export { WORDNET_POS, loadSynsets, parseSynsetLine, synsetSplit, type Synset, type WordNetPos } from './wordnet.ts';

/**
 * Every built-in task, in the order a results table reads best: `ppl-general`, `ppl-code`,
 * `ppl-law`, `ppl-math`, `ppl-ood`, then `wordnet-definition`, `wordnet-cloze`, `license-id`,
 * `arithmetic`, `code-completion`.
 */
export const builtinTasks: readonly TaskPlugin[] = Object.freeze([
  ...perplexityTasks,
  wordnetDefinition,
  wordnetCloze,
  licenseId,
  arithmetic,
  codeCompletion,
]);
