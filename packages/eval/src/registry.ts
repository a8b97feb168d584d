/**
 * The plugin registry (after lm-evaluation-harness's `api/registry.py`): tasks and variants by
 * id. Plugins come from modules named by a spec: a file path (TypeScript or JavaScript, relative
 * to the sweep config) or a package name. A module's default export, named exports and a
 * `builtinPlugins` list (plugin objects or further specs) are registered.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PluginError, UnknownPluginError } from './errors.ts';
import type { TaskPlugin } from './api/task.ts';
import type { VariantPlugin } from './api/variant.ts';
import { isPluginLike, validateTask, validateVariant } from './api/validate.ts';
import { BamError, nearestMatch } from '@bam/utils';
import { shareEvalWithPlugins, sharedPackages } from './plugin-imports.ts';

/** What one loaded module contributed. */
export interface LoadedModule {
  /** The spec as given. */
  spec: string;
  /** The absolute file it resolved to. */
  path: string;
  tasks: string[];
  variants: string[];
}

type AnyPlugin = TaskPlugin | VariantPlugin;

const FILE_EXT = /\.(m|c)?(t|j)sx?$/;

/** True when `spec` names a file (relative or absolute path, file: URL, or a name ending in .ts/.js/...). */
export function isFileSpec(spec: string): boolean {
  return spec.startsWith('.') || isAbsolute(spec) || spec.startsWith('file:') || (!spec.startsWith('@') && FILE_EXT.test(spec));
}

/**
 * Resolves a plugin spec to an absolute file: paths relative to `baseDir` (the sweep config's
 * folder), packages from `baseDir` first and then from @bam/eval's own location.
 */
export function resolvePluginSpec(spec: string, baseDir: string = process.cwd()): string {
  if (typeof spec !== 'string' || spec.trim() === '') throw new PluginError(String(spec), undefined, 'a plugin spec must be a non-empty string');
  if (isFileSpec(spec)) {
    const abs = spec.startsWith('file:') ? fileURLToPath(spec) : resolve(baseDir, spec);
    if (!existsSync(abs)) {
      throw new PluginError(spec, undefined, `file not found: ${abs}`, 'plugin paths in a sweep config are relative to the config file');
    }
    return abs;
  }
  for (const from of [join(baseDir, 'package.json'), fileURLToPath(import.meta.url)]) {
    try {
      return createRequire(from).resolve(spec);
    } catch {
      // try the next location
    }
  }
  try {
    return fileURLToPath(import.meta.resolve(spec));
  } catch {
    throw new PluginError(spec, undefined, `cannot find package '${spec}' from ${baseDir}`, `install it (npm install ${spec}) or give a file path starting with ./`);
  }
}

/** Tasks and variants by id. One registry per sweep (and one per worker, loaded from the same specs). */
export class PluginRegistry {
  private readonly taskMap = new Map<string, { plugin: TaskPlugin; source: string; original: unknown }>();
  private readonly variantMap = new Map<string, { plugin: VariantPlugin; source: string; original: unknown }>();
  private readonly modules = new Map<string, LoadedModule>();

  /** Checks and registers one plugin object; the same object twice is a no-op, another object with a taken id is an error. */
  register(plugin: unknown, source = '(registered in code)'): AnyPlugin {
    const kind = (plugin as { kind?: unknown } | null)?.kind;
    const checked: AnyPlugin = kind === 'variant' ? validateVariant(plugin, source) : validateTask(plugin, source);
    const map = (checked.kind === 'task' ? this.taskMap : this.variantMap) as Map<string, { plugin: AnyPlugin; source: string; original: unknown }>;
    const prev = map.get(checked.id);
    if (prev) {
      if (prev.original === plugin) return prev.plugin;
      throw new PluginError(source, 'id', `${checked.kind} id '${checked.id}' is already registered by ${prev.source}`, 'give one of them another id');
    }
    map.set(checked.id, { plugin: checked, source, original: plugin });
    return checked;
  }

  /** The task with this id; throws UnknownPluginError listing the known ids and the nearest one. */
  task(id: string): TaskPlugin {
    const hit = this.taskMap.get(id);
    if (!hit) throw new UnknownPluginError('task', id, this.taskIds(), nearestMatch(id, this.taskIds()));
    return hit.plugin;
  }

  /** The variant with this id; throws UnknownPluginError listing the known ids and the nearest one. */
  variant(id: string): VariantPlugin {
    const hit = this.variantMap.get(id);
    if (!hit) throw new UnknownPluginError('variant', id, this.variantIds(), nearestMatch(id, this.variantIds()));
    return hit.plugin;
  }

  /** Whether a task with this id is registered. */
  hasTask(id: string): boolean {
    return this.taskMap.has(id);
  }

  /** Whether a variant with this id is registered. */
  hasVariant(id: string): boolean {
    return this.variantMap.has(id);
  }

