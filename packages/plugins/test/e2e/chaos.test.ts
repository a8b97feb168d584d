import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseResultsCsv } from '@bam/eval';
import { mulberry32 } from '@bam/utils';

/**
 * Chaos: the real CLI on the smallest real sweep that prepares and evaluates (the smoke preset's
 * dense seed, whose prepare trains the seed and its experts from nothing, on a perplexity and a
 * multiple-choice task), broken in the ways issue 19 lists. After each break the sweep is resumed,
 * and the resumed results.csv must equal the uninterrupted run's (apart from duration_s) with no
 * job journaled twice:
 * - kill -9 at three seeded random moments of a run (prepare or evaluation);
 * - stale locks (dead pid, recycled pid, another host's expired lease, a half-written file) on the
 *   results folder, and on the artifact store's stages (`<hash>.lock`);
 * - a finished artifact truncated, or one byte of it flipped (the store moves it aside and
 *   rebuilds the same bytes);
 * - two sweeps started on one folder at once.
 * About 2-3 minutes on 2 cores; every run is bounded by RUN_TIMEOUT_MS.
 */
const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const BAM = join(REPO, 'packages', 'cli', 'bin', 'bam.mjs');
const WORK = mkdtempSync(join(tmpdir(), 'bam-e2e-chaos-'));
const CONFIG = join(WORK, 'chaos.json');
const RUN_TIMEOUT_MS = 240_000;
afterAll(() => rmSync(WORK, { recursive: true, force: true }));

writeFileSync(
  CONFIG,
  JSON.stringify({
    name: 'chaos',
    seeds: [0],
    variants: [{ id: 'dense', name: 'seed', options: { preset: 'smoke', model: 'seed' } }],
    tasks: [
      { id: 'ppl-general', options: { limit: 4, maxChars: 400 } },
      { id: 'arithmetic', options: { limit: 12 } },
    ],
    bootstrapIters: 100,
  }),
);

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  seconds: number;
}

/**
 * Starts `bam sweep` on `out`, with its artifacts in `artifacts` (the CLI's default, `./artifacts`
 * under its working folder, which is `artifacts`' parent); `killAfterMs` sends SIGKILL that long
 * after the start.
 */
