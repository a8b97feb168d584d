/** Mixture primitives: routers, router losses, MoE FFN, MoA, routing statistics. */
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
