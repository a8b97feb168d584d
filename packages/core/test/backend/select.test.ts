import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/backend/index.ts';
import { BamError } from '../../src/errors.ts';

describe('selectBackend', () => {
  it('falls back to wasm when tfjs-node(-gpu) are not installed, and says why', async () => {
    const lines: string[] = [];
    const choice = await selectBackend({ env: {}, log: (l) => lines.push(l) });
    expect(choice.name).toBe('wasm');
    expect(choice.tfBackend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(choice.reason).toContain('skipped tensorflow');
    expect(choice.reason).toContain('@tensorflow/tfjs-node-gpu');
    expect(choice.reason).toContain('@tensorflow/tfjs-node');
    expect(lines).toEqual([`bam backend: wasm (${choice.reason})`]);
    expect(tf.sum(tf.tensor1d([1, 2, 3])).dataSync()[0]).toBe(6);
  });

  it('uses the backend named by env BAM_BACKEND, then the prefer option over it', async () => {
    const fromEnv = await selectBackend({ env: { BAM_BACKEND: 'cpu' }, log: () => {} });
    expect([fromEnv.name, tf.getBackend()]).toEqual(['cpu', 'cpu']);
    expect(fromEnv.reason).toContain('env BAM_BACKEND');
    const preferred = await selectBackend({ prefer: 'wasm', env: { BAM_BACKEND: 'cpu' }, log: () => {} });
    expect([preferred.name, tf.getBackend()]).toEqual(['wasm', 'wasm']);
    expect(preferred.reason).toContain('requested by the caller');
  });

  it('refuses an explicitly requested backend that cannot load instead of silently falling back', async () => {
    await expect(selectBackend({ prefer: 'tensorflow', log: () => {} })).rejects.toThrow(/backend 'tensorflow' \(requested by the caller\) is not available/);
    await expect(selectBackend({ env: { BAM_BACKEND: 'tensorflow' }, log: () => {} })).rejects.toThrow(BamError);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('refuses a requested webgpu backend whose adapter is not found, keeps wasm and says what it tried', async () => {
    await selectBackend({ prefer: 'wasm', log: () => {} });
    const env = { BAM_WEBGPU_ADAPTER: 'no-such-adapter-in-bam-tests' };
    await expect(selectBackend({ prefer: 'webgpu', env, log: () => {} })).rejects.toThrow(/no WebGPU adapter found \(tried Dawn default \[adapter=no-such-adapter-in-bam-tests\][\s\S]*BAM_WEBGPU_ALLOW_SOFTWARE=1/);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('rejects an unknown backend name and lists the known ones', async () => {
    await expect(selectBackend({ env: { BAM_BACKEND: 'gpu' }, log: () => {} })).rejects.toThrow(/unknown backend 'gpu' \(from env BAM_BACKEND\)[\s\S]*tensorflow, webgpu, wasm, cpu/);
  });
});
