/**
 * Variant plugins: a named recipe (dense, btx, bam-full, ...) and its options that produce a
 * LanguageModel. Heavy one-off work (training experts, building checkpoints) goes in `prepare`,
 * which the sweep runs once per distinct (variant config, seed, budget) before any job; backend
 * initialisation goes in `setup`, which runs once in each worker.
 */
import { z } from 'zod';
import type { LanguageModel } from './model.ts';
import type { PluginContext, SetupContext } from './context.ts';
import { validateVariant } from './validate.ts';

/** What a variant author writes; `defineVariant` checks it and returns the plugin. */
export interface VariantDefinition<O = any> {
  /** Registry id, as named in sweep configs (the paper's names: `dense`, `btx`, `bam-full`, `bam-kv-shared`). */
  id: string;
  description: string;
  /** zod schema of the variant's options (strict object); omitted = no options. */
  options?: z.ZodType<O>;
  /** True when the variant trains under a budget: the sweep then runs it once per configured budget. */
  usesBudget?: boolean;
  /** Once per worker, before the first job with this variant (e.g. select the TF.js backend). */
  setup?(ctx: SetupContext): void | Promise<void>;
  /** Once per distinct (options, seed, budget) before any job: build or reuse checkpoints in `ctx.artifactsDir`. */
  prepare?(options: O, ctx: PluginContext): void | Promise<void>;
  /** A model for one job; the harness calls its `dispose()` when the job ends. */
  create(options: O, ctx: PluginContext): LanguageModel | Promise<LanguageModel>;
}

/** A checked variant plugin: a plain object with `kind: 'variant'` and an options schema. */
export interface VariantPlugin<O = any> extends VariantDefinition<O> {
  readonly kind: 'variant';
  options: z.ZodType<O>;
}

/**
 * Makes a variant plugin from its definition. Checks every field now and throws a PluginError
 * naming the bad field; the registry checks again (naming the file) when it loads the module.
 */
export function defineVariant<O = Record<string, never>>(def: VariantDefinition<O>): VariantPlugin<O> {
  return validateVariant({ ...def, kind: 'variant' }, `defineVariant({ id: ${JSON.stringify((def as { id?: unknown })?.id)} })`) as VariantPlugin<O>;
}
