/**
 * initWebGpu / probeWebGpu / selectBackend's webgpu rules, the two kernel fixes and the
 * synchronous-read pitfall, on whatever adapter this machine has (Mesa llvmpipe in CI).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  activeWebGpuAdapter,
  initWebGpu,
  listGpuDevices,
  probeWebGpu,
  selectBackend,
  softwareAdapterReason,
  syncReadsAvailable,
  takeWebGpuErrors,
  type WebGpuAdapterReport,
} from '../../src/backend/index.ts';
import { BamError } from '../../src/errors.ts';
import { useWebGpu } from './helpers.ts';
import { needs } from '../../../../tools/test/components.ts';

// Skipped without mesa-egl (the run's last line names it; CI=true fails instead): tools/test/components.ts.
const hasMesa = await needs('mesa-egl');

describe('softwareAdapterReason', () => {
  it('names the CPU drivers Dawn can find and passes real GPUs', () => {
    expect(softwareAdapterReason({ device: 'llvmpipe (LLVM 15.0.6, 256 bits)' })).toBe('device name says llvmpipe');
    expect(softwareAdapterReason({ device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'OpenGL ES 3.2 Mesa 22.3.6' })).toBe('device name says llvmpipe');
    expect(softwareAdapterReason({ vendor: 'mesa', description: 'Mesa lavapipe' })).toBe('description says lavapipe');
    expect(softwareAdapterReason({ device: 'SwiftShader Device (Subzero)' })).toBe('device name says swiftshader');
    expect(softwareAdapterReason({ device: 'NVIDIA H100 80GB HBM3', isFallbackAdapter: true })).toBe('Dawn marks it as a fallback adapter');
    expect(softwareAdapterReason({ vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H100 80GB HBM3' })).toBe('');
  });
});

describe.runIf(hasMesa)('the webgpu backend on this machine', () => {
  let adapter: WebGpuAdapterReport;

  beforeAll(async () => {
    // The software-route probe before anything is active: what CI has, found without side effects.
    const probe = await probeWebGpu({ allowSoftware: true });
    expect(probe.adapter, `no WebGPU adapter: ${probe.tried.join('; ')}`).not.toBeNull();
    expect(tf.findBackend('webgpu')).toBeNull();
    adapter = probe.adapter!;
  });

  it('refuses a software adapter unless allowed, leaving the previous backend active', async () => {
    await selectBackend({ prefer: 'cpu', log: () => {} });
    if (adapter.software) {
      const err = await initWebGpu({ backend: adapter.route }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BamError);
      expect((err as Error).message).toMatch(/the WebGPU adapter found is a software one: .*software: (device name|description|vendor|architecture) says|fallback/);
      expect((err as Error).message).toContain('BAM_WEBGPU_ALLOW_SOFTWARE=1');
      expect(tf.getBackend()).toBe('cpu');
    } else {
      const r = await initWebGpu({ backend: adapter.route });
      expect(r.adapter.software).toBe(false);
    }
  });

  it('never picks a software adapter automatically, and says which adapter it skipped and why', async () => {
    const lines: string[] = [];
    const choice = await selectBackend({ env: { BAM_WEBGPU_ALLOW_SOFTWARE: '1' }, log: (l) => lines.push(l) });
    if (choice.name === 'webgpu') {
      expect(choice.adapter!.software).toBe(false);
    } else {
      expect(choice.reason).toMatch(/skipped .*webgpu \((no GPU device node|no Vulkan loader|no hardware adapter|found only .*software adapters are used only when asked for)/);
    }
    expect(lines).toHaveLength(1);
  });

  it('starts on the adapter when software is allowed, reports it, and reuses it on a second call', async () => {
    const first = await initWebGpu({ allowSoftware: true, backend: adapter.route });
    expect(first.reused).toBe(false);
    expect(tf.getBackend()).toBe('webgpu');
    expect(first.adapter).toEqual(adapter);
    expect(activeWebGpuAdapter()).toEqual(adapter);
    const second = await initWebGpu({ allowSoftware: true, backend: adapter.route });
    expect(second.reused).toBe(true);
    const s = tf.tidy(() => tf.sum(tf.mul(tf.range(1, 101), tf.range(1, 101))));
    expect((await s.data())[0]).toBe(338350);
    s.dispose();
  });

  it('pins an adapter by the name listGpuDevices gives', async () => {
    const { devices, notes } = await listGpuDevices({ includeSoftware: true, kinds: ['webgpu'] });
    expect(devices.length, notes.join('; ')).toBeGreaterThan(0);
    const d = devices[0];
    expect(d.env.BAM_WEBGPU_ADAPTER).toBe(d.name);
    const r = await initWebGpu({ env: { ...d.env, BAM_WEBGPU_ALLOW_SOFTWARE: '1' } });
    expect(r.adapter.route).toBe(d.env.BAM_WEBGPU_BACKEND ?? 'default');
    expect(tf.getBackend()).toBe('webgpu');
  });

  it('probes a missing adapter name without throwing, listing what Dawn has', async () => {
    const probe = await probeWebGpu({ backend: adapter.route, adapter: 'no-such-adapter-in-bam-tests' });
    expect(probe.adapter).toBeNull();
    expect(probe.tried).toHaveLength(1);
    expect(probe.tried[0]).toMatch(/no adapter with backend '\w+' and name 'no-such-adapter-in-bam-tests' found Available adapters: \* backend:|no adapter/);
  });

  it('rejects an unknown Dawn route from the environment and lists the known ones', async () => {
    await expect(initWebGpu({ env: { BAM_WEBGPU_BACKEND: 'metal2' } })).rejects.toThrow(/unknown WebGPU route 'metal2' \(from env BAM_WEBGPU_BACKEND\)[\s\S]*default, vulkan, opengles/);
    await expect(initWebGpu({ timeoutMs: -1 })).rejects.toThrow(/positive number of ms/);
  });

  it('cannot read a GPU tensor synchronously, which syncReadsAvailable reports', async () => {
    await useWebGpu();
    expect(syncReadsAvailable()).toBe(false);
    const a = tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64]))); // computed on the GPU
    expect(() => a.dataSync()).toThrow(/OffscreenCanvas/);
    expect((await a.data())[0]).toBe(64);
    a.dispose();
  });

  it('casts int32 to float32 and transposes and reduces int buffers like the cpu backend', async () => {
    await useWebGpu();
    const run = () =>
      tf.tidy(() => {
        const idx = tf.tensor2d([[0, 2], [3, 1], [1, 1]], [3, 2], 'int32'); // [R, K]
        const big = tf.add(tf.range(0, 4 * 40 * 30, 1, 'int32').reshape([4, 40, 30]), tf.scalar(1, 'int32')); // on the GPU when large
        return [
          tf.sum(tf.cast(tf.oneHot(idx, 4), 'float32'), 1), // [R, K, C] → [R, C]: the router mask
          tf.transpose(big, [0, 2, 1]),
          tf.sum(tf.cast(big, 'float32'), 1),
          tf.transpose(tf.cast(big, 'bool'), [2, 0, 1]),
        ];
      });
    const gpu = await Promise.all(run().map(async (t) => ({ shape: t.shape, data: Array.from(await t.data()), t })));
    await selectBackend({ prefer: 'cpu', log: () => {} });
    const cpu = await Promise.all(run().map(async (t) => ({ shape: t.shape, data: Array.from(await t.data()), t })));
    expect(gpu[0].data).toEqual([1, 0, 1, 0, 0, 1, 0, 1, 0, 2, 0, 0]);
    for (let i = 0; i < cpu.length; i++) {
      expect(gpu[i].shape).toEqual(cpu[i].shape);
      expect(gpu[i].data).toEqual(cpu[i].data);
    }
    tf.dispose([...gpu, ...cpu].map((x) => x.t));
  });

  it('adds more tensors than a shader can bind (AddN in chunks) without GPU errors', async () => {
    await useWebGpu();
    takeWebGpuErrors();
    const n = 40;
    const sum = tf.tidy(() => tf.addN(Array.from({ length: n }, (_, i) => tf.add(tf.fill([300], i + 1), tf.zeros([300]))))); // on the GPU
    const v = await sum.data();
    sum.dispose();
    expect([v[0], v[299]]).toEqual([(n * (n + 1)) / 2, (n * (n + 1)) / 2]);
    expect(takeWebGpuErrors()).toEqual([]);
  });
});
