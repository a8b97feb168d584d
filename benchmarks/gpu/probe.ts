/**
 * What WebGPU adapters this machine offers, as JSON on stdout (for run.sh): the adapter bam's
 * webgpu backend would use, whether it is a software one, and every GPU listed for placement.
 * Exit code 0 when a hardware adapter exists, 3 when only a software one does (used only with
 * --allow-software), 4 when none does.
 *
 *   npx tsx benchmarks/gpu/probe.ts [--allow-software]
 */
import { describeAdapter, listGpuDevices, noHardwareReason, probeWebGpu } from '@bam/core';
import { benchmarkArgs } from '../lib/common.ts';

const { 'allow-software': allowSoftware } = benchmarkArgs('gpu/probe.ts', "The WebGPU adapters this machine offers, as JSON: the one bam's webgpu backend would use and every GPU listed for placement.", {
  'allow-software': { kind: 'flag', help: 'accept a software adapter (exit code 3 instead of 4)' },
});
const probe = await probeWebGpu({ allowSoftware });
const list = await listGpuDevices({ includeSoftware: allowSoftware });
const report = {
  adapter: probe.adapter,
  summary: probe.adapter ? describeAdapter(probe.adapter) : 'none',
  tried: probe.tried,
  linuxPrecheck: noHardwareReason(),
  devices: list.devices.map(({ kind, index, backend, name, software }) => ({ kind, index, backend, name, software })),
  notes: list.notes,
};
console.log(JSON.stringify(report, null, 2));
process.exit(!probe.adapter ? 4 : probe.adapter.software ? 3 : 0);
