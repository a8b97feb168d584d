/**
 * Checks plugin objects field by field. Plugins are plain objects (a file may even export one
 * without importing @bam/eval), so every field is checked where the plugin enters: in
 * defineTask/defineVariant and again when the registry loads a module, naming the file.
 */
import { z } from 'zod';
import { PluginError } from '../errors.ts';
import { AGGREGATIONS } from '../metrics.ts';
import type { TaskPlugin } from './task.ts';
import type { VariantPlugin } from './variant.ts';

const ID = /^[A-Za-z0-9][A-Za-z0-9._:@/+-]*$/;
const METRIC = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** The options schema used when a plugin declares none: an empty strict object. */
export const noOptions = z.object({}).strict();

/** True for an object that says it is a plugin (`kind` is 'task' or 'variant'). */
export function isPluginLike(x: unknown): x is { kind: 'task' | 'variant' } {
  return !!x && typeof x === 'object' && ((x as { kind?: unknown }).kind === 'task' || (x as { kind?: unknown }).kind === 'variant');
}

function describe(x: unknown): string {
  if (x === undefined) return 'missing';
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'string' ? `the string ${JSON.stringify(x)}` : `a ${typeof x}`;
}

function checkCommon(o: Record<string, unknown>, where: string): void {
  const id = o.id;
  if (typeof id !== 'string' || !ID.test(id)) {
    throw new PluginError(where, 'id', `must be a non-empty id of letters, digits and . _ : @ / + - (got ${describe(id)})`);
  }
  const w = `${where} '${id}'`;
  if (typeof o.description !== 'string') throw new PluginError(w, 'description', `must be a string (got ${describe(o.description)})`);
  if (o.options !== undefined && typeof (o.options as { safeParse?: unknown })?.safeParse !== 'function') {
    throw new PluginError(w, 'options', `must be a zod schema, e.g. z.object({...}).strict() (got ${describe(o.options)})`);
  }
}

function checkFn(o: Record<string, unknown>, where: string, name: string, optional = false): void {
  const v = o[name];
  if (optional && v === undefined) return;
  if (typeof v !== 'function') throw new PluginError(where, name, `must be a function (got ${describe(v)})`);
}

/** Checks a task plugin object; returns it with `options` defaulted, or throws PluginError naming the field. */
export function validateTask(x: unknown, where: string): TaskPlugin {
  if (!x || typeof x !== 'object') throw new PluginError(where, undefined, `expected a task object, got ${describe(x)}`);
  const o = x as Record<string, unknown>;
  if (o.kind !== 'task') throw new PluginError(where, 'kind', `must be 'task' (got ${describe(o.kind)})`);
  checkCommon(o, where);
  const w = `${where} '${o.id as string}'`;
  const v = o.version;
  if (!((typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && v.length > 0))) {
    throw new PluginError(w, 'version', `must be a number or a non-empty string (got ${describe(v)})`);
  }
  const metrics = o.metrics;
  if (!metrics || typeof metrics !== 'object' || Array.isArray(metrics) || Object.keys(metrics).length === 0) {
    throw new PluginError(w, 'metrics', `must be an object with at least one metric, e.g. { acc: { aggregation: 'mean', higherIsBetter: true } } (got ${describe(metrics)})`);
  }
  for (const [name, spec] of Object.entries(metrics as Record<string, unknown>)) {
    if (!METRIC.test(name)) throw new PluginError(w, `metrics.${name}`, 'metric names use letters, digits, _ . - and start with a letter or _');
    const s = spec as Record<string, unknown> | undefined;
    if (!s || typeof s !== 'object') throw new PluginError(w, `metrics.${name}`, `must be { aggregation, higherIsBetter } (got ${describe(spec)})`);
    if (!AGGREGATIONS.includes(s.aggregation as never)) {
      throw new PluginError(w, `metrics.${name}.aggregation`, `must be one of ${AGGREGATIONS.join(', ')} (got ${describe(s.aggregation)})`);
    }
    if (typeof s.higherIsBetter !== 'boolean') throw new PluginError(w, `metrics.${name}.higherIsBetter`, `must be true or false (got ${describe(s.higherIsBetter)})`);
    if (s.headline !== undefined && typeof s.headline !== 'boolean') throw new PluginError(w, `metrics.${name}.headline`, `must be true or false (got ${describe(s.headline)})`);
  }
  for (const f of ['documents', 'requests', 'score']) checkFn(o, w, f);
  return (o.options === undefined ? { ...o, options: noOptions } : o) as unknown as TaskPlugin;
}

/** Checks a variant plugin object; returns it with `options` defaulted, or throws PluginError naming the field. */
export function validateVariant(x: unknown, where: string): VariantPlugin {
  if (!x || typeof x !== 'object') throw new PluginError(where, undefined, `expected a variant object, got ${describe(x)}`);
  const o = x as Record<string, unknown>;
  if (o.kind !== 'variant') throw new PluginError(where, 'kind', `must be 'variant' (got ${describe(o.kind)})`);
  checkCommon(o, where);
  const w = `${where} '${o.id as string}'`;
  checkFn(o, w, 'create');
  checkFn(o, w, 'prepare', true);
  checkFn(o, w, 'setup', true);
  if (o.usesBudget !== undefined && typeof o.usesBudget !== 'boolean') throw new PluginError(w, 'usesBudget', `must be true or false (got ${describe(o.usesBudget)})`);
  return (o.options === undefined ? { ...o, options: noOptions } : o) as unknown as VariantPlugin;
}
