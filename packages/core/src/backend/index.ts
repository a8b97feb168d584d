/** Backend selection (tensorflow → wasm → cpu) with the reason for the choice. */
export { selectBackend, BACKEND_NAMES } from './select.ts';
export type { BackendName, BackendChoice, SelectBackendOptions } from './select.ts';
/** WebGPU on Dawn (npm `webgpu`): init, probing, adapter reports, GPU listing for worker placement. */
export { initWebGpu, probeWebGpu, describeAdapter, softwareAdapterReason, noHardwareReason, activeWebGpuAdapter, takeWebGpuErrors, DAWN_BACKENDS } from './webgpu.ts';
export type { WebGpuOptions, WebGpuAdapterReport, WebGpuInit, DawnBackend } from './webgpu.ts';
export { syncReadsAvailable } from './webgpu-reads.ts';
export { listGpuDevices, workerDeviceAssignment } from './webgpu-devices.ts';
export type { GpuDevice, GpuDeviceList, ListGpuDevicesOptions, WorkerSlot, WorkerDeviceAssignment } from './webgpu-devices.ts';
