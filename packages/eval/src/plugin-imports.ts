/**
 * Which of bam's own packages a plugin file may import without installing anything in its folder.
 * A task written from the README sits in any folder and imports '@bam/eval' and 'zod' (a variant
 * also '@bam/core'); bam is not published, so those imports resolve to the copies bam itself runs
 * with (hooks in plugin-imports-hooks.mjs). @bam/eval shares itself and zod; a caller that depends
 * on more (the CLI on @bam/core) shares those by name, since eval must not import them itself.
 * Each thread shares for itself: the worker pool hands the table to its workers.
 */
import { register } from 'node:module';

/** Shared package name → URL of the module it is resolved from, in this thread. */
const sharedHere = new Map<string, string>();

/**
 * Lets plugin files import `names` as if they sat beside `fromUrl` (a module of bam's that depends
 * on them), whenever their own folder does not provide them. Idempotent per name and URL.
 */
export function sharePackagesWithPlugins(names: readonly string[], fromUrl: string): void {
  const added: Record<string, string> = {};
  for (const name of names) {
    if (sharedHere.get(name) === fromUrl) continue;
    sharedHere.set(name, fromUrl);
    added[name] = fromUrl;
  }
  if (Object.keys(added).length === 0) return;
  register(new URL('./plugin-imports-hooks.mjs', import.meta.url), { data: { shared: added } });
}

/** The packages shared so far in this thread (name → URL), for the worker threads to share too. */
export function sharedPackages(): Record<string, string> {
  return Object.fromEntries(sharedHere);
}

/** Shares @bam/eval and zod from @bam/eval itself (every plugin file needs them). */
export function shareEvalWithPlugins(): void {
  sharePackagesWithPlugins(['@bam/eval', 'zod'], import.meta.url);
}
