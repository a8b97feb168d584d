/**
 * The real LanguageModel over @bam/core models: from a model in memory or a checkpoint directory,
 * with the routing statistics every mixture reports (`routingStats`).
 */
export { coreLanguageModel, type CoreLanguageModelOptions } from './core-model.ts';
export { loadLanguageModel, type LoadLanguageModelOptions } from './load.ts';
export { hasRouters, routeTokens } from './routing-stats.ts';
export { documentStartToken, encodePair, rollingWindows, type RollingWindow } from './requests.ts';
