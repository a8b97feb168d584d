/**
 * GPU devices for worker placement: which GPUs this machine has (WebGPU adapters through Dawn,
 * CUDA devices for tfjs-node-gpu) and which worker of a pool should use which.
 *
 * How a worker is pinned to a device, and where that works:
 * - webgpu: env `BAM_WEBGPU_ADAPTER=<Dawn adapter name>`, read from the worker's own
 *   `process.env` by `initWebGpu`, so it works per worker *thread*. Dawn picks the first adapter
 *   whose name contains the text, so two GPUs with the same name cannot be told apart: such
 *   duplicates count once (the note says so).
 * - cuda (tfjs-node-gpu): env `CUDA_VISIBLE_DEVICES=<ordinal>`, which libtensorflow reads from
 *   the real process environment when it loads: it pins worker *processes* only. In a pool of
 *   threads it has no effect (one TensorFlow runtime per process, which uses every visible GPU).
 */
import { execFile } from 'node:child_process';
import { BamError } from '../errors.ts';
import { DAWN_BACKENDS, noHardwareReason, softwareAdapterReason, type DawnBackend } from './webgpu.ts';

/** One GPU as a worker can be pinned to it. */
export interface GpuDevice {
  /** `webgpu`: a Dawn adapter; `cuda`: a device for tfjs-node-gpu. */
  kind: 'webgpu' | 'cuda';
  /** Position in its kind's enumeration (Dawn's order, or the CUDA ordinal). */
  index: number;
  /** Dawn backend (`vulkan`, `opengles`, `metal`, `d3d12`, ...) or `cuda`. */
  backend: string;
  /** The adapter or GPU name, as Dawn / nvidia-smi print it. */
  name: string;
  /** A CPU implementation (llvmpipe, lavapipe, SwiftShader). */
  software: boolean;
  /** Environment that pins a worker to this device (see the file header for where it works). */
  env: Record<string, string>;
}

/** Options of `listGpuDevices`. */
export interface ListGpuDevicesOptions {
  /** Which kinds to list. Default: both. */
  kinds?: ReadonlyArray<'webgpu' | 'cuda'>;
  /** Also list software WebGPU adapters (and look on Dawn's OpenGL ES route for them). Default false. */
  includeSoftware?: boolean;
  /** Dawn routes to enumerate. Default `['default']`, plus `opengles` with `includeSoftware`. */
  dawnBackends?: readonly DawnBackend[];
  /** Environment to read CUDA_VISIBLE_DEVICES from (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Timeout for each Dawn enumeration and for nvidia-smi, ms. Default 10000. */
  timeoutMs?: number;
}

/** What `listGpuDevices` found, with a line per source saying what it saw or why it saw nothing. */
export interface GpuDeviceList {
  devices: GpuDevice[];
  notes: string[];
}

// dawn.node rejects a request for an adapter name that matches nothing with the list of adapters
// it enumerated (documented in the `webgpu` package README as the way to list them).
const NO_SUCH_ADAPTER = 'bam-list-adapters-no-such-adapter';
const ADAPTER_LINE = /^\s*\* backend: '([^']*)', name: '(.*)'\s*$/;

interface DawnLister {
  create(flags: string[]): { requestAdapter(o?: Record<string, unknown>): Promise<unknown> };
}
const listers: unknown[] = []; // Dawn instances must outlive their use (see ./webgpu.ts).

