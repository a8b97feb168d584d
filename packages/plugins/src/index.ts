// Public API of @bam/plugins. Other packages import only from here.
export {};
export * from './tasks/index.ts';
import { builtinTasks as tasksForBuiltinPlugins, routingTasks as routingTasksForBuiltinPlugins } from './tasks/index.ts';
import { builtinVariants as variantsForBuiltinPlugins, studyVariants as studyVariantsForBuiltinPlugins } from './variants/index.ts';
/**
 * Every built-in plugin of @bam/plugins; `bam sweep` registers this list (by the name
 * `builtinPlugins`): the built-in tasks, the routing-analysis tasks, the study variants, then the
 * built-in (paper) variants.
 */
export const builtinPlugins: ReadonlyArray<import('@bam/eval').TaskPlugin | import('@bam/eval').VariantPlugin> = [
  ...tasksForBuiltinPlugins,
  ...routingTasksForBuiltinPlugins,
  ...studyVariantsForBuiltinPlugins,
  ...variantsForBuiltinPlugins,
];
export * from './lm/index.ts';
export * from './variants/index.ts';
