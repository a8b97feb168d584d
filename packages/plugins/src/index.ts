// Public API of @bam/plugins. Other packages import only from here.
export {};
export * from './tasks/index.ts';
import { builtinTasks as tasksForBuiltinPlugins } from './tasks/index.ts';
import { builtinVariants as variantsForBuiltinPlugins } from './variants/index.ts';
/**
 * Every built-in plugin of @bam/plugins; `bam sweep` registers this list (by the name
 * `builtinPlugins`): the built-in tasks, then the built-in variants.
 */
export const builtinPlugins: ReadonlyArray<import('@bam/eval').TaskPlugin | import('@bam/eval').VariantPlugin> = [...tasksForBuiltinPlugins, ...variantsForBuiltinPlugins];
export * from './lm/index.ts';
export * from './variants/index.ts';
