/**
 * `code-completion` (code): given the lines before it, choose the true next line of a held-out
 * TypeScript file among four (acc, acc_norm).
 *
 * Source: the code domain's held-out split, `@bam/core` `loadDomain('code', split)` (default
 * `test`): `effect`'s `src/**.ts` files, split by file, so no document comes from a file trained
 * on. Target lines are code (not comments), 12–100 characters without indentation, with a letter
 * in them. A target is dropped when its `contextLines` lines of context plus the line occur
 * verbatim in any **training** file (effect repeats boilerplate across files), so the exact
 * window was never trained on. Documents: the first `limit` targets in hash order of (`seed`,
 * file, line), at most `maxPerFile` from one file.
 *
 * Prompt: the previous `contextLines` (default 8) lines, each ending in `\n`; choices: the line
 * itself (with its indentation). Distractors: three target lines of *other* held-out files among the 40
 * nearest in length (without indentation) to the true line, re-indented like it (so indentation
 * gives nothing away), textually different from it, drawn with a PRNG seeded by (`seed`, file,
 * line), as is the gold position.
 */
import { z } from 'zod';
import { defineMultipleChoiceTask } from '@bam/eval';
import { DataError, loadDomain } from '@bam/core';
import { hashOrder, memoByOptions, pickDistinct, placeGold, rngFor, sampleOptions, type MultipleChoiceDoc } from './common.ts';

/** Options of `code-completion`. */
export const CodeCompletionOptionsSchema = z
  .object({
    ...sampleOptions(100),
    /** Lines of context before the target line. */
    contextLines: z.number().int().min(1).max(64).default(8),
    /** At most this many documents from one file. */
    maxPerFile: z.number().int().min(1).default(6),
  })
  .strict();

/** Parsed options of `code-completion`. */
export type CodeCompletionOptions = z.infer<typeof CodeCompletionOptionsSchema>;

/** A `code-completion` document: a multiple-choice doc plus the file and the target's line index. */
export interface CodeCompletionDoc extends MultipleChoiceDoc {
  file: string;
  /** 0-based index of the target line in the file. */
  line: number;
}

/** Distractors are drawn from this many held-out lines nearest in length to the true line. */
const NEAREST = 40;

/** Whether a line may be a target (or a distractor): code, not a comment, 12–100 characters trimmed, with a letter. */
export function isTargetLine(line: string): boolean {
  const t = line.trim();
  return t.length >= 12 && t.length <= 100 && /[A-Za-z]/.test(t) && !/^(\/\/|\/\*|\*)/.test(t);
}

function indentOf(line: string): string {
  return /^\s*/.exec(line)![0];
}

interface Candidate {
  file: string;
  line: number;
  text: string;
  trimmed: string;
}

let codeTrain: string | undefined;

/** Whether `text` occurs verbatim in a file of the code domain's training split. */
export function inCodeTraining(text: string): boolean {
  codeTrain ??= loadDomain('code', 'train')
    .map((d) => d.text)
    .join('\u0000');
  return codeTrain.includes(text);
}

/** The documents of `code-completion`: deterministic for the options. */
export function codeCompletionDocs(opts: CodeCompletionOptions): CodeCompletionDoc[] {
  const files = loadDomain('code', opts.split).map((d) => ({ id: d.id, lines: d.text.split('\n') }));
  const candidates: Candidate[] = [];
  for (const f of files) {
    f.lines.forEach((text, line) => {
      if (isTargetLine(text)) candidates.push({ file: f.id, line, text, trimmed: text.trim() });
    });
  }
  const pool = [...new Map(candidates.map((c) => [c.trimmed, c])).values()].sort((a, b) => a.trimmed.length - b.trimmed.length || (a.trimmed < b.trimmed ? -1 : 1));
  const linesOf = new Map(files.map((f) => [f.id, f.lines]));
  const perFile = new Map<string, number>();
  const docs: CodeCompletionDoc[] = [];
  for (const c of hashOrder(candidates, (x) => `${x.file}:${x.line}`, 'code-completion-v1', opts.seed)) {
    if (docs.length >= opts.limit) break;
    if (c.line < opts.contextLines || (perFile.get(c.file) ?? 0) >= opts.maxPerFile) continue;
    const context = linesOf.get(c.file)!.slice(c.line - opts.contextLines, c.line).join('\n') + '\n';
    if (context.trim().length === 0 || inCodeTraining(context + c.text)) continue;
    const rand = rngFor('code-completion-v1', opts.seed, c.file, c.line);
    const near = nearestByLength(pool, c.trimmed.length, NEAREST, (o) => o.file !== c.file && o.trimmed !== c.trimmed);
    const indent = indentOf(c.text);
    const distractors = pickDistinct(near, 3, rand, () => true, (o) => o.trimmed).map((o) => indent + o.trimmed);
    if (distractors.length < 3) throw new DataError(`code-completion: too few distractor lines for ${c.file}:${c.line + 1}`, "use split: 'test'");
    const { choices, gold } = placeGold(c.text, distractors, rand, `code-completion ${c.file}:${c.line + 1}`);
    docs.push({ id: `${c.file}:${c.line + 1}`, file: c.file, line: c.line, context, choices, gold });
    perFile.set(c.file, (perFile.get(c.file) ?? 0) + 1);
  }
  return docs;
}

/** Up to `count` items of `pool` (sorted by trimmed length) accepted by `accept`, nearest in length to `len` first. */
function nearestByLength(pool: readonly Candidate[], len: number, count: number, accept: (c: Candidate) => boolean): Candidate[] {
  let hi = pool.findIndex((p) => p.trimmed.length >= len);
  if (hi < 0) hi = pool.length;
  let lo = hi - 1;
  const out: Candidate[] = [];
  while (out.length < count && (lo >= 0 || hi < pool.length)) {
    const takeHi = lo < 0 || (hi < pool.length && pool[hi].trimmed.length - len <= len - pool[lo].trimmed.length);
    const c = takeHi ? pool[hi++] : pool[lo--];
    if (accept(c)) out.push(c);
  }
  return out;
}

/** `code-completion`: choose the next line of a held-out `effect` source file among four. */
export const codeCompletion = defineMultipleChoiceTask<CodeCompletionOptions, CodeCompletionDoc>({
  id: 'code-completion',
  version: 1,
  description: 'Code: given the previous lines (8 by default) of a held-out effect source file, choose the true next line among 4 (similar-length lines of other held-out files). acc, acc_norm.',
  options: CodeCompletionOptionsSchema,
  documents: memoByOptions(codeCompletionDocs),
});