async function dawnAdapters(route: DawnBackend, timeoutMs: number): Promise<{ adapters: Array<{ backend: string; name: string }>; note: string }> {
  let dawn: DawnLister;
  try {
    dawn = (await import(/* @vite-ignore */ 'webgpu' as string)) as DawnLister;
  } catch (err) {
    return { adapters: [], note: `Dawn (npm 'webgpu') did not load: ${(err as Error).message.split('\n')[0]}` };
  }
  const flags = [...(route === 'default' ? [] : [`backend=${route}`]), `adapter=${NO_SUCH_ADAPTER}`];
  const gpu = dawn.create(flags);
  listers.push(gpu);
  let timer: NodeJS.Timeout | undefined;
  try {
    const request = gpu.requestAdapter({ featureLevel: route === 'opengles' ? 'compatibility' : 'core' });
    const result = await Promise.race([
      request,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        timer.unref();
      }),
    ]);
    return { adapters: [], note: result ? `Dawn ${route}: an adapter matched '${NO_SUCH_ADAPTER}' (unexpected)` : `Dawn ${route}: no adapters` };
  } catch (err) {
    const lines = String((err as Error)?.message ?? err).split('\n');
    const adapters = lines.map((l) => l.match(ADAPTER_LINE)).filter((m): m is RegExpMatchArray => !!m).map((m) => ({ backend: m[1], name: m[2] }));
    return { adapters, note: adapters.length ? `Dawn ${route}: ${adapters.length} adapter(s)` : `Dawn ${route}: ${lines[0]}` };
  } finally {
    clearTimeout(timer);
  }
}

function cudaFromEnv(v: string): string[] {
  const ids = v.split(',').map((s) => s.trim()).filter(Boolean);
  // CUDA stops at the first invalid id ("-1" hides every device).
  const valid: string[] = [];
  for (const id of ids) {
    if (/^-/.test(id)) break;
    valid.push(id);
  }
  return valid;
}

function nvidiaSmi(timeoutMs: number): Promise<Array<{ index: number; name: string }> | string> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', ['--query-gpu=index,name', '--format=csv,noheader'], { timeout: timeoutMs }, (err, stdout) => {
      if (err) {
        resolve((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'nvidia-smi not found' : `nvidia-smi failed: ${err.message.split('\n')[0]}`);
        return;
      }
      const rows = stdout
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .map((l) => {
          const [i, ...name] = l.split(',');
          return { index: Number(i), name: name.join(',').trim() };
        })
        .filter((r) => Number.isInteger(r.index));
      resolve(rows);
    });
  });
}

/**
 * Lists this machine's GPUs: WebGPU adapters as Dawn enumerates them (in practice one per
 * physical GPU and driver; software adapters only with `includeSoftware`), and CUDA devices for
 * tfjs-node-gpu (from CUDA_VISIBLE_DEVICES when set, else nvidia-smi when present). Never throws;
 * each source adds a note. On Linux without a GPU device node or a Vulkan loader, Dawn's default
 * route is not even loaded.
 */
export async function listGpuDevices(opts: ListGpuDevicesOptions = {}): Promise<GpuDeviceList> {
  const kinds = opts.kinds ?? ['webgpu', 'cuda'];
  const env = opts.env ?? process.env;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const devices: GpuDevice[] = [];
  const notes: string[] = [];
  if (kinds.includes('webgpu')) {
    const routes = opts.dawnBackends ?? (opts.includeSoftware ? (['default', 'opengles'] as const) : (['default'] as const));
    for (const r of routes) {
      if (!(DAWN_BACKENDS as readonly string[]).includes(r)) throw new BamError(`unknown Dawn route '${r}'`, 'E_BACKEND', `choose from: ${DAWN_BACKENDS.join(', ')}`);
    }
    let index = 0;
    for (const route of routes) {
      const skip = route === 'default' && !opts.includeSoftware ? noHardwareReason() : null;
      if (skip) {
        notes.push(`Dawn default: not probed (${skip})`);
        continue;
      }
      if (route === 'opengles' && !env.EGL_PLATFORM && !process.env.EGL_PLATFORM) process.env.EGL_PLATFORM = 'surfaceless';
      const { adapters, note } = await dawnAdapters(route, timeoutMs);
      notes.push(note);
      for (const a of adapters) {
        const software = softwareAdapterReason({ device: a.name }) !== '';
        if (software && !opts.includeSoftware) continue;
        devices.push({ kind: 'webgpu', index: index++, backend: a.backend, name: a.name, software, env: { BAM_WEBGPU_ADAPTER: a.name, ...(route === 'default' ? {} : { BAM_WEBGPU_BACKEND: route }) } });
      }
    }
  }
  if (kinds.includes('cuda')) {
    const visible = env.CUDA_VISIBLE_DEVICES;
    if (visible !== undefined) {
      const ids = cudaFromEnv(visible);
      notes.push(`CUDA: ${ids.length} device(s) from CUDA_VISIBLE_DEVICES='${visible}'`);
      ids.forEach((id, i) => devices.push({ kind: 'cuda', index: i, backend: 'cuda', name: `CUDA device ${id}`, software: false, env: { CUDA_VISIBLE_DEVICES: id } }));
    } else {
      const rows = await nvidiaSmi(timeoutMs);
      if (typeof rows === 'string') notes.push(`CUDA: ${rows}`);
      else {
        notes.push(`CUDA: ${rows.length} device(s) from nvidia-smi`);
        for (const r of rows) devices.push({ kind: 'cuda', index: r.index, backend: 'cuda', name: r.name, software: false, env: { CUDA_VISIBLE_DEVICES: String(r.index) } });
      }
    }
  }
  return { devices, notes };
}

