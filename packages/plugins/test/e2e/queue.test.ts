import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseResultsCsv } from '@bam/eval';
import { needs } from '../../../../tools/test/components.ts';
import { freePort, startRedis, type PrivateRedis } from '../../../../tools/test/redis.ts';

/**
 * Queue mode end to end (issue 14): the real CLI — a coordinating `bam sweep --queue` and `bam
 * worker` processes — on a private Redis, with the smoke preset's seed and code expert on a
 * perplexity and a multiple-choice task. Every case's results.csv must equal the local run's
 * (apart from duration_s) with no job journaled twice. The artifacts are built once, by the first
 * case's two workers, and shared by every later case; each case has its own Redis database, so no
 * case finds another's finished jobs.
 */
const hasRedis = await needs('redis');
const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const BAM = join(REPO, 'packages', 'cli', 'bin', 'bam.mjs');
const WORK = mkdtempSync(join(tmpdir(), 'bam-e2e-queue-'));
const ARTIFACTS = join(WORK, 'artifacts');
const CONFIG = join(WORK, 'queue.json');
const FAKE_CONFIG = join(WORK, 'throws.json');
const RUN_TIMEOUT_MS = 120_000;

writeFileSync(
  CONFIG,
  JSON.stringify({
    name: 'queue',
    seeds: [0],
    artifactsDir: ARTIFACTS,
    variants: [
      { id: 'dense', name: 'seed', options: { preset: 'smoke', model: 'seed' } },
      { id: 'dense', name: 'code', options: { preset: 'smoke', model: 'code' } },
    ],
    tasks: [
      { id: 'ppl-general', options: { limit: 4, maxChars: 400 } },
      { id: 'arithmetic', options: { limit: 12 } },
    ],
    bootstrapIters: 100,
  }),
);
writeFileSync(
  FAKE_CONFIG,
  JSON.stringify({
    name: 'throws',
    seeds: [0],
    artifactsDir: ARTIFACTS,
    plugins: [join(REPO, 'packages', 'eval', 'test', 'fixtures', 'fake-plugins.ts')],
    variants: [{ id: 'fake' }, { id: 'fake', name: 'thrower', options: { mode: 'throw' } }],
    tasks: [{ id: 'fake-mc' }],
    bootstrapIters: 10,
  }),
);

/** A running `bam` process: its output so far, a wait for a line, and its exit. */
interface Proc {
  child: ChildProcess;
  out(): string;
  waitFor(re: RegExp): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; seconds: number }>;
}

