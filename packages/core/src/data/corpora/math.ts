/**
 * Math-domain text, part 1: the READMEs of the `@stdlib/math` and `@stdlib/stats` sub-packages
 * (Apache-2.0): prose, usage examples and the LaTeX of every equation.
 *
 * stdlib keeps each equation's LaTeX in an HTML comment (`<!-- <equation raw="..."> -->`) next to
 * a rendered SVG; cleaning turns that into `$$ LaTeX $$` *before* dropping comments, then removes
 * the licence header, HTML tags, badges, the C-API, "See Also", notice and link-reference
 * sections, and turns Markdown links into their text. Code fences are kept verbatim.
 *
 * Part 2, generated arithmetic, is in `arithmetic.ts`.
 */
import { join } from 'node:path';
import type { Doc } from '../types.ts';
import { listFiles, packageDir, readText, tidyWhitespace, wellFormed } from '../source-files.ts';

/** `<section class="...">` blocks dropped whole (they may nest other sections). */
const DROPPED_SECTIONS = new Set(['c', 'related', 'links', 'main-repo', 'installation']);
/** HTML tags removed (content kept) outside code fences. */
const HTML_TAG = /<\/?(?:section|div|span|img|br|p|a|sup|sub|summary|details|b|i|em|strong|table|thead|tbody|tr|td|th|ul|ol|li|hr|h[1-6])\b[^>]*>/gi;

/** Decodes the few HTML entities stdlib READMEs use. */
function decodeEntities(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&copy;/g, '©')
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&');
}

/** Removes `<tag ...>...</tag>` elements whose opening tag satisfies `drop`, honouring nesting. */
function dropElements(text: string, tag: string, drop: (openTag: string) => boolean): string {
  const re = new RegExp(`<${tag}\\b[^>]*>|</${tag}>`, 'gi');
  let out = '';
  let last = 0;
  let depth = 0;
  let dropStart = -1;
  let dropDepth = 0;
  for (const m of text.matchAll(re)) {
    const isOpen = !m[0].startsWith('</');
    if (isOpen) {
      depth++;
      if (dropStart < 0 && drop(m[0])) {
        dropStart = m.index;
        dropDepth = depth;
      }
    } else {
      if (dropStart >= 0 && depth === dropDepth) {
        out += text.slice(last, dropStart);
        last = m.index + m[0].length;
        dropStart = -1;
      }
      depth = Math.max(0, depth - 1);
    }
  }
  // An unclosed dropped element runs to the end of the file.
  return dropStart >= 0 ? out + text.slice(last, dropStart) : out + text.slice(last);
}

/** Cleans prose (text outside code fences). */
function cleanProse(s: string): string {
  return decodeEntities(
    s
      .replace(/<!--[\s\S]*?-->/g, '')
      .replace(/^.*-->\s*$/gm, '') // stray comment closers left by stdlib's malformed comments
      .replace(/^\[[^\]\n]+\]:\s*\S.*$/gm, '') // link reference definitions
      .replace(/\[!\[[^\]]*\]\[[^\]]*\]\]\[[^\]]*\]/g, '') // badges
      .replace(/!\[[^\]]*\](?:\[[^\]]*\]|\([^)]*\))/g, '') // images
      .replace(/\[([^\]\n]+)\]\[[^\]\n]*\]/g, '$1') // [text][ref]
      .replace(/\[([^\]\n]+)\]\([^)\n]*\)/g, '$1') // [text](url)
      .replace(HTML_TAG, '')
      .replace(/^\s*(?:\* \* \*|---+)\s*$/gm, ''),
  );
}

/** Cleans one stdlib README (Markdown + HTML) to prose, `$$` equations and code fences. */
export function cleanStdlibReadme(markdown: string): string {
  let s = wellFormed(markdown);
  s = dropElements(s, 'section', (open) => {
    const cls = /class\s*=\s*"([^"]*)"/.exec(open)?.[1] ?? '';
    return cls.split(/\s+/).some((c) => DROPPED_SECTIONS.has(c));
  });
  s = dropElements(s, 'details', () => true);
  s = s.replace(/<!--\s*<equation\b[^>]*?\braw="([^"]*)"[^>]*>\s*-->[\s\S]*?<!--\s*<\/equation>\s*-->/g, (_m, raw: string) => `\n$$${decodeEntities(raw)}$$\n`);
  const parts = s.split(/(^```[^\n]*\n[\s\S]*?^```[ \t]*$)/m);
  return tidyWhitespace(parts.map((p, i) => (i % 2 === 1 ? p : cleanProse(p))).join(''));
}

/** Every README of `@stdlib/math` and `@stdlib/stats` as documents `stdlib/<pkg>/<path>`, sorted. */
export function loadStdlibReadmes(): Doc[] {
  const docs: Doc[] = [];
  for (const pkg of ['math', 'stats']) {
    const dir = packageDir(`@stdlib/${pkg}`);
    for (const rel of listFiles(dir, (f) => f === 'README.md' || f.endsWith('/README.md'), (d) => d === 'node_modules')) {
      const text = cleanStdlibReadme(readText(join(dir, rel)));
      const sub = rel === 'README.md' ? '' : `/${rel.slice(0, -'/README.md'.length)}`;
      if (text) docs.push({ id: `stdlib/${pkg}${sub}`, text });
    }
  }
  return docs;
}