/** One worker's share of the devices. */
export interface WorkerSlot {
  worker: number;
  /** The device this worker uses, or null (CPU, or a device kind that threads cannot pin). */
  device: GpuDevice | null;
  /** Environment to give this worker. */
  env: Record<string, string>;
  /** e.g. `webgpu:0 NVIDIA H100 (vulkan)` or `cpu`. */
  label: string;
}

/** How many workers to run and which device each uses. */
export interface WorkerDeviceAssignment {
  workers: number;
  slots: WorkerSlot[];
  /** A sentence: what was assigned and what was left as it was, and why. */
  note: string;
}

/**
 * Assigns devices to a pool's workers: one worker per GPU. With no usable device, nothing
 * changes (`workers` as asked, every slot on the CPU). With devices, the pool runs
 * min(workers, devices) workers, worker i on device i. `pool: 'threads'` (the eval pool) can pin
 * only webgpu devices (CUDA_VISIBLE_DEVICES reaches only processes); `'processes'` pins both.
 * WebGPU devices whose names repeat count once (Dawn selects by name).
 */
export function workerDeviceAssignment(
  workers: number,
  devices: readonly GpuDevice[],
  opts: { pool?: 'threads' | 'processes' } = {},
): WorkerDeviceAssignment {
  if (!Number.isInteger(workers) || workers < 1) {
    throw new BamError(`workers must be a positive integer, got ${workers}`, 'E_CONFIG', 'pass the pool size (e.g. --workers 2)');
  }
  const pool = opts.pool ?? 'threads';
  const notes: string[] = [];
  const seen = new Set<string>();
  const usable: GpuDevice[] = [];
  for (const d of devices) {
    if (d.kind === 'cuda' && pool === 'threads') continue;
    if (d.kind === 'webgpu') {
      if (seen.has(d.name)) {
        notes.push(`a second WebGPU adapter named '${d.name}' cannot be selected by name, so it is not used`);
        continue;
      }
      seen.add(d.name);
    }
    usable.push(d);
  }
  const cudaSkipped = devices.filter((d) => d.kind === 'cuda').length > 0 && pool === 'threads';
  if (cudaSkipped) notes.push('CUDA devices are not pinned per worker thread (CUDA_VISIBLE_DEVICES reaches processes only; tfjs-node-gpu uses every visible GPU)');
  if (usable.length === 0) {
    const slots = Array.from({ length: workers }, (_, i) => ({ worker: i, device: null, env: {}, label: 'cpu' }));
    return { workers, slots, note: ['no GPU to assign: workers unchanged', ...notes].join('; ') };
  }
  const n = Math.min(workers, usable.length);
  if (workers > n) notes.push(`${workers} workers asked, ${usable.length} GPU(s): running ${n} (one per GPU)`);
  const slots = usable.slice(0, n).map((d, i) => ({ worker: i, device: d, env: { ...d.env }, label: `${d.kind}:${d.index} ${d.name} (${d.backend})` }));
  return { workers: n, slots, note: [`one worker per GPU: ${slots.map((s) => `worker ${s.worker} → ${s.label}`).join(', ')}`, ...notes].join('; ') };
}
