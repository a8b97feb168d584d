/** Mixture primitives: routers, router losses, MoE FFN, MoA, routing statistics, FLOPs. */
export * from './routers/index.ts';
export { loadBalanceLoss, routerZLoss, routerLosses, type RouterLosses } from './losses.ts';
export { moeFfn, moeFfnNaive, type ExpertFn, type MixtureAux, type MixtureResult } from './moe-ffn.ts';
export { moa, moaFused, modelAttentionCore, type AttentionCore, type AttentionExpertWeights, type MoaWeights } from './moa.ts';
export { gatherRows, scatterAddRows } from './dispatch.ts';
export {
  routingStats,
  routingStatTensors,
  readRoutingStats,
  type LayerRoutingStats,
  type FfnRoutingStats,
  type AttentionRoutingStats,
} from './stats.ts';
export {
  layerFlops,
  forwardFlops,
  trainingFlops,
  tokensForBudget,
  paramCounts,
  variantConfig,
  FLOPS_VARIANTS,
  type FlopsConfig,
  type FlopsVariant,
  type LayerFlops,
  type ModelFlops,
  type ParamCounts,
} from './flops.ts';
