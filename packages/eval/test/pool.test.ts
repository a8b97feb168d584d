import { threadId as mainThreadId } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { WorkerPool, type WorkerJob, type WorkerReply } from '../src/index.ts';
import { FAKE_PLUGINS, tmp } from './helpers.ts';

const artifactsDir = tmp();
const job = (variant: Record<string, unknown>, seed = 0): WorkerJob => ({
  kind: 'evaluate',
  variant: { id: 'fake', options: variant },
  task: { id: 'fake-mc', options: {} },
  seed,
  artifactsDir,
});
const HAND = [
  { acc: 1, acc_norm: 1 },
  { acc: 1, acc_norm: 0 },
  { acc: 1, acc_norm: 0 },
  { acc: 0, acc_norm: 0 },
];

describe('worker pool', () => {
  const pool = new WorkerPool({ workers: 2, pluginSpecs: [FAKE_PLUGINS], quiet: true });
  afterAll(() => pool.destroy());

  it('runs two jobs at once in two different worker threads', async () => {
    // each job waits until the other has started, so they cannot share a thread
    const meetDir = tmp();
    const [a, b] = await Promise.all([
      pool.run(job({ meetDir, meetAs: 'a', meetWith: 'b' })),
      pool.run(job({ meetDir, meetAs: 'b', meetWith: 'a' }, 1)),
    ]);
    expect(a.ok && b.ok).toBe(true);
    expect(a.threadId).not.toBe(b.threadId);
    expect([a.threadId, b.threadId]).not.toContain(mainThreadId);
    expect(a.ok && a.docs).toEqual(HAND);
    expect(b.ok && b.model).toEqual({ name: 'fake', backend: 'fake-setup-1', configHash: '' });
  });

  it('turns a throwing job and a worker that calls process.exit into error replies and keeps going', async () => {
    const [thrown, died, fine] = await Promise.all([
      pool.run(job({ mode: 'throw' })),
      pool.run(job({ mode: 'exit' })),
      pool.run(job({ delayMs: 50 })),
    ]);
    expect(thrown.ok).toBe(false);
    expect(!thrown.ok && thrown.error.message).toBe('fake variant asked to throw');
    expect(died.ok).toBe(false);
    expect(!died.ok && died.error.message).toMatch(/^worker died: .*code: 7/);
    expect(fine.ok && fine.docs).toEqual(HAND);
    const after: WorkerReply = await pool.run(job({}));
    expect(after.ok && after.docs).toEqual(HAND); // the pool replaced the dead worker
  });

  it('runs a variant’s setup once per worker however many jobs it runs', async () => {
    const one = new WorkerPool({ workers: 1, pluginSpecs: [FAKE_PLUGINS], quiet: true });
    try {
      const replies = [await one.run(job({})), await one.run(job({}, 1)), await one.run(job({ bias: 1 }))];
      expect(replies.map((r) => r.ok && r.model?.backend)).toEqual(['fake-setup-1', 'fake-setup-1', 'fake-setup-1']);
      expect(new Set(replies.map((r) => r.threadId)).size).toBe(1);
    } finally {
      await one.destroy();
    }
  });

  it('reports a plugin that fails to load in the worker as the job’s error', async () => {
    const bad = new WorkerPool({ workers: 1, pluginSpecs: [FAKE_PLUGINS.replace('fake-plugins.ts', 'bad/missing-score.ts')], quiet: true });
    try {
      const r = await bad.run(job({}));
      expect(!r.ok && r.error.code).toBe('E_PLUGIN');
      expect(!r.ok && r.error.message).toContain("field 'score'");
    } finally {
      await bad.destroy();
    }
  });
});
