/** The model: config, presets, layers, forward (with an optional KV cache), loss and parameter counts. */
export {
  ModelConfigSchema,
  AttentionConfigSchema,
  AttentionRouterSchema,
  FfnConfigSchema,
  FfnRouterSchema,
  RoutingConfigSchema,
  AuxConfigSchema,
  parseModelConfig,
  loadPreset,
  presetNames,
  headDim,
  ropeDims,
} from './config.ts';
export type { ModelConfig, ModelConfigInput, AttentionConfig, FfnConfig, RoutingConfig, AuxConfig } from './config.ts';
export { rmsNorm, layerNorm, applyNorm } from './norm.ts';
export type { RmsNormWeights, NormWeights } from './norm.ts';
export { ropeTables, applyRope } from './rope.ts';
export {
  multiHeadAttention,
  attentionFromProjections,
  attentionQueries,
  attentionKeyValues,
  attentionOutput,
  causalAttention,
  causalAttentionReference,
  causalMask,
  kvHeadOf,
} from './attention.ts';
export type { AttentionWeights, AttentionDims, RopeTables } from './attention.ts';
export { swiglu, swigluFromProjections, ffnForward, ffnWeightNames } from './ffn.ts';
export type { FfnWeights, AnyFfnWeights } from './ffn.ts';
export { block, attentionLayer, ffnLayer, getParam, layerParam, normWeights } from './block.ts';
export type { LayerAux, LayerResult, LayerContext } from './block.ts';
export { paramSpecs, paramSeed, initParam } from './params.ts';
export type { ParamSpec, ParamInit } from './params.ts';
export { paramName, parseParamName, isExpertKey } from './param-names.ts';
export type { ParamKey, LayerParamKey, ExpertParamKey, AttnWeight, FfnWeight, NormWeight } from './param-names.ts';
export { paramCounts, countParams, layerFlops, forwardFlops, trainingFlops } from './count.ts';
export type { ParamCount, ParamCounts, LayerFlops, ModelFlops } from './count.ts';
export { createModel, modelFromTensors, disposeModel, forward, forwardHidden, lmHead, checkTokens, checkTokenIds } from './model.ts';
export type { BamModel, ForwardOptions, ForwardResult, HiddenResult, TokenInput } from './model.ts';
export {
  createKvCache,
  disposeKvCache,
  kvCacheBytes,
  kvCacheBytesPerToken,
  kvCacheSlots,
  kvCacheSupport,
} from './kv-cache.ts';
export type { KvCache, KvSlot, LayerKv } from './kv-cache.ts';
export { computeLoss, computeLossAndGrads, tokenNll } from './loss.ts';
export type { LossResult, LossAndGrads } from './loss.ts';
