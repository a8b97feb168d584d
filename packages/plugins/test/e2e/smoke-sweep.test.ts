import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadUpcyclePreset, upcycle } from '@bam/upcycle';

/**
 * The smoke sweep end to end, as `nx run eval:sweep:smoke` runs it: the real CLI on the real
 * config (packages/eval/configs/smoke.json), two workers, checkpoints built from nothing by the
 * variants' prepare (the smoke upcycle preset), then a second run that must train nothing.
 * The CLI runs in a temporary folder, so the artifacts go to `<tmp>/artifacts` (the default).
 */
const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const BAM = join(REPO, 'packages', 'cli', 'bin', 'bam.mjs');
const CONFIG = join(REPO, 'packages', 'eval', 'configs', 'smoke.json');
const WORK = mkdtempSync(join(tmpdir(), 'bam-e2e-smoke-'));
const ARTIFACTS = join(WORK, 'artifacts');
afterAll(() => rmSync(WORK, { recursive: true, force: true }));

/** Parses CSV with quoted fields (csv-stringify quotes fields holding commas, quotes or newlines). */
function parseCsv(text: string): Array<Record<string, string>> {
  const records: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\n') row.push(field), records.push(row), (row = []), (field = '');
    else if (c !== '\r') field += c;
  }
  if (field !== '' || row.length > 0) row.push(field), records.push(row);
  const [head, ...body] = records;
  return body.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i] ?? ''])));
}

function sweep(out: string): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [BAM, 'sweep', '--config', CONFIG, '--out', out, '--workers', '2'], {
    cwd: WORK,
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...process.env, BAM_BACKEND: 'wasm' },
  });
}

/** Every stage artifact's DONE.json with its mtime, keyed by `<stage>/<hash>`. */
function doneMarkers(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const stage of readdirSync(ARTIFACTS)) {
    if (!statSync(join(ARTIFACTS, stage)).isDirectory()) continue;
    for (const hash of readdirSync(join(ARTIFACTS, stage))) {
      const done = join(ARTIFACTS, stage, hash, 'DONE.json');
      const st = statSync(done, { throwIfNoEntry: false });
      if (st) out[`${stage}/${hash}`] = st.mtimeMs;
    }
  }
  return out;
}

const VARIANT_ROWS = ['seed', 'btx [data-matched]', 'btx [compute-matched]', 'bam-full [data-matched]', 'bam-full [compute-matched]'];
const PPL_METRICS = ['token_perplexity', 'bits_per_byte', 'word_perplexity', 'byte_perplexity'];
const MC_METRICS = ['acc', 'acc_norm'];
const TASK_DOCS: Record<string, number> = { 'ppl-general': 4, 'ppl-code': 4, arithmetic: 12, 'wordnet-cloze': 12 };

