import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// A private token cache: the first gpt2 run below is cold, the second reads the files it wrote.
const cache = mkdtempSync(join(tmpdir(), 'bam-cli-data-'));
afterAll(() => rmSync(cache, { recursive: true, force: true }));

function bam(...args: string[]) {
  const r = spawnSync(process.execPath, ['packages/cli/bin/bam.mjs', ...args], { encoding: 'utf8', env: { ...process.env, BAM_CACHE_DIR: cache } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Row {
  domain: string;
  split: string;
  documents: number;
  bytes: number;
  tokens: number;
  bytesPerToken: number;
}

describe('bam data', () => {
  it('--tokenizer byte --json reports every domain and split with exactly one token per byte', () => {
    const r = bam('data', '--tokenizer', 'byte', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { tokenizer: { id: string; vocabSize: number }; rows: Row[] };
    expect(out.tokenizer).toEqual({ id: 'byte-256', vocabSize: 256 });
    expect(out.rows.map((x) => `${x.domain}/${x.split}`)).toEqual(
      ['general', 'law', 'code', 'math', 'ood'].flatMap((d) => ['train', 'validation', 'test'].map((s) => `${d}/${s}`)),
    );
    for (const row of out.rows) {
      expect(row.documents, `${row.domain}/${row.split}`).toBeGreaterThan(0);
      expect(row.tokens).toBe(row.bytes);
      expect(row.bytesPerToken).toBe(1);
    }
    const train = (d: string) => out.rows.find((x) => x.domain === d && x.split === 'train')!;
    expect(train('general').bytes).toBeGreaterThan(10_000_000);
    expect(train('law').bytes).toBeGreaterThan(3_000_000);
    expect(train('code').bytes).toBeGreaterThan(4_000_000);
    expect(train('math').bytes).toBeGreaterThan(4_000_000);
  });

  it('gives the same gpt2-4096 counts from a cold and a warm token cache, at over 2 bytes a token', () => {
    const cold = bam('data', '--domain', 'law', '--split', 'validation', '--split', 'test', '--json');
    expect(cold.code).toBe(0);
    expect(readdirSync(join(cache, 'tokens', 'gpt2-trunc-4096')).sort()).toEqual([
      expect.stringMatching(/^law-test-[0-9a-f]{20}\.bin$/),
      expect.stringMatching(/^law-validation-[0-9a-f]{20}\.bin$/),
    ]);
    const warm = bam('data', '--domain', 'law', '--split', 'validation', '--split', 'test', '--json');
    expect(warm.stdout).toBe(cold.stdout);
    const out = JSON.parse(cold.stdout) as { tokenizer: { id: string }; rows: Row[] };
    expect(out.tokenizer.id).toBe('gpt2-trunc-4096');
    expect(out.rows.map((x) => `${x.domain}/${x.split}`)).toEqual(['law/validation', 'law/test']);
    for (const row of out.rows) {
      expect(row.tokens).toBeLessThan(row.bytes / 2);
      expect(row.bytesPerToken).toBeCloseTo(row.bytes / row.tokens, 10);
    }
  });

  it('prints a table by default and a clear error for an unknown tokenizer or domain', () => {
    const table = bam('data', '--tokenizer', 'byte', '--domain', 'ood');
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^tokenizer byte-256 \(vocabulary 256\)/);
    expect(lines[2].split(/\s+/)).toEqual(['domain', 'split', 'documents', 'bytes', 'tokens', 'bytes/token']);
    expect(lines.slice(4).map((l) => l.split(/\s+/).slice(0, 2).join('/'))).toEqual(['ood/train', 'ood/validation', 'ood/test']);
    expect(lines.slice(4).every((l) => l.endsWith('1.00'))).toBe(true);
    const bad = bam('data', '--tokenizer', 'gpt3');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown tokenizer 'gpt3'/);
    const badDomain = bam('data', '--domain', 'poetry');
    expect(badDomain.code).toBe(2);
    expect(badDomain.stderr).toMatch(/--domain must be one of general, law, code, math, ood; got 'poetry'/);
  });
});
