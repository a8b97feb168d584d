/**
 * bam's wasm SIMD kernels (kernels.wat, assembled into kernels-wasm.ts by
 * tools/build-wasm-kernels.ts), instantiated on the heap of tfjs's wasm backend: the module
 * imports that backend's `WebAssembly.Memory`, so a kernel reads and writes tensors in place, by
 * their byte offsets, with no copy. One instance per backend (per thread). AdamW and RoPE do the
 * float64 arithmetic of the JavaScript loops they replace (ops/kernels.ts) in the same order, and
 * the float32 chains the tfjs ops they replace (ops/swiglu.ts, ops/rms-norm.ts, ops/attention.ts), so each gives the
 * same bits as what it replaces; opsSettings().wasmKernels = 'js' runs the loops and ops instead.
 */
import { KERNELS_WASM, KERNELS_WASM_SHARED } from './kernels-wasm.ts';

/** The kernels' exports (offsets in bytes into the heap; see kernels.wat for each formula). */
export interface SimdKernels {
  adamw(
    p: number, m: number, v: number, g: number, op: number, om: number, ov: number, n: number,
    s: number, b1: number, c1: number, b2: number, c2: number, keep: number, step: number, sq: number, eps: number,
  ): void;
  rope(x: number, cos: number, sin: number, out: number, BT: number, T: number, H: number, Dh: number, half: number, sign: number): void;
  swiglu_fwd(g: number, s: number, u: number, gs: number, out: number, n: number): void;
  swiglu_bwd(dy: number, s: number, gs: number, u: number, dg: number, du: number, n: number): void;
  rmsnorm_fwd(x: number, w: number, xh: number, r: number, y: number, rows: number, D: number, eps: number): void;
  rmsnorm_bwd(dy: number, w: number, xh: number, r: number, dx: number, dyx: number, rows: number, D: number): void;
  softmax_bwd(p: number, dp: number, ds: number, rows: number, S: number): void;
  add_repeated(x: number, m: number, out: number, outer: number, inner: number): void;
  transpose_0213(x: number, out: number, A: number, B: number, C: number, D: number): void;
}

/** The WebAssembly API this uses (the project's TypeScript libs leave it out). */
interface WasmApi {
  Memory: abstract new (...args: never[]) => { buffer: ArrayBuffer | SharedArrayBuffer };
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: unknown };
}
type WasmModule = { readonly kind: 'compiled wasm module' };
type WasmMemory = InstanceType<WasmApi['Memory']>;
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** What of tfjs's BackendWasm this needs: its Emscripten module, whose memory is the heap. */
interface EmscriptenHeapOwner {
  wasm?: { asm?: { memory?: WasmMemory }; wasmMemory?: WasmMemory };
}

const compiled: { unshared?: WasmModule; shared?: WasmModule } = {};
const instances = new WeakMap<object, SimdKernels | null>();

function compile(shared: boolean): WasmModule {
  const key = shared ? 'shared' : 'unshared';
  return (compiled[key] ??= new WA.Module(Buffer.from(shared ? KERNELS_WASM_SHARED : KERNELS_WASM, 'base64')));
}

/**
 * The kernels on `backend`'s heap, or undefined where that heap cannot be reached (not tfjs's wasm
 * backend, or an Emscripten module of another shape): the callers then run their JavaScript loops.
 */
export function simdKernels(backend: unknown): SimdKernels | undefined {
  const owner = backend as EmscriptenHeapOwner & object;
  let k = instances.get(owner);
  if (k === undefined) {
    const memory = owner.wasm?.asm?.memory ?? owner.wasm?.wasmMemory;
    k = null;
    if (memory instanceof WA.Memory) {
      const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
      k = new WA.Instance(compile(shared), { env: { memory } }).exports as unknown as SimdKernels;
    }
    instances.set(owner, k);
  }
  return k ?? undefined;
}
