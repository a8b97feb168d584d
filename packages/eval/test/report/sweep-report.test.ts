/**
 * The report of a real sweep: the fake model and fixture tasks run on the worker pool, the sweep
 * writes report.html at its end, and the report's cells equal results.csv (means over seeds).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SWEEP_CONFIG_FILE, runSweep, type SweepOptions } from '../../src/index.ts';
import { FAKE_PLUGINS, REPO_ROOT, readCsv, sink, tmp } from '../helpers.ts';
import { writeFixture } from './fixture.ts';
import { tableById, tableRecords } from './html.ts';

/**
 * Four perplexity columns from the fixture's three texts: a job's config hash covers its
 * document limit but not its label, so distinct limits make distinct jobs with distinct values.
 */
const DOMAIN_TASKS = [
  { id: 'fake-ppl', name: 'ppl-general' },
  { id: 'fake-ppl', name: 'ppl-code', limit: 1 },
  { id: 'fake-ppl', name: 'ppl-law', limit: 2 },
  { id: 'fake-ppl', name: 'ppl-math', limit: 3 },
];

/** A plain variant and a budgeted one (DM and CM) × five perplexity tasks and one MC task × two seeds = 36 jobs. */
function config(artifactsDir: string): Record<string, unknown> {
  return {
    name: 'report-sweep',
    seeds: [0, 1],
    budgets: ['data-matched', 'compute-matched'],
    plugins: [FAKE_PLUGINS],
    artifactsDir,
    bootstrapIters: 50,
    variants: [
      { id: 'fake', name: 'seed' },
      { id: 'fake-budget', name: 'bam-full', options: { bias: 1 } },
    ],
    tasks: [...DOMAIN_TASKS, { id: 'fake-ppl', name: 'ppl-ood', limit: 4 }, { id: 'fake-mc', name: 'mc' }],
  };
}

const quiet = (o: SweepOptions): SweepOptions => ({ print: false, quiet: true, workers: 2, ...o });

