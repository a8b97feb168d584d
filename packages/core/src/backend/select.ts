/**
 * Backend selection: tensorflow (tfjs-node-gpu, then tfjs-node) → webgpu (hardware adapters
 * only, unless asked for) → wasm → cpu, with the reason.
 *
 * tfjs-node(-gpu) are optionalDependencies whose install script downloads libtensorflow, so on an
 * offline machine they are absent and their dynamic import fails cleanly; we fall through to
 * `@tensorflow/tfjs-backend-wasm` (the embedded default) and then to the pure-JS cpu backend.
 * `tf.setBackend` resolves `false` (not a rejection) when a backend fails to initialise, so every
 * candidate is checked by its return value, by `tf.getBackend()` and by running one tiny op.
 */
import * as tf from '@tensorflow/tfjs';
import { BamError, errorLine } from '../errors.ts';
import '../ops/kernels.ts';
import { enableBlas } from '../ops/blas.ts';
import { loadWebGpuCandidate, type WebGpuAdapterReport, type WebGpuOptions } from './webgpu.ts';
import { MAX_WASM_THREADS, tryThreadedWasm, wasmInitialised } from './wasm-threads.ts';

/** Backend names bam knows, in automatic preference order. */
export const BACKEND_NAMES = ['tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** What `selectBackend` chose and why (for logs and result rows). */
export interface BackendChoice {
  /** The bam backend name (`tensorflow` covers tfjs-node and tfjs-node-gpu). */
  name: BackendName;
  /** A sentence: why this one, including why each earlier candidate was skipped. */
  reason: string;
  /** The tfjs backend id actually active (`tf.getBackend()`). */
  tfBackend: string;
  /** For `webgpu`: the adapter it runs on (device, driver, software or hardware). */
  adapter?: WebGpuAdapterReport;
}

export interface SelectBackendOptions {
  /** Use exactly this backend (it must load, else a BamError); overrides `env.BAM_BACKEND`. */
  prefer?: BackendName;
  /** Environment to read `BAM_BACKEND` from (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Where to log the choice (default: stderr). Pass `() => {}` to be quiet. */
  log?: (line: string) => void;
  /** WebGPU options (software adapters, Dawn route, adapter name); each defaults to its BAM_WEBGPU_* env variable. */
  webgpu?: WebGpuOptions;
}

/** What a candidate's `load` gets: whether it was asked for by name, and where options come from. */
interface LoadContext {
  requested: boolean;
  env: Record<string, string | undefined>;
  webgpu?: WebGpuOptions;
}

/** One candidate: `load` makes the tfjs backend active or throws with the reason it cannot. */
interface Candidate {
  name: BackendName;
  /** Also tried automatically. */
  auto: boolean;
  load(ctx: LoadContext): Promise<{ tfBackend: string; detail: string; adapter?: WebGpuAdapterReport }>;
}

async function activate(tfName: string): Promise<void> {
  if (tf.getBackend() !== tfName || !tf.findBackend(tfName)) {
    const ok = await tf.setBackend(tfName);
    if (!ok) throw new Error(`tf.setBackend('${tfName}') returned false (initialisation failed)`);
  }
  await tf.ready();
  if (tf.getBackend() !== tfName) throw new Error(`tf.getBackend() is '${tf.getBackend()}' after setBackend('${tfName}')`);
  // A backend can register and "activate" yet fail on the first kernel; run one.
  const probe = tf.tidy(() => tf.sum(tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4]))));
  const v = (await probe.data())[0];
  probe.dispose();
  if (v !== 10) throw new Error(`backend '${tfName}' computed 1+3+2+4 = ${v}`);
}

/**
 * The wasm build to start in this thread: the single-threaded SIMD build (default), or with env
 * `BAM_WASM_THREADS=N` (2–8) tfjs's threaded-SIMD build with a pool of N threads (./wasm-threads.ts),
 * falling back to the single-threaded build, with the reason, when that does not start. The default
 * is 1 because on the 2-core machine it was measured on the pool did not pay (benchmarks/RESULTS.md).
 * A backend already started keeps its build. → a phrase for the log.
 */
async function startWasm(env: Record<string, string | undefined>): Promise<string> {
  const raw = env.BAM_WASM_THREADS;
  let threads = 1;
  if (raw !== undefined && raw !== '') {
    threads = Number(raw);
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
      throw new BamError(`BAM_WASM_THREADS must be a whole number from 1 to ${MAX_WASM_THREADS}, got '${raw}'`, 'E_BLAS', 'unset it for the single-threaded build (faster here: benchmarks/RESULTS.md)');
    }
  }
  if (wasmInitialised()) {
    const running = (tf.engine().registry.wasm as unknown as { wasm?: { tfjs?: { getThreadsCount?: () => number } } }).wasm?.tfjs?.getThreadsCount?.() ?? 1;
    return running > 1 ? `threaded-SIMD build, ${running} threads` : 'single-thread build';
  }
  if (threads === 1) return 'single-thread build';
  const started = await tryThreadedWasm(threads);
  if ('threads' in started) return `threaded-SIMD build, ${started.threads} threads`;
  return `single-thread build: the threaded one did not start (${started.error})`;
}

