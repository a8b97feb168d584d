/**
 * Code-domain text: the TypeScript sources of `effect` (npm `effect`, MIT), one document per file
 * under `src/`, split by file. Third-party licence and copyright headers (a few files carry code
 * adapted from elsewhere) are removed; everything else is kept verbatim.
 */
import { join } from 'node:path';
import type { Doc } from '../types.ts';
import { listFiles, packageDir, readText, tidyWhitespace, wellFormed } from '../source-files.ts';

const LICENCE_MARK = /copyright|licen[cs]ed under|\blicen[cs]e\b/i;

/**
 * Removes licence/copyright comments from TypeScript source: any block comment that starts a
 * line and mentions a licence or copyright, and any run of `//` lines that does.
 */
export function stripLicenceHeaders(source: string): string {
  const noBlocks = source.replace(/^[ \t]*\/\*[\s\S]*?\*\/[ \t]*\n?/gm, (block) => (LICENCE_MARK.test(block) ? '' : block));
  return noBlocks.replace(/(?:^[ \t]*\/\/.*\n)+/gm, (run) => (LICENCE_MARK.test(run) ? '' : run));
}

/** `effect/src/**.ts` as documents `effect/src/<path>`, sorted by path. */
export function loadCodeCorpus(): Doc[] {
  const dir = join(packageDir('effect'), 'src');
  const docs: Doc[] = [];
  for (const rel of listFiles(dir, (f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))) {
    const text = tidyWhitespace(stripLicenceHeaders(wellFormed(readText(join(dir, rel)))));
    if (text) docs.push({ id: `effect/src/${rel}`, text });
  }
  return docs;
}
