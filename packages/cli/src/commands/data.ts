/**
 * `bam data`: bytes, documents and tokens of every domain and split of the offline corpora
 * (packages/core/src/data), under a chosen tokenizer. Token streams are cached on disk, so a
 * second run is fast.
 */
import {
  createTokenizer,
  DOC_SEPARATOR,
  DOMAINS,
  loadDomain,
  SPLITS,
  tokenizerSpecFromName,
  tokensOf,
  type Domain,
  type Split,
} from '@bam/core';
import type { CommandLineSpec, OptionSpec } from '@bam/utils';
import { defineCommand } from '../command.ts';

const spec = {
  command: 'bam data',
  options: {
    tokenizer: { kind: 'string', arg: 'NAME', default: 'gpt2-4096', help: 'byte | gpt2-<vocab size> | a full id like gpt2-trunc-4096' },
    domain: { kind: 'string', arg: 'D', multiple: true, choices: DOMAINS, defaultText: 'all', help: `only these domains: ${DOMAINS.join(', ')}` },
    split: { kind: 'string', arg: 'S', multiple: true, choices: SPLITS, defaultText: 'all', help: `only these splits: ${SPLITS.join(', ')}` },
    json: { kind: 'flag', help: 'print one JSON object {tokenizer, rows: [{domain, split, documents, bytes, tokens, bytesPerToken}]}' },
  },
} as const satisfies CommandLineSpec<Record<string, OptionSpec>>;

interface Row {
  domain: Domain;
  split: Split;
  documents: number;
  bytes: number;
  tokens: number;
  bytesPerToken: number;
}

/** The values asked for, in their canonical order; all of them when none was given. */
function pick<T extends string>(values: readonly string[], known: readonly T[]): T[] {
  return values.length === 0 ? [...known] : known.filter((k) => values.includes(k));
}

function table(rows: Row[]): string {
  const head = ['domain', 'split', 'documents', 'bytes', 'tokens', 'bytes/token'];
  const cells = rows.map((r) => [r.domain, r.split, r.documents.toLocaleString('en'), r.bytes.toLocaleString('en'), r.tokens.toLocaleString('en'), r.bytesPerToken.toFixed(2)]);
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]): string => c.map((v, i) => (i < 2 ? v.padEnd(width[i]) : v.padStart(width[i]))).join('  ');
  return [line(head), width.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

export const command = defineCommand({
  name: 'data',
  summary: 'bytes, documents and tokens per domain and split of the offline corpora',
  spec,
  usage: {
    usage: 'bam data [--tokenizer NAME] [--domain D]... [--split S]... [--json]',
    description: `Documents, bytes and tokens per domain and split of the offline corpora. Bytes are the UTF-8 size
of the split's token stream text (its documents joined by a blank line), so the byte tokenizer
gives exactly one token per byte.`,
    epilogue: 'example: bam data --tokenizer byte --domain law --json',
  },
  async run({ values }) {
    const tokenizer = createTokenizer(tokenizerSpecFromName(values.tokenizer));
    const domains = pick(values.domain, DOMAINS);
    const splits = pick(values.split, SPLITS);
    const rows: Row[] = [];
    for (const domain of domains) {
      for (const split of splits) {
        const docs = loadDomain(domain, split);
        // Bytes of the token stream's text: the documents joined by DOC_SEPARATOR.
        const bytes = docs.reduce((a, d) => a + Buffer.byteLength(d.text), 0) + Math.max(0, docs.length - 1) * Buffer.byteLength(DOC_SEPARATOR);
        const tokens = tokensOf(domain, split, tokenizer).length;
        rows.push({ domain, split, documents: docs.length, bytes, tokens, bytesPerToken: tokens ? bytes / tokens : 0 });
      }
    }
    if (values.json) {
      console.log(JSON.stringify({ tokenizer: { id: tokenizer.id, vocabSize: tokenizer.vocabSize }, rows }));
    } else {
      console.log(`tokenizer ${tokenizer.id} (vocabulary ${tokenizer.vocabSize}); bytes and tokens of each split's stream (documents joined by a blank line)\n`);
      console.log(table(rows));
    }
    return 0;
  },
});
