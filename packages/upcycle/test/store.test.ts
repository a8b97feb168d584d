import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { blasStatus } from '@bam/core';
import { ArtifactStore, STAGE_VERSIONS, gcStore, scanStore, stageHash } from '../src/index.ts';
import { tempDir } from './helpers.ts';

const root = tempDir('store');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A fake build: writes a minimal checkpoint directory (manifest + weights) and counts its calls. */
function fakeBuild(counter: { n: number }, value = 'x') {
  return async (dir: string) => {
    counter.n++;
    mkdirSync(join(dir, 'model'), { recursive: true });
    writeFileSync(join(dir, 'model', 'checkpoint.json'), JSON.stringify({ contentHash: `hash-${value}` }));
    writeFileSync(join(dir, 'model', 'model.safetensors'), `weights of ${value}`.repeat(10));
    return { checkpoint: 'model', contentHash: `hash-${value}` };
  };
}

/** A lock record as another process would have written it (see @bam/utils' lock). */
function lockRecord(pid: number, over: Record<string, unknown> = {}): string {
  const now = new Date().toISOString();
  return JSON.stringify({ format: 'bam-lock', host: hostname(), pid, threadId: 0, processStart: null, token: `t${pid}`, acquiredAt: now, heartbeatAt: now, leaseMs: 60_000, ...over });
}

describe('stage hashes', () => {
  it('are equal for equal inputs in any key order and differ when any input or the stage differs', () => {
    const a = stageHash('expert', { domain: 'law', lr: { peak: 1e-3, warmup: 2 }, steps: 10 });
    const b = stageHash('expert', { steps: 10, lr: { warmup: 2, peak: 1e-3 }, domain: 'law' });
    expect(a.hash).toBe(b.hash);
    expect(a.hash).toMatch(/^[0-9a-f]{20}$/);
    expect(stageHash('expert', { domain: 'law', lr: { peak: 1e-3, warmup: 2 }, steps: 11 }).hash).not.toBe(a.hash);
    expect(stageHash('seed', { domain: 'law', lr: { peak: 1e-3, warmup: 2 }, steps: 10 }).hash).not.toBe(a.hash);
    expect(a.key).toEqual({ stage: 'expert', version: STAGE_VERSIONS.expert, inputs: { domain: 'law', lr: { peak: 1e-3, warmup: 2 }, steps: 10 } });
  });
});

