import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { arithmeticDocs } from '../../src/index.ts';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const BAM = join(REPO, 'packages', 'cli', 'bin', 'bam.mjs');
const UNIFORM_BYTES = join(REPO, 'packages', 'eval', 'examples', 'uniform-bytes.ts');

/** results.csv as objects (the fields used here hold no commas or quotes). */
function rows(path: string): Array<Record<string, string>> {
  const [head, ...body] = readFileSync(path, 'utf8').trim().split('\n');
  const cols = head.split(',');
  return body.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])));
}

describe('built-in tasks in a spawned bam sweep', () => {
  it('are found by id without naming @bam/plugins, and give the uniform-bytes model 8 bits per byte and token perplexity 256', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bam-plugins-sweep-'));
    const config = join(dir, 'sweep.json');
    writeFileSync(
      config,
      JSON.stringify({
        name: 'builtin-tasks',
        seeds: [0],
        plugins: [UNIFORM_BYTES],
        artifactsDir: './artifacts',
        variants: [{ id: 'uniform-bytes' }],
        tasks: [
          { id: 'ppl-law', options: { limit: 3, maxChars: 300 } },
          { id: 'arithmetic', options: { limit: 10 } },
        ],
        bootstrapIters: 10,
      }),
    );
    const r = spawnSync(process.execPath, [BAM, 'sweep', '--config', config, '--out', join(dir, 'out'), '--workers', '1', '--quiet'], { cwd: REPO, encoding: 'utf8', timeout: 180_000 });
    expect(r.stderr).not.toContain('did not load');
    expect(r.status).toBe(0);
    const got = Object.fromEntries(rows(join(dir, 'out', 'results.csv')).map((row) => [`${row.task} ${row.metric}`, [Number(row.value), row.n, row.status, row.task_version]]));
    // uniform-bytes: every byte has p = 1/256 and counts one token per byte
    expect(got['ppl-law bits_per_byte']).toEqual([8, '3', 'ok', '1']);
    expect(got['ppl-law token_perplexity'][0]).toBeCloseTo(256, 9);
    expect(got['ppl-law byte_perplexity'][0]).toBeCloseTo(256, 9);
    // multiple choice: acc picks the shortest choice (the first on ties); per byte every choice
    // scores the same, so acc_norm picks the first choice
    const docs = arithmeticDocs({ limit: 10, split: 'test', seed: 0, showSteps: true });
    const shortest = (cs: string[]): number => cs.findIndex((c) => c.length === Math.min(...cs.map((x) => x.length)));
    expect(got['arithmetic acc']).toEqual([docs.filter((d) => shortest(d.choices) === d.gold).length / 10, '10', 'ok', '1']);
    expect(got['arithmetic acc_norm'][0]).toBe(docs.filter((d) => d.gold === 0).length / 10);
    expect(Object.keys(got).sort()).toEqual([
      'arithmetic acc',
      'arithmetic acc_norm',
      'ppl-law bits_per_byte',
      'ppl-law byte_perplexity',
      'ppl-law token_perplexity',
      'ppl-law word_perplexity',
    ]);
  });
});