function bam(args: string[], config = CONFIG): Proc {
  const t0 = performance.now();
  const full = args[0] === 'sweep' ? [...args, '--config', config] : args;
  const child = spawn(process.execPath, [BAM, ...full], { cwd: WORK, env: { ...process.env, BAM_BACKEND: 'wasm' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const waiters: Array<() => void> = [];
  const add = (s: string): void => {
    text += s;
    for (const w of waiters.splice(0)) w();
  };
  child.stdout?.setEncoding('utf8').on('data', add);
  child.stderr?.setEncoding('utf8').on('data', add);
  const killer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; seconds: number }>((res) =>
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      for (const w of waiters.splice(0)) w();
      res({ code, signal, seconds: (performance.now() - t0) / 1000 });
    }),
  );
  const waitFor = async (re: RegExp): Promise<RegExpMatchArray> => {
    for (;;) {
      const m = text.match(re);
      if (m) return m;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`bam ${args[0]} exited before printing ${re}:\n${text.slice(-3000)}`);
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  return { child, out: () => text, waitFor, exited };
}

const worker = (url: string, lease = 2): Proc => bam(['worker', '--queue', url, '--workers', '1', '--lease', String(lease)]);

/** SIGTERM (a graceful stop) to each worker; resolves with their exit codes. */
async function stopWorkers(...ws: Proc[]): Promise<Array<number | null>> {
  for (const w of ws) w.child.kill('SIGTERM');
  return Promise.all(ws.map(async (w) => (await w.exited).code));
}

/** results.csv as rows without duration_s, the one column that differs between runs. */
function results(out: string): string[] {
  return parseResultsCsv(readFileSync(join(out, 'results.csv'), 'utf8')).map(({ duration_s: _d, ...rest }) => JSON.stringify(rest));
}

/** Jobs journaled more than once. */
function duplicates(out: string): number {
  const keys = readFileSync(join(out, 'jobs.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { key: string }).key);
  return keys.length - new Set(keys).size;
}

const count = (text: string, re: RegExp): number => (text.match(new RegExp(re.source, 'g')) ?? []).length;

describe.skipIf(!hasRedis)('queue mode: bam sweep --queue with bam workers on a private Redis', () => {
  let redis: PrivateRedis;
  let localRows: string[] = [];

  beforeAll(async () => {
    mkdirSync(join(WORK, 'redis'));
    redis = await startRedis(join(WORK, 'redis'));
  });
  afterAll(async () => {
    await redis?.stop();
    rmSync(WORK, { recursive: true, force: true });
  });

  it('runs a sweep on two workers to the local run\'s results.csv, building the seed both prepares need once', { timeout: 2 * RUN_TIMEOUT_MS }, async () => {
    const url = redis.url(1);
    const ws = [worker(url), worker(url)];
    const out = join(WORK, 'queue-out');
    const coordinator = bam(['sweep', '--out', out, '--queue', url]);
    const c = await coordinator.exited;
    expect(await stopWorkers(...ws), ws.map((w) => w.out().slice(-1500)).join('\n---\n')).toEqual([0, 0]);
    expect(c.code, coordinator.out().slice(-3000)).toBe(0);
    // Progress: the queue's states with the worker (host:pid) of each running job, and each finished job with its worker and an ETA.
    expect(coordinator.out()).toMatch(/queue: queued \d+ · running [12] \(prepare (seed|code) seed 0 on [^\s:]+:\d+/);
    expect(coordinator.out()).toMatch(/4\/4 jobs · elapsed \d+:\d\d · ETA 0:00 · (seed|code) × \S+ · seed 0 on [^\s:]+:\d+ ok/);
    const logs = ws.map((w) => w.out());
    // Both workers took a prepare, so both needed the seed at once: one built it, the other waited and reused it.
    for (const log of logs) expect(log).toMatch(/\] start prepare (seed|code) seed 0/);
    const all = logs.join('\n');
    expect(count(all, /stage seed: \d+ steps/) - count(all, /seed general: reused /)).toBe(1);
    expect(readdirSync(join(ARTIFACTS, 'seed')).filter((f) => !f.endsWith('.lock'))).toHaveLength(1);
    for (const log of logs) expect(log).toMatch(/stopped \(signal\): \d+ job\(s\) done, 0 failed/);

    const local = await bam(['sweep', '--out', join(WORK, 'local-out'), '--workers', '2']).exited;
    expect(local.code).toBe(0);
    localRows = results(join(WORK, 'local-out'));
    expect(localRows).toHaveLength(2 * (4 + 2)); // ppl-general: 4 metrics; arithmetic: acc, acc_norm
    for (const r of localRows) expect(JSON.parse(r).status).toBe('ok');
    expect(results(out)).toEqual(localRows);
    expect(duplicates(out)).toBe(0);

    // `bam queue status` reads the same queue: 2 prepares and 4 evaluations done, no worker left.
    const status = bam(['queue', 'status', '--queue', url]);
    expect((await status.exited).code).toBe(0);
    expect(status.out()).toContain('queued 0 · running 0 · done 6 · failed 0');
    expect(status.out()).toContain('workers connected: 0');
  });

  it('re-runs the job of a worker killed with -9 on another worker after its lease, to the same results', { timeout: RUN_TIMEOUT_MS }, async () => {
    const url = redis.url(2);
    const out = join(WORK, 'kill-worker-out');
    const a = worker(url);
    const c = bam(['sweep', '--out', out, '--queue', url]);
    const [, label] = await a.waitFor(/\] start ((seed|code) × \S+ · seed 0)/);
    a.child.kill('SIGKILL');
    const b = worker(url);
    expect((await c.exited).code, c.out().slice(-3000)).toBe(0);
    expect(await stopWorkers(b)).toEqual([0]);
    expect(a.out()).not.toContain(`done ${label}`);
    expect(b.out()).toContain(`done ${label}`);
    expect(results(out)).toEqual(localRows);
    expect(duplicates(out)).toBe(0);
  });

  it('resumes a coordinator killed with -9 from its journal and the queue, to the same results', { timeout: RUN_TIMEOUT_MS }, async () => {
    const url = redis.url(3);
    const out = join(WORK, 'kill-coordinator-out');
    const w = worker(url);
    const first = bam(['sweep', '--out', out, '--queue', url]);
    await w.waitFor(/\] done (seed|code) × /);
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const resumed = bam(['sweep', '--out', out, '--queue', url, '--resume']);
    expect((await resumed.exited).code, resumed.out().slice(-3000)).toBe(0);
    expect(await stopWorkers(w)).toEqual([0]);
    expect(results(out)).toEqual(localRows);
    expect(duplicates(out)).toBe(0);
    // Each evaluation ran once: the resumed coordinator took what finished while it was gone from Redis.
    expect(count(w.out(), /\] done (seed|code) × /)).toBe(4);
  });

  it('completes a sweep across a Redis restart (append-only persistence) with nothing lost or run twice', { timeout: RUN_TIMEOUT_MS }, async () => {
    const url = redis.url(4);
    const out = join(WORK, 'redis-restart-out');
    const w = worker(url, 10);
    const c = bam(['sweep', '--out', out, '--queue', url]);
    await w.waitFor(/\] start (seed|code) × /);
    await redis.restart();
    expect((await c.exited).code, c.out().slice(-3000)).toBe(0);
    expect(await stopWorkers(w)).toEqual([0]);
    expect(results(out)).toEqual(localRows);
    expect(duplicates(out)).toBe(0);
    expect(count(w.out(), /\] done (seed|code) × /)).toBe(4);
  });

  it('records a job that always throws as a failed row after its attempts, the others ok', { timeout: RUN_TIMEOUT_MS }, async () => {
    const url = redis.url(5);
    const out = join(WORK, 'throws-out');
    const w = worker(url);
    const c = bam(['sweep', '--out', out, '--queue', url, '--attempts', '2'], FAKE_CONFIG);
    expect((await c.exited).code, c.out().slice(-3000)).toBe(1);
    expect(await stopWorkers(w)).toEqual([0]);
    expect(count(w.out(), /attempt failed, retrying later: thrower × fake-mc · seed 0: fake variant asked to throw/)).toBe(1);
    expect(count(w.out(), /FAILED thrower × fake-mc · seed 0: fake variant asked to throw/)).toBe(1);
    const rows = parseResultsCsv(readFileSync(join(out, 'results.csv'), 'utf8'));
    expect(rows.map((r) => [r.variant, r.metric, r.status, r.error, r.value])).toEqual([
      ['fake', 'acc', 'ok', '', 0.75],
      ['fake', 'acc_norm', 'ok', '', 0.25],
      ['thrower', 'acc', 'failed', 'fake variant asked to throw', null],
      ['thrower', 'acc_norm', 'failed', 'fake variant asked to throw', null],
    ]);
  });

  it('stops a worker after --max-jobs, lets a worker stopped by SIGTERM finish its running job, and ends an idle one after --idle-exit', { timeout: RUN_TIMEOUT_MS }, async () => {
    const url = redis.url(6);
    const out = join(WORK, 'batch-out');
    // Six evaluations of one second each — three seeds, the task in two shards, which reach the
    // queue as plain jobs — and a prepare per seed, so a job is running when SIGTERM comes.
    const cfg = join(WORK, 'batch.json');
    writeFileSync(
      cfg,
      JSON.stringify({ ...JSON.parse(readFileSync(FAKE_CONFIG, 'utf8')), name: 'batch', seeds: [0, 1, 2], variants: [{ id: 'fake', options: { delayMs: 1000 } }], tasks: [{ id: 'fake-mc', shards: 2 }] }),
    );
    const c = bam(['sweep', '--out', out, '--queue', url], cfg);
    const a = bam(['worker', '--queue', url, '--workers', '1', '--max-jobs', '1']);
    expect((await a.exited).code).toBe(0);
    expect(a.out()).toMatch(/stopped \(max-jobs\): 1 job\(s\) done, 0 failed/);

    const b = bam(['worker', '--queue', url, '--workers', '1']);
    const [, label] = await b.waitFor(/\] start (fake × fake-mc · seed \d)/);
    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
    // The running job finished after the signal, and no other job was taken.
    expect(b.out().indexOf(`done ${label}`)).toBeGreaterThan(b.out().indexOf('stopping (signal)'));
    expect(count(b.out(), /\] start fake × /)).toBe(1);

    const idle = bam(['worker', '--queue', url, '--workers', '1', '--idle-exit', '2']);
    expect((await c.exited).code, c.out().slice(-3000)).toBe(0);
    const stopped = await idle.exited;
    expect(stopped.code).toBe(0);
    expect(idle.out()).toMatch(/stopped \(idle\): \d+ job\(s\) done, 0 failed/);
    // The shards' scores merged: the unsharded values (fake-mc's hand-computed acc 3/4, acc_norm 1/4).
    expect(count(c.out(), /· shard [12]\/2 on [^\s:]+:\d+ ok/)).toBe(6);
    const rows = parseResultsCsv(readFileSync(join(out, 'results.csv'), 'utf8'));
    expect(rows.map((r) => [r.seed, r.metric, r.status, r.value])).toEqual([
      [0, 'acc', 'ok', 0.75],
      [1, 'acc', 'ok', 0.75],
      [2, 'acc', 'ok', 0.75],
      [0, 'acc_norm', 'ok', 0.25],
      [1, 'acc_norm', 'ok', 0.25],
      [2, 'acc_norm', 'ok', 0.25],
    ]);
    expect(duplicates(out)).toBe(0);
  });

  it('refuses a wrong or unreachable queue URL within seconds, with a one-line error', { timeout: RUN_TIMEOUT_MS }, async () => {
    const closed = `redis://127.0.0.1:${await freePort()}/0`;
    const cases: Array<[string[], RegExp]> = [
      [['sweep', '--out', join(WORK, 'never-out'), '--queue', closed], /bam sweep: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+\/0: .*ECONNREFUSED.* — start it/],
      [['worker', '--queue', closed], /bam worker: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+\/0: .*ECONNREFUSED/],
      [['queue', 'status', '--queue', 'http://127.0.0.1:6379'], /bam queue: --queue 'http:\/\/127\.0\.0\.1:6379': the scheme must be redis:\/\/ or rediss:\/\/, not http:\/\//],
      [['queue', 'status', '--queue', 'redis://127.0.0.1:6379/x'], /the database 'x' is not a number/],
    ];
    // The four run at once: each is mostly bam's own start.
    const runs = cases.map(([args]) => bam(args));
    const exits = await Promise.all(runs.map((p) => p.exited));
    for (const [i, [, re]] of cases.entries()) {
      const [p, r] = [runs[i], exits[i]];
      expect(r.code, p.out()).toBe(2);
      expect(p.out()).toMatch(re);
      expect(p.out()).not.toMatch(/\n\s+at /); // no stack trace
      expect(r.seconds).toBeLessThan(20); // includes bam's own start, four at once on a loaded machine
    }
    expect(existsSync(join(WORK, 'never-out'))).toBe(false);
  });
});