describe('the artifact store', () => {
  it('builds once, marks the stage done last, and reuses it afterwards', async () => {
    const store = new ArtifactStore(root);
    const c = { n: 0 };
    const first = await store.run('seed', { a: 1 }, fakeBuild(c));
    expect(first).toMatchObject({ stage: 'seed', reused: false, dir: join(root, 'seed', first.hash), checkpointDir: join(root, 'seed', first.hash, 'model'), result: { contentHash: 'hash-x' } });
    const done = JSON.parse(readFileSync(join(first.dir, 'DONE.json'), 'utf8'));
    expect(done).toMatchObject({ format: 'bam-artifact', stage: 'seed', hash: first.hash, key: { stage: 'seed', inputs: { a: 1 } }, builtWith: blasStatus().config ?? blasStatus().detail });
    expect(JSON.parse(readFileSync(join(first.dir, 'key.json'), 'utf8')).inputs).toEqual({ a: 1 });
    const second = await new ArtifactStore(root).run('seed', { a: 1 }, fakeBuild(c));
    expect(second).toMatchObject({ reused: true, hash: first.hash, elapsedS: 0 });
    expect(c.n).toBe(1);
    expect(existsSync(`${first.dir}.lock`)).toBe(false);
    expect(done.files).toEqual({
      'model/checkpoint.json': { bytes: 24, sha256: sha256(readFileSync(join(first.dir, 'model/checkpoint.json'))) },
      'model/model.safetensors': { bytes: 120, sha256: sha256(readFileSync(join(first.dir, 'model/model.safetensors'))) },
    });
  });

  it('leaves no DONE.json when the build fails, and builds again next time', async () => {
    const store = new ArtifactStore(root);
    await expect(store.run('mix', { b: 1 }, async () => { throw new Error('disk full'); })).rejects.toThrow('disk full');
    const { hash } = stageHash('mix', { b: 1 });
    expect(existsSync(join(root, 'mix', hash, 'DONE.json'))).toBe(false);
    expect(existsSync(join(root, 'mix', `${hash}.lock`))).toBe(false);
    const c = { n: 0 };
    expect((await store.run('mix', { b: 1 }, fakeBuild(c))).reused).toBe(false);
    expect(c.n).toBe(1);
  });

  it('rebuilds an artifact whose checkpoint was deleted', async () => {
    const store = new ArtifactStore(root);
    const c = { n: 0 };
    const first = await store.run('branch', { c: 1 }, fakeBuild(c));
    rmSync(first.checkpointDir, { recursive: true });
    expect((await store.run('branch', { c: 1 }, fakeBuild(c))).reused).toBe(false);
    expect(c.n).toBe(2);
  });

  it('takes over the lock of a dead process', async () => {
    const store = new ArtifactStore(root);
    const { hash } = stageHash('expert', { d: 1 });
    mkdirSync(join(root, 'expert', hash), { recursive: true });
    // pid 2^22 + 1 is above Linux's pid_max default: no such process.
    writeFileSync(join(root, 'expert', `${hash}.lock`), lockRecord(4_194_305));
    const c = { n: 0 };
    const lines: string[] = [];
    expect((await store.run('expert', { d: 1 }, fakeBuild(c), { log: (l) => lines.push(l) })).reused).toBe(false);
    expect(c.n).toBe(1);
    expect(lines).toEqual([expect.stringMatching(/^expert: taking over the lock .*\.lock of pid 4194305 on host .*: pid 4194305 is not running$/)]);
  });

  it('gives up waiting after lockTimeoutMs with an error naming the holder and the lock file to delete', async () => {
    const store = new ArtifactStore(root);
    const { hash } = stageHash('seed', { timeout: 1 });
    mkdirSync(join(root, 'seed'), { recursive: true });
    writeFileSync(join(root, 'seed', `${hash}.lock`), lockRecord(77, { host: 'elsewhere' }));
    const err = await store.run('seed', { timeout: 1 }, fakeBuild({ n: 0 }), { pollMs: 20, lockTimeoutMs: 100 }).catch((e) => e);
    expect(err).toMatchObject({ code: 'E_LOCK_TIMEOUT', hint: `if that process is gone or stuck, delete ${join(root, 'seed', `${hash}.lock`)}` });
    expect(err.message.split('\n')[0]).toMatch(/^seed: gave up after 0s waiting for the lock .*\.lock, held by pid 77 on host elsewhere since /);
  });

  it('waits while a live process holds the lock, then reuses what it built', async () => {
    const store = new ArtifactStore(root);
    const { hash } = stageHash('train-mixture', { e: 1 });
    const dir = join(root, 'train-mixture', hash);
    mkdirSync(dir, { recursive: true });
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)']);
    try {
      writeFileSync(`${dir}.lock`, lockRecord(holder.pid!));
      const lines: string[] = [];
      const c = { n: 0 };
      const waiting = store.run('train-mixture', { e: 1 }, fakeBuild(c), { log: (l) => lines.push(l), pollMs: 50 });
      await new Promise((r) => setTimeout(r, 300));
      expect(c.n).toBe(0);
      expect(lines[0]).toMatch(new RegExp(`^train-mixture: waiting for the lock .*${hash}\\.lock: held by pid ${holder.pid} on host .*; if that process is gone or stuck, delete .*${hash}\\.lock$`));
      // The holder finishes: its output and DONE.json appear, then its lock goes.
      await fakeBuild({ n: 0 }, 'other')(dir);
      const files = Object.fromEntries(['checkpoint.json', 'model.safetensors'].map((f) => [`model/${f}`, { bytes: statSync(join(dir, 'model', f)).size, sha256: sha256(readFileSync(join(dir, 'model', f))) }]));
      writeFileSync(join(dir, 'DONE.json'), JSON.stringify({ format: 'bam-artifact', stage: 'train-mixture', hash, key: stageHash('train-mixture', { e: 1 }).key, result: { checkpoint: 'model', contentHash: 'hash-other' }, files, completedAt: '', elapsedS: 1 }));
      rmSync(`${dir}.lock`);
      const out = await waiting;
      expect(out).toMatchObject({ reused: true, result: { contentHash: 'hash-other' } });
      expect(c.n).toBe(0);
    } finally {
      holder.kill();
    }
  });
});

