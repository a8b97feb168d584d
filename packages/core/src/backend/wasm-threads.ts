/**
 * tfjs-backend-wasm's threaded-SIMD build, started in Node.
 *
 * tfjs 4.22 ships three wasm builds and picks the threaded one only in browsers: its
 * `WASM_HAS_MULTITHREAD_SUPPORT` flag returns false under Node (tensorflow/tfjs#3830). The
 * Emscripten glue itself runs in Node (worker_threads stand in for Web Workers); what stops it is
 * how tfjs hands the glue its worker script, as Blob URLs (`URL.createObjectURL`), which Node's
 * `Worker` cannot open. So while the backend initialises, this module:
 *
 * - records the text of the Blobs tfjs builds, and answers `URL.createObjectURL` for the pthread
 *   worker script with a file path: the script, written to a temporary directory, with its
 *   `importScripts(blob)` of the main glue replaced by the glue file tfjs ships
 *   (`wasm-out/tfjs-backend-wasm-threaded-simd.js`, the same build as the one bundled);
 * - sets the thread count: tfjs sizes XNNPACK's pool as min(setThreadsCount, logical cores / 2,
 *   8), reading the cores through `os.cpus()`, so that reports 2 × `threads` cores meanwhile.
 *
 * Everything it patches is restored when initialisation ends. Afterwards the pool's threads are
 * unref'd (a running pthread keeps Node's event loop alive, so a script would never exit) and
 * the seven spare workers Emscripten pre-starts are ended.
 *
 * What runs on two threads then: XNNPACK's operators (element-wise Add/Multiply/Sub/..., Softmax,
 * Sigmoid, ...), split by rows or blocks of elements. Each element is computed by the same code
 * as on one thread, so results are bit-identical to the single-threaded build (a test checks a
 * training step's loss and gradients byte for byte). tfjs's own C loops (Exp, Sum, Transpose, ...)
 * and bam's JavaScript kernels stay on the calling thread. Measured effect: benchmarks/RESULTS.md.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { errorLine } from '../errors.ts';

const require = createRequire(import.meta.url);

/** tfjs-backend-wasm caps its pool at this many threads. */
export const MAX_WASM_THREADS = 8;

/** The part of Emscripten's PThread object used here. */
interface PThreadState {
  runningWorkers: Array<{ unref(): void }>;
  unusedWorkers: Array<{ terminate(): unknown }>;
}

/** The worker script's loading of the main glue from a string path or a Blob (Emscripten 3.1). */
const IMPORT_GLUE = /if\(typeof e\.data\.urlOrBlob=="string"\)\{importScripts\(e\.data\.urlOrBlob\)\}else\{var objectUrl=URL\.createObjectURL\(e\.data\.urlOrBlob\);importScripts\(objectUrl\);URL\.revokeObjectURL\(objectUrl\)\}/;

/** Path of the threaded-SIMD glue that tfjs-backend-wasm ships beside its bundles. */
function threadedGluePath(): string {
  const path = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '..', 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  if (!existsSync(path)) throw new Error(`the threaded-SIMD glue is missing (${path})`);
  return path;
}

/** Whether the wasm backend has already been initialised in this thread (its build is then fixed). */
export function wasmInitialised(): boolean {
  return tf.engine().registry.wasm !== undefined;
}

/**
 * Initialises tfjs's wasm backend from its threaded-SIMD build with a pool of `threads` (2–8)
 * and makes it the active backend. Throws with the reason if it cannot (then nothing stays
 * patched, and `tf.setBackend('wasm')` still starts the single-threaded build). Returns the pool
 * size tfjs reports.
 */
export async function startThreadedWasm(threads: number): Promise<number> {
  if (!Number.isInteger(threads) || threads < 2 || threads > MAX_WASM_THREADS) throw new Error(`threads must be 2–${MAX_WASM_THREADS}, got ${threads}`);
  if (wasmInitialised()) throw new Error('the wasm backend is already initialised in this thread (its build cannot change now)');
  const wasmModule = (await import('@tensorflow/tfjs-backend-wasm')) as unknown as { setThreadsCount(n: number): void; getThreadsCount(): number };
  const glue = threadedGluePath();
  const dir = mkdtempSync(join(tmpdir(), 'bam-wasm-threads-'));
  // New workers are started from the script for the process's life (Emscripten starts one when its pool runs short).
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));

  const os = require('node:os') as typeof import('node:os');
  const saved = { Blob: globalThis.Blob, createObjectURL: URL.createObjectURL, cpus: os.cpus };
  const texts = new WeakMap<Blob, string>();
  let wroteWorker = false;
  class RecordingBlob extends saved.Blob {
    constructor(...args: ConstructorParameters<typeof Blob>) {
      super(...args);
      const parts = args[0];
      if (parts?.every((p) => typeof p === 'string')) texts.set(this, parts.join(''));
    }
  }
  globalThis.Blob = RecordingBlob as typeof Blob;
  URL.createObjectURL = (blob: Blob): string => {
    const text = texts.get(blob);
    if (text === undefined || !text.includes('WasmBackendModuleThreadedSimd(Module)')) return saved.createObjectURL.call(URL, blob);
    const script = text.replace(IMPORT_GLUE, `importScripts(${JSON.stringify(glue)});`);
    if (script === text) throw new Error('the pthread worker script does not load its glue the way this tfjs version did (4.22)');
    const path = join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js');
    writeFileSync(path, script);
    wroteWorker = true;
    return path;
  };
  const one = saved.cpus.call(os)[0];
  os.cpus = () => Array.from({ length: 2 * threads }, () => one);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasmModule.setThreadsCount(threads);
  let ok = false;
  try {
    ok = await tf.setBackend('wasm');
  } finally {
    globalThis.Blob = saved.Blob;
    URL.createObjectURL = saved.createObjectURL;
    os.cpus = saved.cpus;
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    wasmModule.setThreadsCount(-1);
  }
  if (!ok) throw new Error("tf.setBackend('wasm') returned false for the threaded build");
  if (!wroteWorker) throw new Error('tfjs started the wasm backend without asking for the pthread worker script');
  const got = wasmModule.getThreadsCount();
  const pthreads = (tf.backend() as unknown as { wasm: { PThread?: PThreadState } }).wasm.PThread;
  if (pthreads) {
    for (const w of pthreads.runningWorkers) w.unref();
    for (const w of pthreads.unusedWorkers.splice(0)) void w.terminate();
  }
  return got;
}

/** `startThreadedWasm` or the reason it could not start (the caller then starts the single-threaded build). */
export async function tryThreadedWasm(threads: number): Promise<{ threads: number } | { error: string }> {
  try {
    return { threads: await startThreadedWasm(threads) };
  } catch (err) {
    return { error: errorLine(err) };
  }
}
