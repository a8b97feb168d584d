import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseResultsCsv } from '@bam/eval';

/**
 * Sharded tasks on a real model, through the real CLI: the smoke preset's dense seed (trained from
 * nothing by the first run's prepare, reused by the second) on a perplexity task and wordnet-cloze,
 * whose distractors each document draws from the whole set, so a shard must still see every
 * document. The run with `shards: 3` (and `shardDocs`) must give the unsplit run's results.csv
 * (apart from duration_s), docs.jsonl and tables byte for byte.
 */
const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const BAM = join(REPO, 'packages', 'cli', 'bin', 'bam.mjs');
const WORK = mkdtempSync(join(tmpdir(), 'bam-e2e-shards-'));
afterAll(() => rmSync(WORK, { recursive: true, force: true }));

function config(name: string, split: { shards?: number; shardDocs?: number }): string {
  const path = join(WORK, `${name}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      name,
      seeds: [0],
      variants: [{ id: 'dense', name: 'seed', options: { preset: 'smoke', model: 'seed' } }],
      tasks: [
        { id: 'ppl-general', options: { limit: 4, maxChars: 400 }, ...(split.shards ? { shards: split.shards } : {}) },
        { id: 'wordnet-cloze', options: { limit: 7 } },
      ],
      ...(split.shardDocs ? { shardDocs: split.shardDocs } : {}),
      bootstrapIters: 100,
    }),
  );
  return path;
}

function sweep(configPath: string, out: string): SpawnSyncReturns<string> {
  mkdirSync(join(WORK, 'run'), { recursive: true });
  // Both runs work in one folder, so they share ./artifacts: the second trains nothing.
  return spawnSync(process.execPath, [BAM, 'sweep', '--config', configPath, '--out', out, '--workers', '2'], {
    cwd: join(WORK, 'run'),
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...process.env, BAM_BACKEND: 'wasm' },
  });
}

function results(out: string): string[] {
  return parseResultsCsv(readFileSync(join(out, 'results.csv'), 'utf8')).map(({ duration_s: _d, ...rest }) => JSON.stringify(rest));
}

describe('sharded tasks on the smoke seed model (bam sweep, 2 workers)', () => {
  it('aggregate to exactly the unsplit results, documents and tables', { timeout: 300_000 }, () => {
    const whole = join(WORK, 'whole');
    const a = sweep(config('whole', {}), whole);
    expect(a.status, a.stderr).toBe(0);
    const split = join(WORK, 'split');
    // ppl-general in 3 shards (1 + 1 + 2 documents: ⌊4i / 3⌋), wordnet-cloze split by shardDocs 3 (3 shards of 7)
    const b = sweep(config('split', { shards: 3, shardDocs: 3 }), split);
    expect(b.status, b.stderr).toBe(0);
    expect(b.stderr).toContain('shard 3/3');
    const plan = JSON.parse(readFileSync(join(split, 'sweep.json'), 'utf8')) as { shards: Array<{ task: string; shard: { start: number; end: number } }> };
    expect(plan.shards.map((s) => `${s.task}:${s.shard.start}-${s.shard.end}`)).toEqual(['ppl-general:0-1', 'ppl-general:1-2', 'ppl-general:2-4', 'wordnet-cloze:0-2', 'wordnet-cloze:2-4', 'wordnet-cloze:4-7']);

    const rows = results(whole);
    expect(rows.length).toBe(6); // 4 perplexity metrics + acc + acc_norm
    expect(rows.every((r) => JSON.parse(r).status === 'ok')).toBe(true);
    expect(results(split)).toEqual(rows);
    for (const f of ['docs.jsonl', 'table_acc.csv', 'table_bits_per_byte.csv']) {
      expect(readFileSync(join(split, f), 'utf8'), f).toBe(readFileSync(join(whole, f), 'utf8'));
    }
    expect(readFileSync(join(split, 'docs.jsonl'), 'utf8').trim().split('\n')).toHaveLength(4 + 7);
  });
});
