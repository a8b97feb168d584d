/**
 * Draws a vega-lite spec to SVG in Node: vega-lite compiles it to a vega spec, and a headless
 * vega View (renderer 'none': no canvas needed) renders the scenegraph to an SVG string.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { TopLevelSpec } from 'vega-lite';

/**
 * Compiles `spec` with vega-lite and returns the SVG markup vega draws for it. The chart
 * libraries load on the first call, so importing @bam/eval (every worker and plugin does) stays cheap.
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The installed versions of vega and vega-lite (shown in the report). */
export function chartLibraryVersions(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const version = (name: string): string => {
    try {
      const pkgPath = require.resolve(`${name}/package.json`);
      return (JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string }).version;
    } catch {
      return 'unknown';
    }
  };
  return { vega: version('vega'), 'vega-lite': version('vega-lite') };
}
