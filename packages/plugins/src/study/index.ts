/**
 * The routing studies (issue 7): the routing-analysis tasks (`routing-<domain>`), the study
 * variants over bam-full (frozen experts, shared / tied / per-example routers, expert-choice and
 * hash FFN routing) and the oracle specialist, and the routing statistics every mixture
 * `LanguageModel` reports.
 */
export { hasRouters, routeTokens } from './routing-stats.ts';
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
} from './routing-task.ts';
export {
  ORACLE_MODELS,
  ORACLE_TASK_DOMAINS,
  OracleOptionsSchema,
  STUDY_BASE_RECIPE,
  expertChoiceRoutingVariant,
  frozenExpertsVariant,
  hashRoutingVariant,
  oracleModelFor,
  oracleSpecialistVariant,
  perExampleRoutingVariant,
  sharedRouterVariant,
  studyVariant,
  studyVariants,
  tiedRoutingVariant,
  type OracleModel,
  type OracleOptions,
  type StudyVariantSpec,
} from './variants.ts';
