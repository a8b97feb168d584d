import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireLock, inspectLock, processStartTime, tryAcquireLock, LockTimeoutError, type LockHolder } from '../src/index.ts';

const root = mkdtempSync(join(tmpdir(), 'bam-lock-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const lockFile = () => join(root, `L${n++}`);

/** A lock record as another holder would have written it. */
function foreign(over: Partial<LockHolder>): string {
  const now = new Date().toISOString();
  const h: LockHolder = { format: 'bam-lock', host: hostname(), pid: process.pid, threadId: 0, processStart: null, pidNamespace: readlinkSync('/proc/self/ns/pid'), token: 'f0f0f0f0', acquiredAt: now, heartbeatAt: now, leaseMs: 60_000, ...over };
  return JSON.stringify(h);
}

const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

describe('processStartTime', () => {
  it('reads this process start time as <boot id>:<ticks>, the same on every call, and null for a pid that does not exist', () => {
    const mine = processStartTime(process.pid);
    expect(mine).toMatch(/^[0-9a-f-]{36}:\d+$/);
    expect(processStartTime(process.pid)).toBe(mine);
    expect(processStartTime(4_194_305)).toBeNull();
    expect(processStartTime(1)).not.toBe(mine);
  });
});

describe('taking and releasing a lock', () => {
  it('records host, pid and start time, refuses a second taker while held, and frees the file on release', () => {
    const file = lockFile();
    const a = tryAcquireLock(file, { purpose: 'test' })!;
    expect(a).toBeDefined();
    const rec = JSON.parse(readFileSync(file, 'utf8')) as LockHolder;
    expect(rec).toMatchObject({ format: 'bam-lock', host: hostname(), pid: process.pid, processStart: processStartTime(process.pid), purpose: 'test', token: a.holder.token });
    expect(tryAcquireLock(file)).toBeUndefined();
    a.release();
    expect(existsSync(file)).toBe(false);
    a.release();
    const b = tryAcquireLock(file)!;
    expect(b.holder.token).not.toBe(a.holder.token);
    b.release();
  });

  it('renews its heartbeat, and notices when another process broke the lock (release then leaves the new lock alone)', async () => {
    const file = lockFile();
    const a = tryAcquireLock(file, { leaseMs: 200 })!;
    const first = a.holder.heartbeatAt;
    await new Promise((r) => setTimeout(r, 160));
    const renewed = JSON.parse(readFileSync(file, 'utf8')) as LockHolder;
    expect(Date.parse(renewed.heartbeatAt)).toBeGreaterThan(Date.parse(first));
    writeFileSync(file, foreign({ token: 'another' }));
    await new Promise((r) => setTimeout(r, 120));
    expect(a.lost).toBe(true);
    a.release();
    expect(JSON.parse(readFileSync(file, 'utf8')).token).toBe('another');
    rmSync(file);
  });

  it('lets exactly one of four racing processes take the lock', async () => {
    const file = lockFile();
    const lockModule = new URL('../src/lock.ts', import.meta.url).pathname;
    const start = Date.now() + 2500; // every child spins until then, so they race
    const script = `
      import { tryAcquireLock } from ${JSON.stringify(lockModule)};
      while (Date.now() < ${start}) {}
      const l = tryAcquireLock(${JSON.stringify(file)});
      console.log(l ? 'won' : 'lost');
      setTimeout(() => l?.release(), 4000);`;
    const runs = Array.from({ length: 4 }, () =>
      new Promise<string>((res, rej) => {
        const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        p.stdout.on('data', (d) => (out += d));
        p.on('error', rej);
        p.on('exit', () => res(out.trim()));
      }),
    );
    const results = await Promise.all(runs);
    expect(results.filter((r) => r === 'won')).toHaveLength(1);
    expect(results.filter((r) => r === 'lost')).toHaveLength(3);
    expect(existsSync(file)).toBe(false);
  });
});

describe('stale locks', () => {
  it('takes over the lock of a dead pid on this host, with one line saying why', async () => {
    const file = lockFile();
    writeFileSync(file, foreign({ pid: 4_194_305 }));
    const lines: string[] = [];
    const l = await acquireLock(file, { log: (s) => lines.push(s), timeoutMs: 2000 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^taking over the lock ${file} of pid 4194305 on host ${hostname()} since \\S+: pid 4194305 is not running$`));
    l.release();
  });

  it('takes over a lock naming a recycled pid (pid 1, which started at another time)', async () => {
    const file = lockFile();
    writeFileSync(file, foreign({ pid: 1, processStart: `${processStartTime(process.pid)!.split(':')[0]}:1` }));
    const lines: string[] = [];
    const l = await acquireLock(file, { log: (s) => lines.push(s), timeoutMs: 2000 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/of pid 1 on host .*: pid 1 now belongs to another process \(started at another time\)$/);
    expect(l.holder.pid).toBe(process.pid);
    l.release();
  });

  it('takes over the lock of another host whose heartbeat is older than its lease', async () => {
    const file = lockFile();
    writeFileSync(file, foreign({ host: 'elsewhere', pid: 77, heartbeatAt: ago(90_000), leaseMs: 60_000 }));
    const lines: string[] = [];
    const l = await acquireLock(file, { log: (s) => lines.push(s), timeoutMs: 2000 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/of pid 77 on host elsewhere since .*: no heartbeat for 90s \(lease 60s\)$/);
    l.release();
  });

  it('waits for another host whose heartbeat is fresh, saying who holds it and how to break it, until the timeout', async () => {
    const file = lockFile();
    const acquiredAt = ago(5000);
    writeFileSync(file, foreign({ host: 'elsewhere', pid: 77, acquiredAt, heartbeatAt: ago(1000), purpose: 'building expert/abc' }));
    const lines: string[] = [];
    const t0 = Date.now();
    const err = await acquireLock(file, { log: (s) => lines.push(s), pollMs: 50, timeoutMs: 400, breakHint: 'or run bam store gc' }).catch((e) => e);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect(err.message).toMatch(new RegExp(`waiting for the lock ${file}, held by pid 77 on host elsewhere since ${acquiredAt}`));
    expect(err.hint).toBe(`if that process is gone or stuck, delete ${file} (or run bam store gc)`);
    expect(lines).toEqual([`waiting for the lock ${file}: held by pid 77 on host elsewhere since ${acquiredAt} (building expert/abc); if that process is gone or stuck, delete ${file} (or run bam store gc)`]);
    expect(JSON.parse(readFileSync(file, 'utf8')).token).toBe('f0f0f0f0');
  });

  it('does not judge a pid of another pid namespace under the same hostname (another container): its fresh heartbeat is waited for', () => {
    const file = lockFile();
    writeFileSync(file, foreign({ pid: 4_194_305, pidNamespace: 'pid:[1]' }));
    expect(inspectLock(file)).toMatchObject({ state: 'held' });
    expect(tryAcquireLock(file)).toBeUndefined();
    writeFileSync(file, foreign({ pid: 4_194_305, pidNamespace: 'pid:[1]', heartbeatAt: ago(61_000) }));
    expect(inspectLock(file)).toMatchObject({ state: 'stale', reason: 'no heartbeat for 61s (lease 60s)' });
  });

  it('waits for a live holder on this host, then takes the lock once it is released', async () => {
    const file = lockFile();
    const holder = tryAcquireLock(file)!;
    const lines: string[] = [];
    const waiting = acquireLock(file, { log: (s) => lines.push(s), pollMs: 30 });
    await new Promise((r) => setTimeout(r, 150));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`held by pid ${process.pid} on host `));
    holder.release();
    const l = await waiting;
    expect(l.holder.token).not.toBe(holder.holder.token);
    l.release();
  });

  it('takes over a half-written lock file once it is older than the lease, and waits on a fresh one', async () => {
    const file = lockFile();
    writeFileSync(file, '{"format":"bam-lock","host":"h');
    expect(inspectLock(file, 60_000)).toMatchObject({ state: 'unreadable' });
    expect(tryAcquireLock(file)).toBeUndefined();
    const old = (Date.now() - 120_000) / 1000;
    utimesSync(file, old, old);
    const lines: string[] = [];
    const l = await acquireLock(file, { log: (s) => lines.push(s), timeoutMs: 2000 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^taking over the lock .*: the lock file is not a readable bam lock \(30 bytes, unchanged for 120s\)$/);
    l.release();
  });
});
