/**
 * The WebGPU backend: `@tensorflow/tfjs-backend-webgpu` running in Node on Dawn, through the npm
 * package `webgpu` (a prebuilt `dawn.node`; needs glibc ≥ 2.34 on Linux).
 *
 * Routes to an adapter (Dawn's `create([...])` flags):
 * - `default`: Dawn's platform backend (Vulkan on Linux, Metal on macOS, D3D12 on Windows) — the
 *   one a real GPU uses (NVIDIA/AMD/Intel Vulkan drivers).
 * - `vulkan`: the same, named explicitly (also finds lavapipe, Mesa's software Vulkan, when the
 *   machine has a Mesa new enough for Dawn: stock Debian bookworm Mesa 22 is rejected).
 * - `opengles`: Dawn's OpenGL ES backend in WebGPU *compatibility* mode, on whatever EGL driver
 *   the machine has; with Mesa and no GPU that is llvmpipe, a software rasteriser. Needs
 *   `EGL_PLATFORM=surfaceless` when there is no display (set here in the main thread).
 *
 * TF.js / Dawn quirks this file works around (each measured on this project's CI machine):
 * - the object `create()` returns must stay referenced: once garbage-collected the process
 *   crashed or hung (28 of 30 runs), so every instance is kept in a module-level map;
 * - tfjs-backend-webgpu registers itself at import only if `navigator.gpu` already exists, so the
 *   global is installed first; we then replace its factory with one that uses *our* device
 *   (its own factory cannot ask for a compatibility-mode adapter);
 * - `tf.setBackend` resolves `false` (not a rejection) on failure, after which `tf.getBackend()`
 *   may still say `webgpu`: the return value is checked and the previous backend restored;
 * - `dataSync()`/`arraySync()` throw on tensors that live on the GPU (Node has no
 *   OffscreenCanvas): see `syncReadsAvailable` in ./webgpu-reads.ts;
 * - two kernels of tfjs-backend-webgpu 4.22 mishandle int32 buffers: ./webgpu-kernels.ts fixes them;
 * - `webgpu` and tfjs-backend-webgpu pull in two conflicting `@webgpu/types` versions, so both
 *   modules are imported by computed name and typed here by the few members we use.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { BamError, errorLine } from '../errors.ts';
import { installWebGpuKernelFixes, type WebGpuUtil } from './webgpu-kernels.ts';

/** How Dawn is asked for an adapter (see the file header). */
export const DAWN_BACKENDS = ['default', 'vulkan', 'opengles'] as const;
export type DawnBackend = (typeof DAWN_BACKENDS)[number];

/** Options of `initWebGpu` / `probeWebGpu`; each falls back to an environment variable. */
export interface WebGpuOptions {
  /** Accept a software adapter (llvmpipe, lavapipe, SwiftShader). Env `BAM_WEBGPU_ALLOW_SOFTWARE=1`. Default false. */
  allowSoftware?: boolean;
  /** Which Dawn route to try. Env `BAM_WEBGPU_BACKEND`. Default: `default`, then `opengles` if software is allowed. */
  backend?: DawnBackend;
  /** Use the first adapter whose Dawn name contains this text (see `listGpuDevices`). Env `BAM_WEBGPU_ADAPTER`. */
  adapter?: string;
  /** Give up on an adapter or device request after this many ms. Env `BAM_WEBGPU_TIMEOUT_MS`. Default 10000. */
  timeoutMs?: number;
  /** Environment to read the variables above from (default `process.env`). */
  env?: Record<string, string | undefined>;
}

/** What was found: the adapter's self-description and whether bam counts it as software. */
export interface WebGpuAdapterReport {
  /** The Dawn route that found it. */
  route: DawnBackend;
  /** `compatibility` for the OpenGL ES route, else `core`. */
  featureLevel: 'core' | 'compatibility';
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  /** True for CPU implementations: fine for correctness, far too slow for real work. */
  software: boolean;
  /** Why it counts as software (e.g. `device name says llvmpipe`); empty for hardware. */
  softwareReason: string;
}

/** What `initWebGpu` returns. */
export interface WebGpuInit {
  tfBackend: 'webgpu';
  adapter: WebGpuAdapterReport;
  /** True when an earlier call with the same options had already made it active. */
  reused: boolean;
}

