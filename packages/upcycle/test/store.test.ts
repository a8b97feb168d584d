import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ArtifactStore, STAGE_VERSIONS, stageHash } from '../src/index.ts';
import { tempDir } from './helpers.ts';

const root = tempDir('store');
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A fake build: writes a minimal checkpoint directory and counts its calls. */
function fakeBuild(counter: { n: number }, value = 'x') {
  return async (dir: string) => {
    counter.n++;
    mkdirSync(join(dir, 'model'), { recursive: true });
    writeFileSync(join(dir, 'model', 'checkpoint.json'), JSON.stringify({ value }));
    return { checkpoint: 'model', contentHash: `hash-${value}` };
  };
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
    expect(done).toMatchObject({ format: 'bam-artifact', stage: 'seed', hash: first.hash, key: { stage: 'seed', inputs: { a: 1 } } });
    expect(JSON.parse(readFileSync(join(first.dir, 'key.json'), 'utf8')).inputs).toEqual({ a: 1 });
    const second = await new ArtifactStore(root).run('seed', { a: 1 }, fakeBuild(c));
    expect(second).toMatchObject({ reused: true, hash: first.hash, elapsedS: 0 });
    expect(c.n).toBe(1);
    expect(existsSync(join(first.dir, 'LOCK'))).toBe(false);
  });

  it('leaves no DONE.json when the build fails, and builds again next time', async () => {
    const store = new ArtifactStore(root);
    await expect(store.run('mix', { b: 1 }, async () => { throw new Error('disk full'); })).rejects.toThrow('disk full');
    const { hash } = stageHash('mix', { b: 1 });
    expect(existsSync(join(root, 'mix', hash, 'DONE.json'))).toBe(false);
    expect(existsSync(join(root, 'mix', hash, 'LOCK'))).toBe(false);
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
    writeFileSync(join(root, 'expert', hash, 'LOCK'), JSON.stringify({ pid: 4_194_305, threadId: 0, host: (await import('node:os')).hostname(), startedAt: Date.now() }));
    const c = { n: 0 };
    expect((await store.run('expert', { d: 1 }, fakeBuild(c))).reused).toBe(false);
    expect(c.n).toBe(1);
  });

  it('waits while a live process holds the lock, then reuses what it built', async () => {
    const store = new ArtifactStore(root);
    const { hash } = stageHash('train-mixture', { e: 1 });
    const dir = join(root, 'train-mixture', hash);
    mkdirSync(dir, { recursive: true });
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)']);
    try {
      writeFileSync(join(dir, 'LOCK'), JSON.stringify({ pid: holder.pid, threadId: 0, host: (await import('node:os')).hostname(), startedAt: Date.now() }));
      const lines: string[] = [];
      const c = { n: 0 };
      const waiting = store.run('train-mixture', { e: 1 }, fakeBuild(c), { log: (l) => lines.push(l), pollMs: 50 });
      await new Promise((r) => setTimeout(r, 300));
      expect(c.n).toBe(0);
      expect(lines[0]).toMatch(new RegExp(`waiting for .*${hash} \\(being built by pid ${holder.pid}\\)`));
      // The holder finishes: its output and DONE.json appear, then its lock goes.
      await fakeBuild({ n: 0 }, 'other')(dir);
      writeFileSync(join(dir, 'DONE.json'), JSON.stringify({ format: 'bam-artifact', stage: 'train-mixture', hash, key: stageHash('train-mixture', { e: 1 }).key, result: { checkpoint: 'model', contentHash: 'hash-other' }, completedAt: '', elapsedS: 1 }));
      rmSync(join(dir, 'LOCK'));
      const out = await waiting;
      expect(out).toMatchObject({ reused: true, result: { contentHash: 'hash-other' } });
      expect(c.n).toBe(0);
    } finally {
      holder.kill();
    }
  });
});
