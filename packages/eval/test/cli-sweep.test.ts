import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSweepFile } from '../src/index.ts';
import { FAKE_PLUGINS, REPO_ROOT, csvWithoutDuration, readCsv, tmp, writeJson } from './helpers.ts';

const BAM = join(REPO_ROOT, 'packages', 'cli', 'bin', 'bam.mjs');

function bam(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BAM, ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function lines(path: string): number {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l.startsWith('{') && l.endsWith('}')).length : 0;
}

describe('bam sweep (spawned CLI)', () => {
  it('runs a config, prints the tables and exits 0', () => {
    const dir = tmp();
    const config = writeJson(dir, 'sweep.json', {
      name: 'cli',
      seeds: [0],
      plugins: [FAKE_PLUGINS],
      artifactsDir: './artifacts',
      variants: [{ id: 'fake' }, { id: 'fake', name: 'fake-1', options: { bias: 1 } }],
      tasks: [{ id: 'fake-mc' }],
    });
    const r = bam(['sweep', '--config', config, '--out', join(dir, 'out'), '--workers', '2']);
    expect(r.stderr).toContain('2/2 jobs');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/acc \(higher is better\)\nvariant\s+fake-mc\n-+\s+-+\nfake\s+0\.75 ± 0\.25\nfake-1\s+0\.75 ± 0\.25/);
    expect(readCsv(join(dir, 'out', 'results.csv')).map((row) => `${row.variant} ${row.metric} ${row.value}`)).toEqual([
      'fake acc 0.75', 'fake acc_norm 0.25', 'fake-1 acc 0.75', 'fake-1 acc_norm 0.25',
    ]);
    // the closing lines: the report, the paired comparison's headline, the CSVs, how to rerun one variant
    const out = join(dir, 'out');
    const cfg = config; // outside the repository: printed in full
    expect(r.stdout.trimEnd().split('\n').slice(-4)).toEqual([
      `report:     ${join(out, 'report.html')}  (open it in a browser)`,
      // fake-1's bias lowers every choice's logprob alike: the same answers, so Δ 0 and a McNemar p of 1
      `comparison: acc, on fake-mc (higher is better): best fake-1 0.7500 vs baseline fake 0.7500, 0.0%, Holm p 1.00 — every variant: npx bam compare ${out}`,
      `CSVs:       ${out}/ results.csv, table_acc.csv, compare_acc.csv, table_acc_norm.csv, compare_acc_norm.csv (per-document scores in docs.jsonl)`,
      `rerun one variant: edit its entry in ${cfg} (a failed one needs no edit), then npx bam sweep --config ${cfg} --out ${out} --resume — only failed jobs and jobs whose config changed run again`,
    ]);
  });

  it('exits 2 on a bad config, naming every bad field, and 1 when a job fails', () => {
    const dir = tmp();
    const bad = writeJson(dir, 'bad.json', { name: 'bad', seeds: [], plugins: [FAKE_PLUGINS], variants: [{ id: 'fak' }], tasks: [{ id: 'fake-mc', options: { n: 0 } }] });
    const r = bam(['sweep', '--config', bad, '--out', join(dir, 'out')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('invalid sweep config');
    expect(r.stderr).toMatch(/- seeds: /);
    // The known list also holds whatever built-in plugins bam sweep loads (@bam/plugins), so check
    // the nearest match and that the fixture's ids are listed, not the whole list.
    const unknown = /- variants\.0\.id: unknown variant 'fak'; known variants: ([^;\n]+); did you mean 'fake'\?/.exec(r.stderr);
    expect(unknown, r.stderr).not.toBeNull();
    expect(unknown![1].split(', ')).toEqual(expect.arrayContaining(['fake', 'fake-budget']));
    expect(r.stderr).toMatch(/- tasks\.0\.options\.n: /);
    expect(existsSync(join(dir, 'out'))).toBe(false);

    const args = bam(['sweep', '--workers', 'two']);
    expect(args.status).toBe(2);
    expect(args.stderr).toMatch(/option --config is required[\s\S]*--workers must be a whole number >= 1 written in digits, got 'two'/);

    const failing = writeJson(dir, 'failing.json', { name: 'f', seeds: [0], plugins: [FAKE_PLUGINS], artifactsDir: './a', variants: [{ id: 'fake', options: { mode: 'throw' } }], tasks: [{ id: 'fake-mc' }] });
    const f = bam(['sweep', '--config', failing, '--out', join(dir, 'f-out'), '--quiet']);
    expect(f.status).toBe(1);
    expect(readCsv(join(dir, 'f-out', 'results.csv'))[0]).toMatchObject({ status: 'failed', error: 'fake variant asked to throw' });
  });

  it('resumes after the process is killed mid-sweep and ends with the uninterrupted results', async () => {
    const dir = tmp();
    const config = writeJson(dir, 'sweep.json', {
      name: 'killed',
      seeds: [0, 1, 2, 3, 4, 5],
      plugins: [FAKE_PLUGINS],
      artifactsDir: './artifacts',
      variants: [{ id: 'fake', options: { delayMs: 400 } }],
      tasks: [{ id: 'fake-mc' }],
    });
    const out = join(dir, 'out');
    const child = spawn(process.execPath, [BAM, 'sweep', '--config', config, '--out', out, '--workers', '1', '--quiet'], { cwd: REPO_ROOT, stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_code, signal) => res(signal)));
    const journal = join(out, 'jobs.jsonl');
    const deadline = Date.now() + 90_000;
    while (lines(journal) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const before = lines(journal);
    expect(before).toBeGreaterThanOrEqual(2);
    expect(before).toBeLessThan(6);

    const r = bam(['sweep', '--config', config, '--out', out, '--resume', '--workers', '2']);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`resuming: ${before}/6 jobs already done`);
    expect(lines(journal)).toBe(6);

    const full = join(dir, 'full');
    await runSweepFile(config, { outDir: full, workers: 2, progress: false, print: false, quiet: true });
    expect(csvWithoutDuration(join(out, 'results.csv'))).toBe(csvWithoutDuration(join(full, 'results.csv')));
    expect(readFileSync(join(out, 'docs.jsonl'), 'utf8')).toBe(readFileSync(join(full, 'docs.jsonl'), 'utf8'));
  });
});