describe('the smoke sweep end to end (bam sweep, 2 workers, checkpoints built by the variants)', () => {
  const first = join(WORK, 'out-1');
  const second = join(WORK, 'out-2');
  let firstRows: Array<Record<string, string>> = [];
  let markers: Record<string, number> = {};

  it('builds the smoke pipeline and writes one ok row per variant × budget × task × metric with finite values', { timeout: 300_000 }, () => {
    const r = sweep(first);
    expect(r.stderr).not.toContain('did not load');
    expect(r.status, r.stderr.slice(-4000)).toBe(0);
    // The dense prepare (first in plan order) trained the seed, branched and trained the experts;
    // the first mixture prepare reused those and built every recipe of the preset.
    const preset = loadUpcyclePreset('smoke');
    const dense = 1 + 2 * preset.domains.length;
    expect(r.stderr).toContain(`upcycle smoke seed 0 (seed and experts): ${dense} stage(s) built, 0 reused`);
    const mixtures = /upcycle smoke seed 0: (\d+) stage\(s\) built, (\d+) reused/.exec(r.stderr);
    expect(Number(mixtures?.[1])).toBeGreaterThan(preset.recipes.length);
    expect(Number(mixtures?.[2])).toBeGreaterThanOrEqual(dense);

    firstRows = parseCsv(readFileSync(join(first, 'results.csv'), 'utf8'));
    const keys = firstRows.map((row) => `${row.variant}|${row.budget}|${row.task}|${row.metric}`).sort();
    const expected: string[] = [];
    for (const [variant, budgets] of [
      ['seed', ['']],
      ['btx', ['data-matched', 'compute-matched']],
      ['bam-full', ['data-matched', 'compute-matched']],
    ] as const) {
      for (const budget of budgets) {
        for (const task of ['ppl-general', 'ppl-code']) for (const m of PPL_METRICS) expected.push(`${variant}|${budget}|${task}|${m}`);
        for (const task of ['arithmetic', 'wordnet-cloze']) for (const m of MC_METRICS) expected.push(`${variant}|${budget}|${task}|${m}`);
      }
    }
    expect(keys).toEqual(expected.sort());
    expect(firstRows).toHaveLength(60);
    for (const row of firstRows) {
      expect(row.status, `${row.variant} ${row.task}: ${row.error}`).toBe('ok');
      expect(Number.isFinite(Number(row.value))).toBe(true);
      expect(Number.isFinite(Number(row.stderr))).toBe(true);
      expect(Number(row.n)).toBe(TASK_DOCS[row.task]);
      expect(row.seed).toBe('0');
      expect(row.task_version).toBe('1');
      expect(row.config_hash).toMatch(/^[0-9a-f]{16}$/);
      expect(row.backend).toBe('wasm');
      expect(row.package_version).toMatch(/^\d+\.\d+\.\d+/);
    }
    const value = (variant: string, budget: string, task: string, metric: string): number =>
      Number(firstRows.find((x) => x.variant === variant && x.budget === budget && x.task === task && x.metric === metric)?.value);
    for (const [variant, budget] of [['seed', ''], ['btx', 'data-matched'], ['bam-full', 'compute-matched']]) {
      for (const task of ['ppl-general', 'ppl-code']) {
        // The smoke preset's byte tokenizer: one token per byte, so token and byte perplexity agree,
        // and bits per byte is log2 of the byte perplexity.
        expect(value(variant, budget, task, 'token_perplexity')).toBeCloseTo(value(variant, budget, task, 'byte_perplexity'), 9);
        expect(value(variant, budget, task, 'bits_per_byte')).toBeCloseTo(Math.log2(value(variant, budget, task, 'byte_perplexity')), 9);
        // A byte-level model that learned anything beats the uniform 256.
        expect(value(variant, budget, task, 'token_perplexity')).toBeLessThan(256);
      }
      for (const task of ['arithmetic', 'wordnet-cloze']) {
        const acc = value(variant, budget, task, 'acc');
        expect(acc * TASK_DOCS[task]).toBeCloseTo(Math.round(acc * TASK_DOCS[task]), 9); // a count of documents
      }
    }
    // BTX is the compute-matched reference: its two budgets are one trained artifact, so one set of numbers.
    for (const task of ['ppl-general', 'ppl-code']) {
      for (const m of PPL_METRICS) expect(value('btx', 'compute-matched', task, m)).toBe(value('btx', 'data-matched', task, m));
    }
    // BAM-full pays for N attention experts: compute-matched it sees fewer tokens, so another model.
    expect(value('bam-full', 'compute-matched', 'ppl-general', 'token_perplexity')).not.toBe(value('bam-full', 'data-matched', 'ppl-general', 'token_perplexity'));
  });

  it('writes wide tables with a finite cell for every variant row and task, and their average', () => {
    const tables: Record<string, string[]> = {
      token_perplexity: ['ppl-general', 'ppl-code'],
      bits_per_byte: ['ppl-general', 'ppl-code'],
      word_perplexity: ['ppl-general', 'ppl-code'],
      acc: ['arithmetic', 'wordnet-cloze'],
      acc_norm: ['arithmetic', 'wordnet-cloze'],
    };
    const files = readdirSync(first).filter((f) => f.startsWith('table_')).sort();
    expect(files).toEqual(Object.keys(tables).map((m) => `table_${m}.csv`).sort());
    for (const [metric, tasks] of Object.entries(tables)) {
      const text = readFileSync(join(first, `table_${metric}.csv`), 'utf8');
      expect(text.split('\n')[0]).toBe(['variant', ...[...tasks, 'average'].flatMap((c) => [c, `${c}_stderr`])].join(','));
      const rows = parseCsv(text);
      expect(rows.map((r) => r.variant)).toEqual(VARIANT_ROWS);
      for (const row of rows) {
        const cells = tasks.map((t) => Number(row[t]));
        for (const c of cells) expect(Number.isFinite(c)).toBe(true);
        expect(Number(row.average)).toBeCloseTo((cells[0] + cells[1]) / 2, 9);
        const [variant, budget] = row.variant.includes(' [') ? [row.variant.split(' [')[0], row.variant.split(' [')[1].slice(0, -1)] : [row.variant, ''];
        const long = firstRows.find((r) => r.variant === variant && r.budget === budget && r.task === tasks[0] && r.metric === metric);
        expect(Number(row[tasks[0]])).toBe(Number(long?.value));
      }
    }
  });

  it("records each model's checkpoint config hash: the seed's, and one per mixture recipe for both budgets", { timeout: 120_000 }, async () => {
    const jobs = readFileSync(join(first, 'jobs.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { variant: string; budget: string; model: string; modelHash: string });
    const byModel = new Map(jobs.map((j) => [`${j.variant}|${j.budget}`, j.modelHash]));
    // The checkpoints as upcycle knows them: everything exists, so this trains nothing.
    const r = await upcycle('smoke', { artifactsDir: ARTIFACTS, workers: 1, seed: 0 });
    expect(r.artifacts.filter((a) => !a.reused)).toEqual([]);
    const manifestHash = (dir: string): string => (JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as { configHash: string }).configHash;
    const ckpt = (recipe: string, budget: string): string => r.mixtures.find((m) => m.recipe === recipe && m.budget === budget)!.checkpoint;
    expect(byModel.get('seed|')).toBe(manifestHash(r.seed.checkpoint));
    for (const recipe of ['btx', 'bam-full']) {
      for (const budget of ['data-matched', 'compute-matched']) expect(byModel.get(`${recipe}|${budget}`)).toBe(manifestHash(ckpt(recipe, budget)));
    }
    expect(new Set(byModel.values()).size).toBe(3);
    for (const j of jobs) expect(j.modelHash).toMatch(/^[0-9a-f]{16}$/);
    markers = doneMarkers();
    expect(Object.keys(markers).sort()).toEqual([...new Set(r.artifacts.map((a) => `${a.stage}/${a.hash}`))].sort());
  });

  it('trains nothing in a second sweep on the same artifacts, and gets the same numbers', { timeout: 300_000 }, () => {
    const r = sweep(second);
    expect(r.status, r.stderr.slice(-4000)).toBe(0);
    const builds = [...r.stderr.matchAll(/upcycle smoke seed 0[^:]*: (\d+) stage\(s\) built, (\d+) reused/g)];
    expect(builds.length).toBeGreaterThan(0);
    for (const m of builds) expect(Number(m[1])).toBe(0);
    expect(r.stderr).not.toMatch(/: trained \d+ steps/);
    expect(doneMarkers()).toEqual(markers);
    const again = parseCsv(readFileSync(join(second, 'results.csv'), 'utf8'));
    const strip = (rows: Array<Record<string, string>>) => rows.map(({ duration_s: _d, ...rest }) => rest);
    expect(strip(again)).toEqual(strip(firstRows));
  });
});
