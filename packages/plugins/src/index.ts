// Public API of @bam/plugins. Other packages import only from here.
export {};
export * from './tasks/index.ts';
import { builtinTasks as tasksForBuiltinPlugins } from './tasks/index.ts';
/**
 * Every built-in plugin of @bam/plugins; `bam sweep` registers this list (by the name
 * `builtinPlugins`). Built-in variants join the tasks here when they exist.
 */
export const builtinPlugins: ReadonlyArray<import('@bam/eval').TaskPlugin | import('@bam/eval').VariantPlugin> = [...tasksForBuiltinPlugins];
export * from './lm/index.ts';
