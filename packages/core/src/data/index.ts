/**
 * Offline corpora (general, law, code, math, held-out ood), deterministic splits, mixtures,
 * token streams and batch sources. See each module's header for sources and cleaning.
 */
export { DOMAINS, SPLITS, SPLIT_FRACTIONS, TRAINING_DOMAINS, type Doc, type Domain, type Split } from './types.ts';
export { assertDomain, assertSplit, domainCorpus, domainTestDocs, loadDomain, splitOf, MATH_NEAR_DUPLICATE_JACCARD } from './domains.ts';
export { EQUAL_MIX, expertMix, formatMix, mixEntries, parseMixSpec, type DataMixture, type MixOptions, type MixSpec } from './mixture.ts';
export { DOC_SEPARATOR, encodeDocs, tokenCacheDir, tokensOf, type TokenArray } from './tokens.ts';
export { isJsonlPath, readTextFile, type TextFile } from './text-files.ts';
export { createBatchSource, type BatchSourceOptions, type MixBatch, type MixBatchSource } from './batch-source.ts';
export {
  ARITHMETIC_SEED,
  arithmeticDocs,
  arithmeticProblems,
  arithmeticSplitOf,
  generateArithmetic,
  type ArithmeticProblem,
} from './corpora/arithmetic.ts';
export { LAW_NEAR_DUPLICATE_JACCARD, licenseFamilies, licenseNameKey } from './corpora/law.ts';
export { cleanBrownFile, detokenizeBrownSentence } from './corpora/general.ts';
export { cleanStdlibReadme } from './corpora/math.ts';
export { stripLicenceHeaders } from './corpora/code.ts';
export { jaccard, nearDuplicateGroups, shingleHashes } from './near-duplicates.ts';
export { hash32, hashUniform, rngFor } from './rng.ts';