function sweep(out: string, artifacts: string, extra: string[] = [], killAfterMs?: number): Promise<Run> {
  const t0 = performance.now();
  if (basename(artifacts) !== 'artifacts') throw new Error(`${artifacts}: the artifacts folder must be named 'artifacts'`);
  mkdirSync(dirname(artifacts), { recursive: true });
  const child = spawn(process.execPath, [BAM, 'sweep', '--config', CONFIG, '--out', out, '--workers', '2', ...extra], {
    cwd: dirname(artifacts),
    env: { ...process.env, BAM_BACKEND: 'wasm' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const timers = [setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS)];
  if (killAfterMs !== undefined) timers.push(setTimeout(() => child.kill('SIGKILL'), killAfterMs));
  return new Promise((resolvePromise) => {
    child.on('exit', (code, signal) => {
      for (const t of timers) clearTimeout(t);
      resolvePromise({ code, signal, stderr, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

/** results.csv as rows without duration_s, the one column that differs between runs. */
function results(out: string): string[] {
  return parseResultsCsv(readFileSync(join(out, 'results.csv'), 'utf8')).map(({ duration_s: _d, ...rest }) => JSON.stringify(rest));
}

/** Journal lines per job key: a job that ran twice has two. */
function journalCounts(out: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of readFileSync(join(out, 'jobs.jsonl'), 'utf8').split('\n').filter(Boolean)) {
    const key = (JSON.parse(line) as { key: string }).key;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Jobs journaled more than once. */
function duplicates(out: string): number {
  return [...journalCounts(out).values()].reduce((n, c) => n + c - 1, 0);
}

/** `<stage>/<hash>` of every finished artifact under `artifacts`. */
function finishedArtifacts(artifacts: string): string[] {
  const out: string[] = [];
  for (const stage of readdirSync(artifacts)) {
    if (!statSync(join(artifacts, stage)).isDirectory()) continue;
    for (const hash of readdirSync(join(artifacts, stage))) if (existsSync(join(artifacts, stage, hash, 'DONE.json'))) out.push(`${stage}/${hash}`);
  }
  return out.sort();
}

/** The four stale locks issue 19 names, as lock files: each holder is gone, each in another way. */
function staleLocks(): Record<string, { text: string; ageS: number }> {
  const beat = (ageS: number): string => new Date(Date.now() - ageS * 1000).toISOString();
  const lock = (o: Record<string, unknown>, ageS = 0): string =>
    JSON.stringify({ format: 'bam-lock', host: hostname(), threadId: 0, token: Math.random().toString(16).slice(2), acquiredAt: beat(ageS), heartbeatAt: beat(ageS), leaseMs: 60_000, ...o });
  return {
    // pid 2^22 + 1 is above Linux's pid_max: no process has it.
    'dead pid': { text: lock({ pid: 4_194_305, processStart: null }), ageS: 0 },
    // pid 1 is alive, but it is not the process that took the lock (another start time).
    'recycled pid': { text: lock({ pid: 1, processStart: 'another-boot:1' }), ageS: 0 },
    'other host': { text: lock({ host: 'elsewhere.example', pid: 4242, processStart: null }, 600), ageS: 600 },
    // A crash in the middle of writing: not JSON, and unchanged for longer than a lease.
    'half-written': { text: '{"format":"bam-lock","host":"', ageS: 120 },
  };
}

function plant(file: string, lock: { text: string; ageS: number }): void {
  writeFileSync(file, lock.text);
  const t = new Date(Date.now() - lock.ageS * 1000);
  utimesSync(file, t, t);
}

describe('chaos: a smoke-sized sweep broken and resumed (bam sweep, 2 workers)', () => {
  const baseOut = join(WORK, 'base-out');
  const baseArtifacts = join(WORK, 'base', 'artifacts');
  let base: Run;
  let baseRows: string[] = [];

  beforeAll(async () => {
    base = await sweep(baseOut, baseArtifacts);
    baseRows = existsSync(join(baseOut, 'results.csv')) ? results(baseOut) : [];
  }, RUN_TIMEOUT_MS);

  it('runs uninterrupted: 2 jobs, 6 ok rows, the seed and its experts built', () => {
    expect(base.code, base.stderr.slice(-3000)).toBe(0);
    expect(baseRows).toHaveLength(4 + 2); // ppl-general: 4 metrics; arithmetic: acc, acc_norm
    for (const r of baseRows) expect(JSON.parse(r).status).toBe('ok');
    expect(finishedArtifacts(baseArtifacts).length).toBeGreaterThanOrEqual(3);
    expect([...journalCounts(baseOut).values()]).toEqual([1, 1]);
  });

  it('resumes after kill -9 at three seeded random moments to the same results, no job run twice', { timeout: 3 * 2 * RUN_TIMEOUT_MS }, async () => {
    const rng = mulberry32(19);
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) {
      // A moment between 5% and 95% of the uninterrupted run (prepare is most of it).
      const at = Math.round((0.05 + 0.9 * rng()) * base.seconds * 1000);
      const out = join(WORK, `kill-${i}-out`);
      const artifacts = join(WORK, `kill-${i}`, 'artifacts');
      const killed = await sweep(out, artifacts, [], at);
      const resumed = await sweep(out, artifacts, ['--resume']);
      expect(resumed.code, `kill at ${at} ms, then resume: ${resumed.stderr.slice(-3000)}`).toBe(0);
      expect(results(out), `kill at ${at} ms`).toEqual(baseRows);
      expect(duplicates(out), `kill at ${at} ms`).toBe(0);
      outcomes.push(`${at} ms: ${killed.signal ?? `exit ${killed.code}`}`);
      rmSync(artifacts, { recursive: true, force: true });
    }
    // At least one of the moments really interrupted the run (the others may have hit its end).
    expect(outcomes.filter((o) => o.includes('SIGKILL')).length, outcomes.join('; ')).toBeGreaterThanOrEqual(1);
  });

  for (const [kind, lock] of Object.entries(staleLocks())) {
    it(`takes over a stale lock on the results folder (${kind}) and resumes to the same results`, { timeout: RUN_TIMEOUT_MS }, async () => {
      const out = join(WORK, `folder-lock-${kind.replace(/ /g, '-')}`);
      cpSync(baseOut, out, { recursive: true });
      plant(join(out, 'sweep.lock'), lock);
      const r = await sweep(out, baseArtifacts, ['--resume']);
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      expect(r.stderr).toContain(`taking over the lock ${join(out, 'sweep.lock')}`);
      expect(results(out)).toEqual(baseRows);
      expect(duplicates(out)).toBe(0);
    });
  }

  it('lets one of two sweeps started on one folder run, refuses the other naming its holder, and with --wait the second finds all done', { timeout: 2 * RUN_TIMEOUT_MS }, async () => {
    const out = join(WORK, 'two-out');
    const [a, b] = await Promise.all([sweep(out, baseArtifacts), sweep(out, baseArtifacts)]);
    const codes = [a.code, b.code].sort();
    expect(codes, `${a.stderr.slice(-1500)}\n---\n${b.stderr.slice(-1500)}`).toEqual([0, 2]);
    expect((a.code === 2 ? a : b).stderr).toMatch(new RegExp(`${out}( is in use by another sweep \\(pid \\d+ on host|: it already holds a sweep)`));
    expect(results(out)).toEqual(baseRows);
    expect(duplicates(out)).toBe(0);

    const waitOut = join(WORK, 'wait-out');
    const first = sweep(waitOut, baseArtifacts);
    for (let t = 0; !existsSync(join(waitOut, 'sweep.lock')) && t < 600; t++) await new Promise((r) => setTimeout(r, 100));
    const second = await sweep(waitOut, baseArtifacts, ['--resume', '--wait']);
    expect((await first).code).toBe(0);
    expect(second.code, second.stderr.slice(-3000)).toBe(0);
    expect(second.stderr).toContain('resuming: 2/2 jobs already done');
    expect(results(waitOut)).toEqual(baseRows);
    expect(duplicates(waitOut)).toBe(0);
  });

  it('takes over stale build locks on four stages of the artifact store (one of each kind) and builds the same artifacts', { timeout: RUN_TIMEOUT_MS }, async () => {
    const stages = finishedArtifacts(baseArtifacts);
    const locks = Object.entries(staleLocks());
    expect(stages.length).toBeGreaterThanOrEqual(locks.length);
    const artifacts = join(WORK, 'store-lock', 'artifacts');
    locks.forEach(([, lock], i) => {
      const [stage, hash] = stages[i].split('/');
      mkdirSync(join(artifacts, stage), { recursive: true });
      plant(join(artifacts, stage, `${hash}.lock`), lock);
    });
    const out = join(WORK, 'store-lock-out');
    const r = await sweep(out, artifacts);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    for (let i = 0; i < locks.length; i++) expect(r.stderr).toContain(`taking over the lock ${join(artifacts, stages[i])}.lock`);
    expect(finishedArtifacts(artifacts)).toEqual(stages);
    expect(results(out)).toEqual(baseRows);
    expect(duplicates(out)).toBe(0);
  });

  for (const damage of ['truncated', 'one byte flipped'] as const) {
    it(`moves a finished artifact with its weights ${damage} aside, rebuilds it, and gives the same results`, { timeout: RUN_TIMEOUT_MS }, async () => {
      const artifacts = join(WORK, `damaged-${damage.replace(/ /g, '-')}`, 'artifacts');
      cpSync(baseArtifacts, artifacts, { recursive: true });
      const seed = finishedArtifacts(artifacts).find((a) => a.startsWith('seed/')) as string;
      const weights = join(artifacts, seed, 'model', 'model.safetensors');
      const size = statSync(weights).size;
      if (damage === 'truncated') truncateSync(weights, Math.floor(size / 2));
      else {
        const bytes = readFileSync(weights);
        bytes[size - 7] ^= 0x40;
        writeFileSync(weights, bytes);
      }
      const out = join(WORK, `damaged-${damage.replace(/ /g, '-')}-out`);
      const r = await sweep(out, artifacts);
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      const [stage, hash] = seed.split('/');
      expect(readdirSync(join(artifacts, stage)).filter((f) => f.startsWith(`${hash}.damaged-`))).toHaveLength(1);
      expect(readFileSync(weights)).toEqual(readFileSync(join(baseArtifacts, seed, 'model', 'model.safetensors')));
      expect(results(out)).toEqual(baseRows);
      expect(duplicates(out)).toBe(0);
    });
  }
});