  /** Registered task ids, sorted. */
  taskIds(): string[] {
    return [...this.taskMap.keys()].sort();
  }

  /** Registered variant ids, sorted. */
  variantIds(): string[] {
    return [...this.variantMap.keys()].sort();
  }

  /** Where a plugin came from (file path or '(registered in code)'). */
  sourceOf(kind: 'task' | 'variant', id: string): string | undefined {
    return (kind === 'task' ? this.taskMap : this.variantMap).get(id)?.source;
  }

  /** Modules loaded so far, in load order. */
  loadedModules(): LoadedModule[] {
    return [...this.modules.values()];
  }

  /**
   * Imports the module named by `spec` (relative to `baseDir`) and registers its plugins. A module
   * that exports no plugin, or a malformed one, fails with a PluginError naming the file and field.
   * The module may import @bam/eval and zod (and what the caller shared, see plugin-imports.ts)
   * without installing them beside it.
   */
  async load(spec: string, baseDir: string = process.cwd()): Promise<LoadedModule> {
    const path = resolvePluginSpec(spec, baseDir);
    const seen = this.modules.get(path);
    if (seen) return seen;
    const entry: LoadedModule = { spec, path, tasks: [], variants: [] };
    this.modules.set(path, entry);
    shareEvalWithPlugins();
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    } catch (err) {
      this.modules.delete(path);
      if (err instanceof PluginError) throw new PluginError(`${path} → ${err.file}`, err.field, err.detail, err.hint);
      if (err instanceof BamError) throw err;
      // require() (a TypeScript file in a CommonJS folder) does not go through the hooks that lend bam's packages.
      const cjs = (err as { code?: unknown })?.code === 'MODULE_NOT_FOUND' && !/\.m[tj]s$/.test(path);
      const hint = cjs ? `bam lends ${Object.keys(sharedPackages()).join(', ')} to ES modules only: put a package.json with "type": "module" beside the file, or name it .mts` : undefined;
      throw new PluginError(path, undefined, `failed to import: ${(err as Error)?.message ?? String(err)}`, hint);
    }
    try {
      await this.registerExports(mod, path, entry);
    } catch (err) {
      this.modules.delete(path);
      throw err;
    }
    if (entry.tasks.length + entry.variants.length === 0) {
      this.modules.delete(path);
      throw new PluginError(path, undefined, 'exports no plugin', 'export default defineTask({...}) or defineVariant({...}) (or an array of them)');
    }
    return entry;
  }

  /** Loads each spec in order (see `load`). */
  async loadAll(specs: readonly string[], baseDir: string = process.cwd()): Promise<LoadedModule[]> {
    const out: LoadedModule[] = [];
    for (const s of specs) out.push(await this.load(s, baseDir));
    return out;
  }

  private async registerExports(mod: Record<string, unknown>, path: string, entry: LoadedModule): Promise<void> {
    let exports = mod;
    const def = mod.default as Record<string, unknown> | undefined;
    // A TypeScript file in a CommonJS package arrives as { default: module.exports }.
    if (def && typeof def === 'object' && !Array.isArray(def) && !isPluginLike(def) && ('default' in def || '__esModule' in def)) {
      exports = { ...def };
    }
    const add = (p: unknown, field: string): void => {
      if (!isPluginLike(p)) return;
      let plugin: AnyPlugin;
      try {
        plugin = this.register(p, path);
      } catch (err) {
        if (err instanceof PluginError && err.file.startsWith(path) && field !== 'default') {
          throw new PluginError(`${err.file} (export '${field}')`, err.field, err.detail, err.hint);
        }
        throw err;
      }
      const list = plugin.kind === 'task' ? entry.tasks : entry.variants;
      if (!list.includes(plugin.id)) list.push(plugin.id);
    };
    for (const [name, value] of Object.entries(exports)) {
      if (name === 'builtinPlugins' && Array.isArray(value)) {
        for (const [i, item] of value.entries()) {
          if (typeof item === 'string') {
            const sub = await this.load(item, dirname(path));
            entry.tasks.push(...sub.tasks.filter((t) => !entry.tasks.includes(t)));
            entry.variants.push(...sub.variants.filter((v) => !entry.variants.includes(v)));
          } else if (isPluginLike(item)) add(item, `builtinPlugins[${i}]`);
          else throw new PluginError(path, `builtinPlugins[${i}]`, 'must be a plugin object or a module spec string');
        }
        continue;
      }
      if (Array.isArray(value)) {
        value.forEach((v, i) => add(v, `${name}[${i}]`));
        continue;
      }
      if (name === 'default' && value !== undefined && !isPluginLike(value)) {
        throw new PluginError(
          path,
          'default',
          "the default export is not a plugin: it has no kind 'task' or 'variant'",
          'make it with defineTask({...}) / defineVariant({...}) from @bam/eval, or add kind: "task" to the plain object',
        );
      }
      add(value, name);
    }
  }
}
