/** Worker placement: listing CUDA devices from the environment and assigning devices to workers. */
import { describe, expect, it } from 'vitest';
import { listGpuDevices, workerDeviceAssignment, type GpuDevice } from '../../src/backend/index.ts';

function webgpu(index: number, name: string): GpuDevice {
  return { kind: 'webgpu', index, backend: 'vulkan', name, software: false, env: { BAM_WEBGPU_ADAPTER: name } };
}
function cuda(index: number): GpuDevice {
  return { kind: 'cuda', index, backend: 'cuda', name: `CUDA device ${index}`, software: false, env: { CUDA_VISIBLE_DEVICES: String(index) } };
}

describe('workerDeviceAssignment', () => {
  it('changes nothing on a machine without GPUs', () => {
    const a = workerDeviceAssignment(3, []);
    expect(a.workers).toBe(3);
    expect(a.slots.map((s) => [s.worker, s.device, s.env, s.label])).toEqual([
      [0, null, {}, 'cpu'],
      [1, null, {}, 'cpu'],
      [2, null, {}, 'cpu'],
    ]);
    expect(a.note).toBe('no GPU to assign: workers unchanged');
  });

  it('runs one worker per GPU, worker i on GPU i, and says so when it runs fewer than asked', () => {
    const devices = [webgpu(0, 'NVIDIA RTX A6000'), webgpu(1, 'AMD Radeon Pro W7900')];
    const a = workerDeviceAssignment(4, devices);
    expect(a.workers).toBe(2);
    expect(a.slots.map((s) => s.env)).toEqual([{ BAM_WEBGPU_ADAPTER: 'NVIDIA RTX A6000' }, { BAM_WEBGPU_ADAPTER: 'AMD Radeon Pro W7900' }]);
    expect(a.slots.map((s) => s.label)).toEqual(['webgpu:0 NVIDIA RTX A6000 (vulkan)', 'webgpu:1 AMD Radeon Pro W7900 (vulkan)']);
    expect(a.note).toContain('4 workers asked, 2 GPU(s): running 2 (one per GPU)');
    expect(workerDeviceAssignment(1, devices).slots.map((s) => s.device?.index)).toEqual([0]);
  });

  it('counts WebGPU adapters with the same name once, since Dawn selects adapters by name', () => {
    const a = workerDeviceAssignment(8, [webgpu(0, 'NVIDIA H100 80GB HBM3'), webgpu(1, 'NVIDIA H100 80GB HBM3')]);
    expect(a.workers).toBe(1);
    expect(a.note).toContain("a second WebGPU adapter named 'NVIDIA H100 80GB HBM3' cannot be selected by name");
  });

  it('pins CUDA devices only for worker processes, not threads', () => {
    const threads = workerDeviceAssignment(2, [cuda(0), cuda(1)]);
    expect([threads.workers, threads.slots.every((s) => s.device === null)]).toEqual([2, true]);
    expect(threads.note).toContain('CUDA_VISIBLE_DEVICES reaches processes only');
    const procs = workerDeviceAssignment(2, [cuda(0), cuda(1)], { pool: 'processes' });
    expect(procs.slots.map((s) => s.env)).toEqual([{ CUDA_VISIBLE_DEVICES: '0' }, { CUDA_VISIBLE_DEVICES: '1' }]);
  });

  it('rejects a worker count that is not a positive integer', () => {
    expect(() => workerDeviceAssignment(0, [])).toThrow(/workers must be a positive integer, got 0/);
    expect(() => workerDeviceAssignment(1.5, [])).toThrow(/got 1.5/);
  });
});

describe('listGpuDevices for CUDA', () => {
  it('takes the devices from CUDA_VISIBLE_DEVICES, stopping at the first invalid id as CUDA does', async () => {
    const two = await listGpuDevices({ kinds: ['cuda'], env: { CUDA_VISIBLE_DEVICES: '0,2' } });
    expect(two.devices.map((d) => [d.index, d.name, d.env.CUDA_VISIBLE_DEVICES])).toEqual([
      [0, 'CUDA device 0', '0'],
      [1, 'CUDA device 2', '2'],
    ]);
    expect(two.notes).toEqual(["CUDA: 2 device(s) from CUDA_VISIBLE_DEVICES='0,2'"]);
    expect((await listGpuDevices({ kinds: ['cuda'], env: { CUDA_VISIBLE_DEVICES: '1,-1,0' } })).devices).toHaveLength(1);
    expect((await listGpuDevices({ kinds: ['cuda'], env: { CUDA_VISIBLE_DEVICES: '' } })).devices).toHaveLength(0);
  });

  it('asks nvidia-smi when CUDA_VISIBLE_DEVICES is unset, and says what it found', async () => {
    const r = await listGpuDevices({ kinds: ['cuda'], env: {} });
    expect(r.notes).toHaveLength(1);
    expect(r.notes[0]).toMatch(/^CUDA: (nvidia-smi not found|nvidia-smi failed: .*|\d+ device\(s\) from nvidia-smi)$/);
    if (r.notes[0].includes('not found')) expect(r.devices).toEqual([]);
  });
});
