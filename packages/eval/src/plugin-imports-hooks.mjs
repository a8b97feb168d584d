// Module-resolution hooks for plugin files (registered by plugin-imports.ts with node:module's
// register; they run on Node's loader thread, so this file is plain JavaScript). A plugin file in
// a folder with no node_modules imports '@bam/eval', 'zod' or '@bam/core': when Node cannot find
// such a shared package from the plugin's folder, it is resolved again from the file of bam's that
// shared it, so the plugin gets the very module instances bam runs with (one zod, one @bam/eval:
// types and instanceof checks agree). Anything installed beside the plugin still wins.

/** Shared package name → the URL of the file it resolves from. */
const shared = new Map();

/** '@scope/name/sub' → '@scope/name'; 'zod/v4' → 'zod'; relative, absolute and node: specifiers → undefined. */
function packageName(specifier) {
  if (/^(\.|\/|[a-z][a-z0-9+.-]*:)/i.test(specifier)) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Called once per register() with { shared: { name: fromUrl } }. */
export function initialize(data) {
  for (const [name, from] of Object.entries(data?.shared ?? {})) shared.set(name, from);
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    const from = shared.get(packageName(specifier));
    if (from === undefined || from === context.parentURL || err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
    return nextResolve(specifier, { ...context, parentURL: from });
  }
}
