/** The real LanguageModel over @bam/core models: from a model in memory or a checkpoint directory. */
export { coreLanguageModel, type CoreLanguageModelOptions } from './core-model.ts';
export { loadLanguageModel, type LoadLanguageModelOptions } from './load.ts';
export { documentStartToken, encodePair, rollingWindows, type RollingWindow } from './requests.ts';
