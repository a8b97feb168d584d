// Public API of @bam/core. Other packages import only from here.
export {};
export * from './errors.ts';
export * from './model/index.ts';
export * from './backend/index.ts';
export * from './ops/index.ts';
export * from './checkpoint/index.ts';
export * from './train/index.ts';
export * from './mixture/index.ts';
export {
  DOMAINS, SPLITS, SPLIT_FRACTIONS, TRAINING_DOMAINS, loadDomain, domainCorpus, domainTestDocs, splitOf,
  parseMixSpec, formatMix, mixEntries, expertMix, EQUAL_MIX, tokensOf, encodeDocs, DOC_SEPARATOR, createBatchSource, readTextFile, isJsonlPath,
  arithmeticProblems, generateArithmetic, arithmeticSplitOf, ARITHMETIC_SEED, licenseFamilies, licenseNameKey,
  type Doc, type Domain, type Split, type DataMixture, type MixSpec, type MixOptions, type TokenArray,
  type BatchSourceOptions, type MixBatch, type MixBatchSource, type ArithmeticProblem, type TextFile,
} from './data/index.ts';
export {
  createTokenizer, tokenizerIdOf, tokenizerSpecFromId, tokenizerSpecFromName, tokenizerSpecForCheckpoint, TokenizerSpecSchema,
  TOKENIZER_FILES, createHfTokenizer, createLlama2cTokenizer, parseLlama2cTokenizer, fileTokenizerId, fileTokenizerKind, rememberTokenizerFile, tokenizerFileOf, type FileTokenizerKind,
  type Tokenizer, type TokenizerSpec, type TokenizerSpecInput,
} from './tokenizer/index.ts';
export * from './inference/index.ts';
export * from './import/index.ts';
export * from './export/index.ts';
export { trainDataParallel, DataParallelPool, shardRows, type DataParallelOptions, type DataParallelSummary } from './parallel/data-parallel.ts';