describe('reusing a finished artifact checks its content against DONE.json', () => {
  const weights = (o: { dir: string }) => join(o.dir, 'model', 'model.safetensors');
  const aside = (stage: string, hash: string) => readdirSync(join(root, stage)).filter((n) => n.startsWith(`${hash}.damaged-`));

  it('moves an artifact with a truncated output file aside (keeping it), says so in one line, and rebuilds it', async () => {
    const store = new ArtifactStore(root);
    const c = { n: 0 };
    const first = await store.run('expert', { f: 1 }, fakeBuild(c));
    truncateSync(weights(first), 50);
    const lines: string[] = [];
    const again = await store.run('expert', { f: 1 }, fakeBuild(c), { log: (l) => lines.push(l) });
    expect(again.reused).toBe(false);
    expect(c.n).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^expert ${first.hash}: finished artifact is damaged \\(model/model\\.safetensors has 50 bytes, DONE\\.json records 120\\); moved aside to .*${first.hash}\\.damaged-\\d{8}T\\d{6}Z, rebuilding$`));
    const [moved] = aside('expert', first.hash);
    expect(statSync(join(root, 'expert', moved, 'model', 'model.safetensors')).size).toBe(50);
    expect(statSync(weights(again)).size).toBe(120);
    expect((await store.run('expert', { f: 1 }, fakeBuild(c))).reused).toBe(true);
  });

  it('catches a whole checkpoint swapped in with self-consistent manifest hashes, by the content hash DONE.json records', async () => {
    const store = new ArtifactStore(root);
    const c = { n: 0 };
    const law = await store.run('expert', { g: 'law' }, fakeBuild(c, 'law'));
    const math = await store.run('expert', { g: 'math' }, fakeBuild(c, 'math'));
    rmSync(law.checkpointDir, { recursive: true });
    cpSync(math.checkpointDir, law.checkpointDir, { recursive: true, preserveTimestamps: true });
    expect(store.check('expert', law.hash)).toEqual({ status: 'damaged', reason: "the checkpoint's content hash hash-math… is not the hash-law… DONE.json records (another checkpoint was put here)" });
    const lines: string[] = [];
    const again = await store.run('expert', { g: 'law' }, fakeBuild(c, 'law'), { log: (l) => lines.push(l) });
    expect(again).toMatchObject({ reused: false, result: { contentHash: 'hash-law' } });
    expect(lines).toHaveLength(1);
  });

  it('hashes a same-size file changed after DONE.json; one whose time was put back is caught by verify only', async () => {
    const store = new ArtifactStore(root);
    const c = { n: 0 };
    const a = await store.run('mix', { h: 1 }, fakeBuild(c));
    const bytes = readFileSync(weights(a));
    bytes[7] ^= 1;
    const before = statSync(weights(a));
    writeFileSync(weights(a), bytes);
    utimesSync(weights(a), before.atime, new Date(Date.now() + 2000));
    expect(store.check('mix', a.hash)).toMatchObject({ status: 'damaged', reason: expect.stringMatching(/^model\/model\.safetensors has sha256 [0-9a-f]{12}…, DONE\.json records [0-9a-f]{12}…$/) });
    // Put back to before DONE.json (a second early: stat's Date rounds to the millisecond, which may be later).
    utimesSync(weights(a), before.atime, new Date(before.mtimeMs - 1000));
    expect(store.check('mix', a.hash)).toMatchObject({ status: 'ok' });
    expect(new ArtifactStore(root, { verify: true }).check('mix', a.hash).status).toBe('damaged');
  });

  it('checks a DONE.json written before files were recorded by hashing its weights against the content hash', async () => {
    const store = new ArtifactStore(root);
    const c = { n: 0 };
    const a = await store.run('branch', { i: 1 }, fakeBuild(c));
    const rec = JSON.parse(readFileSync(join(a.dir, 'DONE.json'), 'utf8'));
    const real = sha256(readFileSync(weights(a)));
    writeFileSync(join(a.checkpointDir, 'checkpoint.json'), JSON.stringify({ contentHash: real }));
    writeFileSync(join(a.dir, 'DONE.json'), JSON.stringify({ ...rec, files: undefined, result: { ...rec.result, contentHash: real } }));
    expect(store.check('branch', a.hash).status).toBe('ok');
    truncateSync(weights(a), 119);
    expect(store.check('branch', a.hash)).toMatchObject({ status: 'damaged', reason: expect.stringMatching(/^model\/model\.safetensors has sha256 /) });
  });
});

describe('scanning and pruning a store', () => {
  it('reports each artifact ok, damaged, unfinished or building, and gc removes only what is dead (dry run first)', async () => {
    const dir = tempDir('store-gc');
    const store = new ArtifactStore(dir);
    const c = { n: 0 };
    const ok = await store.run('seed', { j: 1 }, fakeBuild(c));
    const bad = await store.run('expert', { j: 2 }, fakeBuild(c));
    truncateSync(join(bad.checkpointDir, 'model.safetensors'), 3);
    const unfinished = stageHash('expert', { j: 3 }).hash;
    mkdirSync(join(dir, 'expert', unfinished, 'train'), { recursive: true });
    writeFileSync(join(dir, 'expert', unfinished, 'train', 'log'), 'x'.repeat(100));
    const building = stageHash('mix', { j: 4 }).hash;
    mkdirSync(join(dir, 'mix', building), { recursive: true });
    writeFileSync(join(dir, 'mix', `${building}.lock`), lockRecord(process.pid, { processStart: null }));
    const staleLock = stageHash('branch', { j: 5 }).hash;
    mkdirSync(join(dir, 'branch'), { recursive: true });
    writeFileSync(join(dir, 'branch', `${staleLock}.lock`), lockRecord(4_194_305));
    mkdirSync(join(dir, 'seed', `${ok.hash}.damaged-20260101T000000Z`));
    writeFileSync(join(dir, 'seed', `${ok.hash}.damaged-20260101T000000Z`, 'w'), 'y'.repeat(40));
    const byPath = () => Object.fromEntries(scanStore(dir).map((e) => [e.path, [e.kind, e.status ?? '-', e.removable]]));
    expect(byPath()).toEqual({
      [`branch/${staleLock}.lock`]: ['lock', 'unfinished', true],
      [`expert/${bad.hash}`]: ['artifact', 'damaged', true],
      [`expert/${unfinished}`]: ['artifact', 'unfinished', true],
      [`mix/${building}`]: ['artifact', 'building', false],
      [`mix/${building}.lock`]: ['lock', 'building', false],
      [`seed/${ok.hash}`]: ['artifact', 'ok', false],
      [`seed/${ok.hash}.damaged-20260101T000000Z`]: ['damaged-aside', '-', true],
    });
    const planned = gcStore(dir, { dryRun: true });
    expect(planned.map((e) => e.path).sort()).toEqual([`branch/${staleLock}.lock`, `expert/${bad.hash}`, `expert/${unfinished}`, `seed/${ok.hash}.damaged-20260101T000000Z`].sort());
    expect(planned.find((e) => e.path === `expert/${unfinished}`)!.bytes).toBe(100);
    expect(existsSync(join(dir, 'expert', unfinished))).toBe(true);
    gcStore(dir);
    expect(Object.keys(byPath()).sort()).toEqual([`mix/${building}`, `mix/${building}.lock`, `seed/${ok.hash}`]);
    expect((await store.run('seed', { j: 1 }, fakeBuild(c))).reused).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });
});
