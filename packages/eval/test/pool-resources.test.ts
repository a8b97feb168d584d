import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WorkerPool, type WorkerJob, type WorkerReply } from '../src/index.ts';
import { FIXTURES, tmp } from './helpers.ts';

const PLUGINS = join(FIXTURES, 'resource-env.ts');
const artifactsDir = tmp();
const job = (options: Record<string, unknown>, seed = 0): WorkerJob => ({
  kind: 'evaluate',
  variant: { id: 'env-probe', options },
  task: { id: 'fake-mc', options: { n: 1 } },
  seed,
  artifactsDir,
});
const seen = (r: WorkerReply): [number, string] => [r.threadId, r.ok ? (r.model?.backend ?? '') : `failed: ${r.error.message}`];

describe('worker pool resources', () => {
  it('gives each worker its own env before plugins load and reports which worker holds which slot', async () => {
    const pool = new WorkerPool({
      workers: 2,
      pluginSpecs: [PLUGINS],
      quiet: true,
      workerResources: { env: [{ BAM_TEST_RESOURCE: 'gpu-a' }, { BAM_TEST_RESOURCE: 'gpu-b' }], labels: ['webgpu:0 A', 'webgpu:1 B'] },
    });
    try {
      expect(pool.assignments()).toEqual([
        { slot: 0, threadId: null, label: 'webgpu:0 A' },
        { slot: 1, threadId: null, label: 'webgpu:1 B' },
      ]);
      // Two slow jobs at once occupy both workers.
      const replies = (await Promise.all([pool.run(job({ delayMs: 300 })), pool.run(job({ delayMs: 300 }, 1))])).map(seen);
      expect(new Set(replies.map(([t]) => t)).size).toBe(2);
      expect(replies.map(([, b]) => b).sort()).toEqual(['gpu-a|gpu-a', 'gpu-b|gpu-b']);
      const held = pool.assignments();
      for (const [t, b] of replies) expect(held.find((a) => a.threadId === t)?.slot).toBe(b === 'gpu-a|gpu-a' ? 0 : 1);
      expect(process.env.BAM_TEST_RESOURCE).toBeUndefined();
    } finally {
      await pool.destroy();
    }
  });

  it("hands a dead worker's slot to its replacement", async () => {
    const pool = new WorkerPool({ workers: 1, pluginSpecs: [PLUGINS], quiet: true, workerResources: { env: [{ BAM_TEST_RESOURCE: 'only-gpu' }] } });
    try {
      const before = seen(await pool.run(job({})));
      expect(before[1]).toBe('only-gpu|only-gpu');
      const died = await pool.run(job({ exit: true }));
      expect(died.ok).toBe(false);
      const after = seen(await pool.run(job({})));
      expect(after[0]).not.toBe(before[0]);
      expect(after[1]).toBe('only-gpu|only-gpu');
      expect(pool.assignments()).toEqual([{ slot: 0, threadId: after[0], label: 'BAM_TEST_RESOURCE=only-gpu' }]);
    } finally {
      await pool.destroy();
    }
  });

  it('leaves workers beyond the listed resources without any', async () => {
    const pool = new WorkerPool({ workers: 2, pluginSpecs: [PLUGINS], quiet: true, workerResources: { env: [{ BAM_TEST_RESOURCE: 'one' }] } });
    try {
      const replies = (await Promise.all([pool.run(job({ delayMs: 300 })), pool.run(job({ delayMs: 300 }, 1))])).map(seen);
      expect(replies.map(([, b]) => b).sort()).toEqual(['one|one', 'unset|unset']);
    } finally {
      await pool.destroy();
    }
  });
});