/** Dynamic import by a computed name, so bundlers and tsc do not require the optional package. */
async function importOptional(name: string): Promise<void> {
  await import(/* @vite-ignore */ name);
}

const CANDIDATES: Candidate[] = [
  {
    name: 'tensorflow',
    auto: true,
    async load() {
      const failures: string[] = [];
      for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
        try {
          await importOptional(pkg);
          await activate('tensorflow');
          return { tfBackend: 'tensorflow', detail: `${pkg} loaded` };
        } catch (err) {
          failures.push(`${pkg}: ${errorLine(err)}`);
        }
      }
      throw new Error(failures.join('; '));
    },
  },
  {
    // Dawn (npm `webgpu`): automatically only on a hardware adapter; see ./webgpu.ts.
    name: 'webgpu',
    auto: true,
    async load(ctx) {
      return loadWebGpuCandidate(ctx);
    },
  },
  {
    name: 'wasm',
    auto: true,
    async load(ctx) {
      await import('@tensorflow/tfjs-backend-wasm');
      const build = await startWasm(ctx.env);
      await activate('wasm');
      const blas = enableBlas({ env: ctx.env });
      return { tfBackend: 'wasm', detail: `@tensorflow/tfjs-backend-wasm (${build}); ${blas.detail}` };
    },
  },
  {
    name: 'cpu',
    auto: true,
    async load() {
      await activate('cpu');
      return { tfBackend: 'cpu', detail: 'pure-JavaScript cpu backend (slow)' };
    },
  },
];

function parseBackendName(value: string, where: string): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName;
  throw new BamError(`unknown backend '${value}' (from ${where})`, 'E_BACKEND', `choose one of: ${BACKEND_NAMES.join(', ')}`);
}

/**
 * Makes the best available tfjs backend active and says which and why. Order: tensorflow
 * (tfjs-node-gpu, then tfjs-node) → webgpu (only on a hardware adapter) → wasm → cpu. `prefer` (or env `BAM_BACKEND`) demands one
 * backend: if it cannot load, this throws a BamError with the reason instead of falling back.
 */
export async function selectBackend(opts: SelectBackendOptions = {}): Promise<BackendChoice> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((line: string) => console.error(line));
  let wanted: BackendName | undefined;
  let source = '';
  if (opts.prefer !== undefined) {
    wanted = parseBackendName(opts.prefer, 'the prefer option');
    source = 'requested by the caller';
  } else if (env.BAM_BACKEND) {
    wanted = parseBackendName(env.BAM_BACKEND, 'env BAM_BACKEND');
    source = 'requested by env BAM_BACKEND';
  }

  if (wanted) {
    const cand = CANDIDATES.find((c) => c.name === wanted)!;
    try {
      const { tfBackend, detail, adapter } = await cand.load({ requested: true, env, webgpu: opts.webgpu });
      const choice: BackendChoice = { name: cand.name, tfBackend, reason: `${source}: ${detail}`, ...(adapter ? { adapter } : {}) };
      log(`bam backend: ${choice.name} (${choice.reason})`);
      return choice;
    } catch (err) {
      if (err instanceof BamError) throw err;
      throw new BamError(
        `backend '${wanted}' (${source}) is not available: ${errorLine(err)}`,
        'E_BACKEND',
        `unset BAM_BACKEND or choose another of: ${BACKEND_NAMES.join(', ')}`,
      );
    }
  }

  const skipped: string[] = [];
  for (const cand of CANDIDATES) {
    if (!cand.auto) continue;
    try {
      const { tfBackend, detail, adapter } = await cand.load({ requested: false, env, webgpu: opts.webgpu });
      const why = skipped.length ? `; skipped ${skipped.join('; ')}` : '';
      const choice: BackendChoice = { name: cand.name, tfBackend, reason: `${detail}${why}`, ...(adapter ? { adapter } : {}) };
      log(`bam backend: ${choice.name} (${choice.reason})`);
      return choice;
    } catch (err) {
      // A wrong BAM_BLAS / BAM_BLAS_THREADS / BAM_WASM_THREADS is the user's to fix, not a reason to fall back to cpu.
      if (err instanceof BamError && err.code === 'E_BLAS') throw err;
      skipped.push(`${cand.name} (${errorLine(err)})`);
    }
  }
  throw new BamError(`no tfjs backend could be started: ${skipped.join('; ')}`, 'E_BACKEND');
}