describe('the report a sweep writes', () => {
  it('ends every sweep with report.html whose cells are the means over seeds of results.csv', async () => {
    const dir = tmp('bam-report-sweep-');
    const out = join(dir, 'out');
    const progress = sink();
    const raw = config(join(dir, 'artifacts'));
    const s = await runSweep(raw, quiet({ outDir: out, progress }));
    expect(s).toMatchObject({ complete: true, total: 36, failed: 0 });
    expect(progress.text).toContain(`report: ${join(out, 'report.html')}`);
    expect(JSON.parse(readFileSync(join(out, SWEEP_CONFIG_FILE), 'utf8'))).toEqual(raw);

    const html = readFileSync(join(out, 'report.html'), 'utf8');
    const csv = readCsv(join(out, 'results.csv'));
    const head = tableById(html, 'table-perplexity')[0].map((c) => c.text);
    expect(head).toEqual(['variant', 'general', 'code', 'law', 'math', 'average', 'out-of-domain']);
    const t1 = tableRecords(html, 'table-perplexity');
    expect([...t1.keys()]).toEqual(['seed', 'bam-full DM', 'bam-full CM']);
    const budgetOf: Record<string, [string, string]> = { seed: ['seed', ''], 'bam-full DM': ['bam-full', 'data-matched'], 'bam-full CM': ['bam-full', 'compute-matched'] };
    for (const [label, [variant, budget]] of Object.entries(budgetOf)) {
      const row = t1.get(label)!;
      const means: number[] = [];
      for (const [header, task] of [['general', 'ppl-general'], ['code', 'ppl-code'], ['law', 'ppl-law'], ['math', 'ppl-math'], ['out-of-domain', 'ppl-ood']]) {
        const seeds = csv.filter((r) => r.variant === variant && r.budget === budget && r.task === task && r.metric === 'token_perplexity');
        expect(seeds.map((r) => r.seed)).toEqual(['0', '1']);
        const mean = (Number(seeds[0].value) + Number(seeds[1].value)) / 2;
        const se = Math.sqrt(Number(seeds[0].stderr) ** 2 + Number(seeds[1].stderr) ** 2) / 2;
        const cell = row.get(header)!;
        expect(Number(cell.attrs['data-value'])).toBeCloseTo(mean, 12);
        expect(Number(cell.attrs['data-stderr'])).toBeCloseTo(se, 12);
        expect(cell.attrs.title).toMatch(/^mean of 2 seeds: /);
        if (header !== 'out-of-domain') means.push(Number(cell.attrs['data-value']));
      }
      expect(Number(row.get('average')!.attrs['data-value'])).toBeCloseTo(means.reduce((a, b) => a + b, 0) / 4, 12);
      // By hand (fake model): Σ logprob −3.0 over 10 tokens, plus −1 per token with bias 1.
      expect(Number(row.get('general')!.attrs['data-value'])).toBeCloseTo(Math.exp(variant === 'seed' ? 0.3 : 1.3), 12);
    }
    // Table 3: the four MC documents give acc 0.75 and acc_norm 0.25 with bias 0 (see the sweep tests).
    const t3 = tableRecords(html, 'table-downstream');
    expect(Number(t3.get('seed')!.get('mc acc')!.attrs['data-value'])).toBe(0.75);
    // 75% ± √(2 · 25%²) / 2 = 17.7 points over two seeds: shown as 75 ± 18.
    expect(t3.get('seed')!.get('mc acc')!.text).toBe('75±18');
    expect(Number(t3.get('seed')!.get('mc acc_norm')!.attrs['data-value'])).toBe(0.25);
    expect(html).toContain('36 jobs planned: 36 ok, 0 failed, 0 pending');
    // The fake names its backend after the worker's setup count: fake-setup-1, and -2 on a second worker.
    expect(html).toMatch(/<dt>backends<\/dt><dd>fake-setup-\d(, fake-setup-\d)?<\/dd>/);
  });

  it('shows pending cells after a sweep stopped early, and failed cells with the error', async () => {
    const dir = tmp('bam-report-sweep-');
    const out = join(dir, 'out');
    const raw = config(join(dir, 'artifacts'));
    // The first four jobs in plan order: seed × ppl-general and ppl-code, both seeds.
    await runSweep(raw, quiet({ outDir: out, progress: false, maxJobs: 4 }));
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    const t1 = tableRecords(html, 'table-perplexity');
    const status = (row: string, col: string): string => t1.get(row)!.get(col)!.attrs['data-status'];
    expect(['general', 'code', 'law', 'math', 'average'].map((c) => status('seed', c))).toEqual(['ok', 'ok', 'pending', 'pending', 'pending']);
    expect(t1.get('seed')!.get('law')!.text).toBe('pending (0/2)');
    expect(status('bam-full CM', 'general')).toBe('pending');
    expect(html).toContain('36 jobs planned: 4 ok, 0 failed, 32 pending');

    const broken = tmp('bam-report-sweep-');
    await runSweep(
      { name: 'broken', seeds: [0], plugins: [FAKE_PLUGINS], artifactsDir: join(broken, 'artifacts'), variants: [{ id: 'fake', name: 'ok' }, { id: 'fake', name: 'broken', options: { mode: 'throw' } }], tasks: DOMAIN_TASKS.slice(0, 2) },
      quiet({ outDir: join(broken, 'out'), progress: false }),
    );
    const b = tableRecords(readFileSync(join(broken, 'out', 'report.html'), 'utf8'), 'table-perplexity');
    expect(b.get('ok')!.get('general')!.attrs['data-status']).toBe('ok');
    for (const col of ['general', 'code', 'average']) {
      expect(b.get('broken')!.get(col)!.attrs['data-status']).toBe('failed');
      expect(b.get('broken')!.get(col)!.attrs.title).toContain('fake variant asked to throw');
    }
  });

  it('warns but still succeeds when the report cannot be written', async () => {
    const dir = tmp('bam-report-sweep-');
    const out = join(dir, 'out');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'training_logs.json'), '["not", "a", "map"]');
    const progress = sink();
    const s = await runSweep(
      { name: 'warn', seeds: [0], plugins: [FAKE_PLUGINS], artifactsDir: join(dir, 'artifacts'), variants: [{ id: 'fake' }], tasks: [{ id: 'fake-mc' }] },
      quiet({ outDir: out, progress }),
    );
    expect(s).toMatchObject({ complete: true, failed: 0, total: 1 });
    expect(progress.text).toMatch(/warning: report\.html not written: .*training_logs\.json must map stage names to JSONL paths/);
    expect(existsSync(join(out, 'report.html'))).toBe(false);
    expect(readCsv(join(out, 'results.csv'))).toHaveLength(2);
  });
});

describe('bam report (spawned CLI)', () => {
  const BAM = join(REPO_ROOT, 'packages', 'cli', 'bin', 'bam.mjs');
  const bam = (...args: string[]) => spawnSync(process.execPath, [BAM, 'report', ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });

  it('writes the report where --out says, prints its path, and shows the --config file', () => {
    const dir = tmp('bam-report-cli-');
    writeFixture(dir);
    const cfg = join(dir, 'my-sweep.json');
    writeFileSync(cfg, JSON.stringify({ name: 'from-cli', seeds: [0, 1, 2] }));
    const out = join(dir, 'sub', 'r.html');
    const r = bam(dir, '--out', out, '--config', cfg);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${out}\n`);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain(`From ${cfg}.`);
    expect(html).toContain('&quot;from-cli&quot;');
    expect(tableRecords(html, 'table-perplexity').get('bam-full DM')!.get('code')!.attrs['data-value']).toBe('3.45');
    // --config shows the file without copying it into the results folder.
    expect(existsSync(join(dir, SWEEP_CONFIG_FILE))).toBe(false);
  });

  it('exits 2 with the reason and a hint for a folder that is not a sweep’s, or for bad arguments', () => {
    const dir = tmp('bam-report-cli-');
    const r = bam(dir);
    expect(r.status).toBe(2);
    // One line: the reason, then the hint after a dash.
    expect(r.stderr.trim()).toBe(`bam report: ${dir} is not a sweep results folder: it has neither results.csv nor sweep.json — pass the folder a sweep wrote (bam sweep --out DIR)`);
    const none = bam();
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('RESULTS_DIR: required');
    const bad = bam(dir, '--colour');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("unknown option '--colour'; options: --out, --config, --artifacts, --metric");
  });
});
