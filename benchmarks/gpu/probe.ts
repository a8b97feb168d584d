/**
 * What WebGPU adapters this machine offers, as JSON on stdout (for run.sh): the adapter bam's
 * webgpu backend would use, whether it is a software one, and every GPU listed for placement.
 * Exit code 0 when a hardware adapter exists, 3 when only a software one does (used only with
 * --allow-software), 4 when none does.
 *
 *   npx tsx benchmarks/gpu/probe.ts [--allow-software]
 */
import { parseArgs } from 'node:util';
import { describeAdapter, listGpuDevices, noHardwareReason, probeWebGpu } from '@bam/core';

const { values } = parseArgs({ options: { 'allow-software': { type: 'boolean', default: false } } });
const allowSoftware = values['allow-software'];
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
