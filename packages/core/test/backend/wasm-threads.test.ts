/**
 * tfjs's threaded-SIMD wasm build started in Node (backend/wasm-threads.ts, env BAM_WASM_THREADS):
 * it starts with the pool asked for, the process still exits on its own, and a training step's
 * loss, gradients and AdamW update are the single-threaded build's bits. Each build is a process
 * of its own (a thread's wasm build is fixed once started).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';

const STEP = fileURLToPath(new URL('./fixtures/wasm-build-step.ts', import.meta.url));

function step(threads: string): { reason: string; loss: number; grads: number; sha256: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', STEP], { env: { ...process.env, BAM_WASM_THREADS: threads }, encoding: 'utf8', timeout: 60_000 });
  expect(r.error, 'the child ran and exited by itself within 60 s').toBeUndefined();
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

describe('threaded wasm build in Node', () => {
  it("starts a pool of 2 and gives the single-thread build's bits for a bam-full training step", () => {
    const one = step('1');
    const two = step('2');
    expect(one.reason).toContain('(single-thread build)');
    expect(two.reason).toContain('(threaded-SIMD build, 2 threads)');
    expect(two.grads).toBe(one.grads);
    expect(two.grads).toBeGreaterThan(20);
    expect(Number.isFinite(one.loss)).toBe(true);
    expect(two.sha256).toBe(one.sha256);
  }, 120_000);

  it('rejects a BAM_WASM_THREADS that is not 1–8, naming it', async () => {
    for (const bad of ['0', '9', '1.5', 'two']) {
      await expect(selectBackend({ prefer: 'wasm', env: { BAM_WASM_THREADS: bad }, log: () => {} })).rejects.toThrow(`BAM_WASM_THREADS must be a whole number from 1 to 8, got '${bad}'`);
    }
  });
});
