import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mulberry32, writeComparisons, writeSyntheticResults, type DocScores, type SyntheticJob } from '@bam/eval';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function bam(...args: string[]) {
  const r = spawnSync(process.execPath, ['packages/cli/bin/bam.mjs', ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A results folder: dense, btx and bam-full on two perplexity domains and one accuracy task, one seed. */
function fixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bam-cli-compare-'));
  dirs.push(dir);
  const ppl = (domain: number, scale: number): DocScores[] => {
    const rand = mulberry32(domain);
    return Array.from({ length: 30 }, () => {
      const tokens = 20 + Math.floor(rand() * 30);
      return { token_perplexity: [-tokens * (2 + rand()) * scale, tokens] as [number, number] };
    });
  };
  const acc: Record<string, number[]> = {
    dense: [0, 1, 0, 0, 1, 0, 1, 0, 1, 1],
    btx: [1, 1, 0, 0, 1, 0, 1, 0, 1, 1],
    'bam-full': [1, 1, 1, 1, 1, 1, 1, 0, 0, 1],
  };
  const jobs: SyntheticJob[] = [];
  for (const [variant, scale] of [['dense', 1.1], ['btx', 1], ['bam-full', 0.99]] as const) {
    jobs.push({ variant, task: 'general', seed: 0, docs: ppl(1, scale) });
    jobs.push({ variant, task: 'code', seed: 0, docs: ppl(2, scale) });
    jobs.push({ variant, task: 'arithmetic', seed: 0, docs: acc[variant].map((a) => ({ acc: a })) });
  }
  const ppl_ = { token_perplexity: { aggregation: 'perplexity' as const, higherIsBetter: false } };
  writeSyntheticResults(dir, {
    bootstrapIters: 400,
    metrics: { general: ppl_, code: ppl_, arithmetic: { acc: { aggregation: 'mean', higherIsBetter: true } } },
    jobs,
  });
  return dir;
}

describe('bam compare', () => {
  const dir = fixture();

  it('prints a markdown table per metric against the first mixture, with Δ%, its CI and significance marks', () => {
    const r = bam('compare', dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('### token_perplexity: against btx (lower is better)');
    expect(lines).toContain('| variant | task | value | btx | Δ | Δ% [95% CI] | p | p (Holm) | n docs × seeds | |');
    // bam-full scales every logprob by 0.99: about 2–3% lower perplexity on every domain, significant
    const avg = lines.find((l) => l.startsWith('| bam-full | average |'))!;
    expect(avg).toMatch(/\| −[\d.]+% \[−[\d.]+, −[\d.]+\] \|.*\| 60 × 1 \| \*\*\*? better \|$/); // 400 permutations: p ≥ 1/401, Holm-doubled ≥ 0.005
    expect(lines.find((l) => l.startsWith('| dense | general |'))).toMatch(/\| \+[\d.]+% \[\+?[\d.]+, \+?[\d.]+\] \|.*\*\*\*? worse \|$/);
    expect(r.stdout).toContain('### acc: against btx (higher is better)');
    // McNemar on 3 wins and 1 loss: p = 0.625, Holm over two variants: 1
    expect(lines.find((l) => l.startsWith('| bam-full | arithmetic |'))).toMatch(/\| \+0\.2\d* \| \+33(\.\d+)?% \[.*\] \| 0\.63 \| 1\.00 \| 10 × 1 \|  \|$/);
  });

  it('prints in CSV exactly what the sweep writes to compare_<metric>.csv, and JSON', () => {
    writeComparisons(dir, { bootstrapIters: 400 });
    const csv = bam('compare', dir, '--metric', 'token_perplexity', '--format', 'csv');
    expect(csv.code).toBe(0);
    expect(csv.stdout).toBe(`${readFileSync(join(dir, 'compare_token_perplexity.csv'), 'utf8')}\n`);
    const json = bam('compare', dir, '--baseline', 'dense', '--format', 'json', '--iters', '50');
    const tables = JSON.parse(json.stdout) as Array<{ metric: string; baseline: string; rows: Array<{ variant: string; iters: number }> }>;
    expect(tables.map((t) => `${t.metric} vs ${t.baseline}`)).toEqual(['token_perplexity vs dense', 'acc vs dense']);
    expect(tables[0].rows.map((r) => r.variant)).toEqual(['btx', 'bam-full', 'btx', 'bam-full', 'btx', 'bam-full']);
    expect(tables[0].rows[0].iters).toBe(50);
  });

  it('answers bad arguments and unpairable documents with one error line and exit 2', () => {
    const fmt = bam('compare', dir, '--format', 'xml');
    expect(fmt.code).toBe(2);
    expect(fmt.stderr).toContain("--format: 'xml' is not one of markdown, csv, json");
    const iters = bam('compare', dir, '--iters', '1000000000000');
    expect(iters.code).toBe(2);
    expect(iters.stderr).toContain('compare iterations must be an integer from 0 to 1,000,000, got 1000000000000');
    expect(bam('compare').stderr).toContain('RESULTS_DIR: required');
    const docs = join(dir, 'docs.jsonl');
    const lines = readFileSync(docs, 'utf8').split('\n');
    lines.splice(lines.findIndex((l) => l.includes('"doc":29,')), 1); // dense loses its last 'general' document
    writeFileSync(docs, lines.join('\n'));
    const bad = bam('compare', dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("cannot pair variant 'dense' with baseline 'btx' on task 'general' (seed 0): the documents differ from document 29 on (the variant has 29 documents, the baseline 30)");
    expect(bad.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
