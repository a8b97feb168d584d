/**
 * What `bam sweep` and `bam worker` share about where jobs run: the built-in plugin module, and
 * with the webgpu backend one worker thread per GPU adapter.
 */
import { createRequire } from 'node:module';
import { listGpuDevices, workerDeviceAssignment } from '@bam/core';
import type { SweepOptions } from '@bam/eval';

/**
 * With the webgpu backend: one worker per WebGPU adapter, each pinned to its own (software
 * adapters only when BAM_WEBGPU_ALLOW_SOFTWARE allows them). Other backends: workers unchanged.
 */
export async function gpuPlacement(backend: string | undefined, workers: number | undefined, quiet: boolean, who = 'bam sweep'): Promise<Pick<SweepOptions, 'workers' | 'workerResources'>> {
  if (backend !== 'webgpu') return { workers };
  const includeSoftware = /^(1|true|yes)$/i.test(process.env.BAM_WEBGPU_ALLOW_SOFTWARE ?? '');
  const { devices, notes } = await listGpuDevices({ kinds: ['webgpu'], includeSoftware });
  const plan = workerDeviceAssignment(workers ?? Math.max(1, devices.length), devices);
  if (!quiet) process.stderr.write(`${who}: webgpu adapters: ${notes.join('; ')}\n${who}: ${plan.note}\n`);
  if (!plan.slots.some((s) => s.device)) return { workers };
  return { workers: plan.workers, workerResources: { env: plan.slots.map((s) => s.env), labels: plan.slots.map((s) => s.label) } };
}

/** The built-in plugin module, if @bam/plugins loads and exports `builtinPlugins`. */
export async function builtinSpecs(who = 'bam sweep'): Promise<string[]> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import('@bam/plugins')) as Record<string, unknown>;
  } catch (err) {
    process.stderr.write(`${who}: warning: @bam/plugins did not load (${(err as Error).message}); only the config's plugins are available\n`);
    return [];
  }
  if (!Array.isArray(mod.builtinPlugins)) return [];
  return [createRequire(import.meta.url).resolve('@bam/plugins')];
}