// --- The few WebGPU members we use (no DOM lib in this project; see the header on types). ---
interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
interface AdapterLike {
  info?: AdapterInfoLike;
  isFallbackAdapter?: boolean;
  limits: Record<string, number>;
  requestDevice(descriptor?: Record<string, unknown>): Promise<DeviceLike>;
}
interface DeviceLike {
  lost?: Promise<{ reason?: string; message?: string }>;
  onuncapturederror?: ((ev: { error?: { message?: string } }) => void) | null;
}
interface GpuLike {
  requestAdapter(options?: Record<string, unknown>): Promise<AdapterLike | null>;
}
interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}
interface TfWebGpuModule {
  WebGPUBackend: new (device: DeviceLike, adapterInfo?: AdapterInfoLike) => tf.KernelBackend;
  webgpu_util: WebGpuUtil;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const SOFTWARE_NAMES = /llvmpipe|lavapipe|swiftshader|softpipe|software rasterizer/i;

/** Every Dawn instance ever created, by flags: dropping one crashes or hangs the process. */
const instances = new Map<string, GpuLike>();
let dawnModule: DawnModule | undefined;
let active: { key: string; report: WebGpuAdapterReport; device: DeviceLike } | undefined;
/** GPU errors (invalid pipelines, ...) since the last `takeWebGpuErrors`: each means a wrong result. */
const gpuErrors: string[] = [];

/** Imports a module by a computed name, so tsc neither needs it nor reads its (conflicting) types. */
async function importByName<T>(name: string): Promise<T> {
  return (await import(/* @vite-ignore */ name)) as T;
}

async function loadDawn(): Promise<DawnModule> {
  if (dawnModule) return dawnModule;
  try {
    const mod = await importByName<Partial<DawnModule>>('webgpu');
    if (typeof mod.create !== 'function') throw new Error("the 'webgpu' module has no create()");
    dawnModule = mod as DawnModule;
    return dawnModule;
  } catch (err) {
    throw new BamError(
      `Dawn (npm 'webgpu') did not load: ${errorLine(err)}`,
      'E_BACKEND',
      "install the optional dependency webgpu@0.6.2 (npm install); on Linux it needs glibc >= 2.34",
    );
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function envFlag(v: string | undefined): boolean {
  return v === '1' || v?.toLowerCase() === 'true' || v?.toLowerCase() === 'yes';
}

interface Resolved {
  allowSoftware: boolean;
  backend: DawnBackend | undefined;
  adapter: string | undefined;
  timeoutMs: number;
}

function resolveOptions(opts: WebGpuOptions): Resolved {
  const env = opts.env ?? process.env;
  const backendRaw = opts.backend ?? (env.BAM_WEBGPU_BACKEND || undefined);
  if (backendRaw !== undefined && !(DAWN_BACKENDS as readonly string[]).includes(backendRaw)) {
    throw new BamError(
      `unknown WebGPU route '${backendRaw}'${opts.backend === undefined ? ' (from env BAM_WEBGPU_BACKEND)' : ''}`,
      'E_BACKEND',
      `choose one of: ${DAWN_BACKENDS.join(', ')}`,
    );
  }
  const timeoutRaw = opts.timeoutMs ?? (env.BAM_WEBGPU_TIMEOUT_MS ? Number(env.BAM_WEBGPU_TIMEOUT_MS) : DEFAULT_TIMEOUT_MS);
  if (!Number.isFinite(timeoutRaw) || timeoutRaw <= 0) {
    throw new BamError(`WebGPU timeout must be a positive number of ms, got '${timeoutRaw}'`, 'E_BACKEND', 'fix BAM_WEBGPU_TIMEOUT_MS or timeoutMs');
  }
  return {
    allowSoftware: opts.allowSoftware ?? envFlag(env.BAM_WEBGPU_ALLOW_SOFTWARE),
    backend: backendRaw as DawnBackend | undefined,
    adapter: opts.adapter ?? (env.BAM_WEBGPU_ADAPTER || undefined),
    timeoutMs: timeoutRaw,
  };
}

interface Route {
  backend: DawnBackend;
  flags: string[];
  featureLevel: 'core' | 'compatibility';
}

/** The Dawn routes to try, in order. */
function routesFor(r: Resolved): Route[] {
  const make = (backend: DawnBackend): Route => ({
    backend,
    flags: [...(backend === 'default' ? [] : [`backend=${backend}`]), ...(r.adapter ? [`adapter=${r.adapter}`] : [])],
    featureLevel: backend === 'opengles' ? 'compatibility' : 'core',
  });
  if (r.backend) return [make(r.backend)];
  return r.allowSoftware ? [make('default'), make('opengles')] : [make('default')];
}

/** The Dawn instance for these flags, created once and kept alive for the process's lifetime. */
function dawnInstance(dawn: DawnModule, flags: string[]): GpuLike {
  const key = flags.join('\u0000');
  let gpu = instances.get(key);
  if (!gpu) {
    gpu = dawn.create(flags);
    instances.set(key, gpu);
  }
  return gpu;
}

/** Why an adapter counts as software ('' when it does not): the fallback flag or a known CPU driver name. */
export function softwareAdapterReason(info: AdapterInfoLike & { isFallbackAdapter?: boolean }): string {
  if (info.isFallbackAdapter) return 'Dawn marks it as a fallback adapter';
  for (const field of ['device', 'description', 'vendor', 'architecture'] as const) {
    const m = (info[field] ?? '').match(SOFTWARE_NAMES);
    if (m) return `${field === 'device' ? 'device name' : field} says ${m[0].toLowerCase()}`;
  }
  return '';
}

function reportOf(adapter: AdapterLike, route: Route): WebGpuAdapterReport {
  const info = adapter.info ?? {};
  const isFallbackAdapter = !!(info.isFallbackAdapter ?? adapter.isFallbackAdapter);
  const base = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter,
  };
  const softwareReason = softwareAdapterReason(base);
  return { route: route.backend, featureLevel: route.featureLevel, ...base, software: softwareReason !== '', softwareReason };
}

/** One line naming an adapter, for logs and the backend report. */
export function describeAdapter(a: WebGpuAdapterReport): string {
  const name = a.device || a.description || '(unnamed adapter)';
  const desc = a.description && a.description !== name ? `, ${a.description}` : '';
  const vendor = a.vendor ? `${a.vendor} ` : '';
  const kind = a.software ? `software: ${a.softwareReason}` : 'hardware';
  return `${vendor}${name} (Dawn ${a.route}${a.featureLevel === 'compatibility' ? ' compatibility mode' : ''}${desc}; ${kind})`;
}

/**
 * Linux only, before loading Dawn at all: a reason why no *hardware* adapter can exist here
 * (no Vulkan loader, or no GPU device node), or null when one might. Reading a few directory
 * entries is far cheaper than starting Dawn, which `selectBackend` would otherwise do in every
 * process on CPU-only machines.
 */
export function noHardwareReason(): string | null {
  if (process.platform !== 'linux') return null;
  const gpuNodes = (() => {
    const nodes: string[] = [];
    try {
      nodes.push(...readdirSync('/dev').filter((n) => /^nvidia\d+$/.test(n)).map((n) => `/dev/${n}`));
    } catch {
      /* no /dev listing: treat as no NVIDIA node */
    }
    try {
      nodes.push(...readdirSync('/dev/dri').filter((n) => n.startsWith('renderD')).map((n) => `/dev/dri/${n}`));
    } catch {
      /* no DRM devices */
    }
    return nodes;
  })();
  if (gpuNodes.length === 0) return 'no GPU device node (/dev/nvidia*, /dev/dri/renderD*) on this machine';
  if (!vulkanLoaderPresent()) return "no Vulkan loader (libvulkan.so.1), which Dawn's default Linux backend needs";
  return null;
}

function vulkanLoaderPresent(): boolean {
  const dirs = new Set<string>((process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean));
  for (const d of ['/lib', '/lib64', '/usr/lib', '/usr/lib64', '/usr/local/lib', `/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`, `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`]) dirs.add(d);
  try {
    for (const f of readdirSync('/etc/ld.so.conf.d')) {
      for (const line of readFileSync(`/etc/ld.so.conf.d/${f}`, 'utf8').split('\n')) if (line.startsWith('/')) dirs.add(line.trim());
    }
  } catch {
    /* no ld.so.conf.d */
  }
  for (const d of dirs) if (existsSync(`${d}/libvulkan.so.1`)) return true;
  return false;
}

interface Found {
  adapter: AdapterLike;
  gpu: GpuLike;
  route: Route;
  report: WebGpuAdapterReport;
}

/** Tries each route; returns the first adapter and a line per route that gave none. */
async function findAdapter(r: Resolved): Promise<{ found: Found | null; tried: string[] }> {
  const dawn = await loadDawn();
  const tried: string[] = [];
  for (const route of routesFor(r)) {
    if (route.backend === 'opengles' && isMainThread && !process.env.EGL_PLATFORM) {
      // Mesa's EGL needs a platform without a display. Only the main thread can set the real
      // environment (a worker's process.env is a copy); set it in the parent for workers.
      process.env.EGL_PLATFORM = 'surfaceless';
    }
    const label = `Dawn ${route.backend}${route.flags.length ? ` [${route.flags.join(' ')}]` : ''}`;
    try {
      const gpu = dawnInstance(dawn, route.flags);
      const adapter = await withTimeout(
        gpu.requestAdapter({ powerPreference: 'high-performance', featureLevel: route.featureLevel }),
        r.timeoutMs,
        `${label} requestAdapter`,
      );
      if (adapter) return { found: { adapter, gpu, route, report: reportOf(adapter, route) }, tried };
      const egl = route.backend === 'opengles' && process.env.EGL_PLATFORM !== 'surfaceless' ? ` (EGL_PLATFORM is '${process.env.EGL_PLATFORM ?? ''}'; without a display it must be 'surfaceless')` : '';
      tried.push(`${label}: no adapter${egl}`);
    } catch (err) {
      tried.push(`${label}: ${(err instanceof Error ? err.message : String(err)).replace(/\n\s*/g, ' ')}`);
    }
  }
  return { found: null, tried };
}

/**
 * Looks for a WebGPU adapter without making anything active. Never throws: an unloadable Dawn or
 * a failing driver becomes a line in `tried`. `adapter` is the first found, software or not.
 */
export async function probeWebGpu(opts: WebGpuOptions = {}): Promise<{ adapter: WebGpuAdapterReport | null; tried: string[] }> {
  try {
    const { found, tried } = await findAdapter(resolveOptions(opts));
    return { adapter: found?.report ?? null, tried };
  } catch (err) {
    return { adapter: null, tried: [errorLine(err)] };
  }
}

function installGlobals(gpu: GpuLike, globals: Record<string, unknown>): void {
  const g = globalThis as Record<string, unknown>;
  // GPUBufferUsage, GPUMapMode, ...: tfjs-backend-webgpu reads them as globals.
  for (const [k, v] of Object.entries(globals)) if (!(k in g)) g[k] = v;
  const nav = g.navigator as Record<string, unknown> | undefined;
  if (nav && typeof nav === 'object') {
    Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
  } else {
    Object.defineProperty(g, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }
}

/**
 * The device limits asked for (the adapter's maxima): those tfjs-backend-webgpu's own factory
 * asks for, plus storage buffers per stage (AddN binds one per input).
 */
const DEVICE_LIMITS = [
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
] as const;

/**
 * Makes TF.js's webgpu backend active on a Dawn adapter and reports which adapter. Sets
 * `globalThis.navigator.gpu` (the Dawn instance stays referenced for the process's lifetime),
 * requests an adapter by the routes of `opts` (see the file header), refuses a software adapter
 * unless `allowSoftware`, requests a device, registers the tfjs webgpu backend on it and checks
 * that `tf.setBackend('webgpu')` returned true. Throws a BamError saying what was tried and what
 * to change; on failure the previously active tfjs backend stays active.
 */
export async function initWebGpu(opts: WebGpuOptions = {}): Promise<WebGpuInit> {
  const r = resolveOptions(opts);
  const key = JSON.stringify(r);
  if (active && active.key === key && tf.findBackend('webgpu') && tf.getBackend() === 'webgpu') {
    return { tfBackend: 'webgpu', adapter: active.report, reused: true };
  }
  const { found, tried } = await findAdapter(r);
  if (!found) {
    throw new BamError(
      `no WebGPU adapter found (tried ${tried.join('; ')})`,
      'E_BACKEND',
      r.allowSoftware
        ? 'install a GPU Vulkan driver, or for a software adapter the Mesa EGL/GLES libraries (libegl1 libgles2 libegl-mesa0 libgl1-mesa-dri) with EGL_PLATFORM=surfaceless in the environment (docs/gpu.md)'
        : 'no GPU here? BAM_WEBGPU_ALLOW_SOFTWARE=1 also tries software adapters (Mesa llvmpipe via OpenGL ES; slow, for correctness tests); see docs/gpu.md',
    );
  }
  if (found.report.software && !r.allowSoftware) {
    throw new BamError(
      `the WebGPU adapter found is a software one: ${describeAdapter(found.report)}`,
      'E_BACKEND',
      'set BAM_WEBGPU_ALLOW_SOFTWARE=1 (or allowSoftware) to use it anyway: results are correct but slow; use wasm for speed on a CPU',
    );
  }
  const limits: Record<string, number> = {};
  for (const name of DEVICE_LIMITS) if (typeof found.adapter.limits[name] === 'number') limits[name] = found.adapter.limits[name];
  let device: DeviceLike;
  try {
    device = await withTimeout(found.adapter.requestDevice({ requiredLimits: limits }), r.timeoutMs, 'requestDevice');
  } catch (err) {
    throw new BamError(`the WebGPU adapter ${describeAdapter(found.report)} gave no device: ${errorLine(err)}`, 'E_BACKEND', 'check the GPU driver (docs/gpu.md), or use another backend');
  }
  // An invalid shader or pipeline does not throw: the op silently yields garbage. Record them.
  device.onuncapturederror = (ev) => {
    const msg = (ev?.error?.message ?? 'unknown GPU error').split('\n').filter((l) => l.trim()).slice(0, 2).join(' ');
    if (gpuErrors.length < 3) console.error(`bam webgpu: GPU error (the op's result is wrong): ${msg}`);
    if (gpuErrors.length < 1000) gpuErrors.push(msg);
  };
  device.lost?.then((info) => {
    if (active?.device === device) console.error(`bam webgpu: device lost (${info?.reason ?? 'unknown'}: ${info?.message ?? ''})`);
  });
  installGlobals(found.gpu, (await loadDawn()).globals);
  let tfWebGpu: TfWebGpuModule;
  try {
    tfWebGpu = await importByName<TfWebGpuModule>('@tensorflow/tfjs-backend-webgpu');
  } catch (err) {
    throw new BamError(`@tensorflow/tfjs-backend-webgpu did not load: ${errorLine(err)}`, 'E_BACKEND', 'npm install (it is a dependency of @bam/core)');
  }
  installWebGpuKernelFixes(tfWebGpu.webgpu_util);
  const previous = tf.getBackend();
  // Replace the module's own factory (it would request its own, non-compatibility adapter).
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  const info = found.adapter.info;
  // Priority 0: TF.js never picks it by itself; bam's selectBackend does the choosing.
  tf.registerBackend('webgpu', () => new tfWebGpu.WebGPUBackend(device, info), 0);
  let ok = false;
  let failure = '';
  try {
    ok = await tf.setBackend('webgpu');
  } catch (err) {
    failure = errorLine(err);
  }
  if (!ok || tf.getBackend() !== 'webgpu') {
    tf.removeBackend('webgpu');
    if (previous && previous !== 'webgpu' && tf.findBackendFactory(previous)) await tf.setBackend(previous);
    throw new BamError(
      `tf.setBackend('webgpu') ${failure ? `threw: ${failure}` : 'returned false'} on ${describeAdapter(found.report)}`,
      'E_BACKEND',
      'the tfjs webgpu backend could not start on this adapter; use BAM_BACKEND=wasm',
    );
  }
  active = { key, report: found.report, device };
  return { tfBackend: 'webgpu', adapter: found.report, reused: false };
}

/**
 * GPU errors reported by Dawn since the last call (and clears them): invalid shaders, pipelines
 * or command buffers, each meaning some op returned garbage instead of throwing. Tests and
 * benchmarks check that this is empty.
 */
export function takeWebGpuErrors(): string[] {
  return gpuErrors.splice(0, gpuErrors.length);
}

/** The adapter the active webgpu backend runs on, or null when `initWebGpu` has not succeeded. */
export function activeWebGpuAdapter(): WebGpuAdapterReport | null {
  return active && tf.findBackend('webgpu') ? active.report : null;
}

/**
 * The webgpu candidate of `selectBackend`. Requested explicitly (`prefer`/`BAM_BACKEND`): as
 * `initWebGpu(opts)`. Automatically: only a hardware adapter is used, the cheap Linux pre-check
 * (`noHardwareReason`) runs before Dawn is even loaded, and `allowSoftware` is ignored. Throws
 * with the reason it was not used (which adapter it found and why not).
 */
export async function loadWebGpuCandidate(ctx: {
  requested: boolean;
  env: Record<string, string | undefined>;
  webgpu?: WebGpuOptions;
}): Promise<{ tfBackend: 'webgpu'; detail: string; adapter: WebGpuAdapterReport }> {
  const opts: WebGpuOptions = { env: ctx.env, ...ctx.webgpu };
  if (!ctx.requested) {
    const skip = noHardwareReason();
    if (skip) throw new Error(skip);
    opts.allowSoftware = false;
    const probe = await probeWebGpu(opts);
    if (!probe.adapter) throw new Error(`no hardware adapter (${probe.tried.join('; ')})`);
    if (probe.adapter.software) {
      throw new Error(`found only ${describeAdapter(probe.adapter)}; software adapters are used only when asked for (BAM_BACKEND=webgpu BAM_WEBGPU_ALLOW_SOFTWARE=1)`);
    }
  }
  const r = await initWebGpu(opts);
  const why = r.adapter.software ? ' — software adapter allowed by BAM_WEBGPU_ALLOW_SOFTWARE / allowSoftware: correct but slow' : '';
  return { tfBackend: 'webgpu', detail: `@tensorflow/tfjs-backend-webgpu on ${describeAdapter(r.adapter)}${why}`, adapter: r.adapter };
}
