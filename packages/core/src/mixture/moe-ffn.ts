/**
 * Mixture-of-experts FFN (Shazeer et al. 2017; Switch Transformer; BTX, Sukhbaatar et al. 2024;
 * BAM paper §3.1): MoE(h) = Σ_e gates[:, e] · FFN_e(h), with the gates from a `Routing`.
 *
 * The layer takes its parts from outside (mistral-inference `moe.py`): the experts are plain
 * functions `[n, D] → [n, D]` (an upcycled dense FFN each) and the routing decision is computed
 * by the caller, so one decision can be shared (tied attention, shared routers).
 *
 * Two implementations that must agree in values and gradients:
 * - `moeFfn` (the fast path) runs each expert only on the tokens routed to it: the per-expert
 *   token lists are read from the routing mask (one synchronous read of an [N, E] mask — cheap on
 *   wasm/cpu, where tensors live in host memory), rows are gathered, the expert runs on [n_e, D],
 *   its output is scaled by the gate and scatter-added back. Gather/scatter use ./dispatch.ts
 *   (gradients on native wasm kernels). Measured (wasm, one thread, N=1024, D=128, F=344, E=4,
 *   forward+backward): naive 238 ms, this path 72 ms at top-1 (128 ms at top-2), tf.gather +
 *   unsortedSegmentSum 85 ms, one-hot dispatch matmuls [n_e, N]·[N, D] 876 ms.
 *   When every expert is a bias-free SwiGLU given by its weights and products run on BLAS
 *   (`opsSettings().moeProducts === 'grouped'`, the default), the experts' products run grouped:
 *   the routed rows of all experts gathered once (expert by expert), each of the three
 *   projections ONE kernel over the experts' row segments (ops/segment-matmul.ts), one SwiGLU and
 *   one gate product over all of them, one scatter-add — ~10 kernels per direction instead of ~10
 *   per expert. Each expert's products, element-wise work and the scatter-add's sums are the
 *   per-expert path's, in its order, so the values agree bit for bit (a token's contributions from
 *   ≥ 3 experts may be summed in another order: float32 rounding).
 * - `moeFfnNaive` (the reference) runs every expert on every token and weights by the gates.
 */
import * as tf from '@tensorflow/tfjs';
import { BamError, ShapeError } from '../errors.ts';
import { syncReadsAvailable } from '../backend/webgpu-reads.ts';
import type { FfnWeights } from '../model/ffn.ts';
import { blasActive, opsSettings, segmentLinear, siluMul } from '../ops/index.ts';
import { gatherRows, scatterAddRows } from './dispatch.ts';
import { routerLosses, type RouterLosses } from './losses.ts';
import type { Routing } from './routers/types.ts';

/** One expert: maps [n, D] rows to [n, D] (e.g. an upcycled SwiGLU FFN). Must be row-wise. */
export type ExpertFn = (x: tf.Tensor2D) => tf.Tensor2D;

/** Auxiliary outputs of a mixture layer: its router losses (unweighted). */
export type MixtureAux = RouterLosses;

/** What a mixture layer returns: the output [N, D] and its aux; all owned by the caller. */
export type MixtureResult = {
  output: tf.Tensor2D;
  aux: MixtureAux;
};

function checkInputs(h: tf.Tensor2D, experts: readonly ExpertFn[], routing: Routing, where: string): [number, number, number] {
  if (h.rank !== 2) throw new ShapeError('MoE input h', [-1, -1], h.shape, where);
  const [N, D] = h.shape;
  const E = experts.length;
  if (E < 1) throw new BamError(`${where} needs at least one expert`, 'E_MIXTURE', 'pass the expert FFNs of this layer');
  if (routing.gates.shape[0] !== N || routing.gates.shape[1] !== E) {
    throw new ShapeError('routing gates', [N, E], routing.gates.shape, where);
  }
  return [N, D, E];
}

/** Token rows routed to each expert, from the [N, E] 0/1 mask (a synchronous read). */
function tokensPerExpert(mask: tf.Tensor2D): Int32Array[] {
  const [N, E] = mask.shape;
  const m = mask.dataSync();
  const counts = new Int32Array(E);
  for (let i = 0; i < N * E; i++) if (m[i] !== 0) counts[i % E]++;
  const lists = Array.from({ length: E }, (_, e) => new Int32Array(counts[e]));
  const fill = new Int32Array(E);
  for (let t = 0; t < N; t++) {
    for (let e = 0; e < E; e++) if (m[t * E + e] !== 0) lists[e][fill[e]++] = t;
  }
  return lists;
}

/**
 * The experts' SwiGLU products grouped (see the module comment): the same values as running
 * `experts` one by one. `lists` from `tokensPerExpert`; `weights[e]` is expert e's.
 */
function groupedSwiglu(h: tf.Tensor2D, weights: readonly FfnWeights[], gates: tf.Tensor2D, lists: Int32Array[]): tf.Tensor2D {
  const [N, D] = h.shape;
  const E = lists.length;
  const active = lists.flatMap((l, e) => (l.length > 0 ? [e] : [])); // experts no token chose get no gradient
  if (active.length === 0) return tf.zeros([N, D]);
  const counts = active.map((e) => lists[e].length);
  const rows = new Int32Array(counts.reduce((p, c) => p + c, 0)); // token of each routed row, expert by expert
  const cells = new Int32Array(rows.length); // its gate's flat index t·E + e
  let m = 0;
  for (const e of active) {
    for (const t of lists[e]) {
      rows[m] = t;
      cells[m++] = t * E + e;
    }
  }
  const idx = tf.tensor1d(rows, 'int32'); // [M]
  const x = gatherRows(h, idx); // [M, D]
  const pick = (name: keyof FfnWeights) => active.map((e) => weights[e][name]);
  const act = siluMul(segmentLinear(x, pick('w_gate'), counts), segmentLinear(x, pick('w_up'), counts)); // [M, F]
  const y = segmentLinear(act, pick('w_down'), counts); // [M, D]
  const g = gatherRows(tf.reshape(gates, [N * E, 1]) as tf.Tensor2D, tf.tensor1d(cells, 'int32')); // [M, 1]
  return scatterAddRows(tf.mul(y, g) as tf.Tensor2D, idx, N); // [N, D]
}

/**
 * The MoE FFN, computing each expert only on its routed tokens. h [N, D] (N = B·T), `experts`
 * E functions, `routing` over E experts. `weights` (optional): the experts' SwiGLU weights when
 * each expert is exactly `swiglu` of them (no biases), which lets the products run grouped.
 * Returns `{output [N, D], aux}` owned by the caller; arguments are borrowed. An expert that no
 * token chose is not called (its weights get no gradient, which equals the naive path's zero).
 */
export function moeFfn(h: tf.Tensor2D, experts: readonly ExpertFn[], routing: Routing, weights?: readonly FfnWeights[]): MixtureResult {
  const [N, D, E] = checkInputs(h, experts, routing, 'moeFfn');
  // webgpu in Node cannot read the mask synchronously (no OffscreenCanvas): take the reference
  // path there — same values and gradients, E× the expert compute (docs/gpu.md).
  if (!syncReadsAvailable()) return moeFfnNaive(h, experts, routing);
  if (weights && weights.length !== E) throw new BamError(`moeFfn got ${weights.length} expert weight sets for ${E} experts`, 'E_MIXTURE', 'pass one FfnWeights per expert, in expert order');
  return tf.tidy(() => {
    const lists = tokensPerExpert(routing.mask);
    if (weights && opsSettings().moeProducts === 'grouped' && blasActive() && h.dtype === 'float32') {
      return { output: groupedSwiglu(h, weights, routing.gates, lists), aux: routerLosses(routing) };
    }
    const parts: tf.Tensor2D[] = [];
    const rows: tf.Tensor1D[] = [];
    for (let e = 0; e < E; e++) {
      if (lists[e].length === 0) continue;
      const idx = tf.tensor1d(lists[e], 'int32'); // [n_e]
      const x = gatherRows(h, idx); // [n_e, D]
      const y = experts[e](x); // [n_e, D]
      if (y.rank !== 2 || y.shape[0] !== x.shape[0] || y.shape[1] !== D) {
        throw new ShapeError(`expert ${e} output`, [x.shape[0], D], y.shape, 'moeFfn');
      }
      const g = gatherRows(tf.slice(routing.gates, [0, e], [N, 1]) as tf.Tensor2D, idx); // [n_e, 1]
      parts.push(tf.mul(y, g) as tf.Tensor2D);
      rows.push(idx);
    }
    const output =
      parts.length === 0
        ? (tf.zeros([N, D]) as tf.Tensor2D)
        : scatterAddRows(tf.concat(parts, 0) as tf.Tensor2D, tf.concat(rows, 0) as tf.Tensor1D, N); // [N, D]
    return { output, aux: routerLosses(routing) };
  });
}

/**
 * The reference MoE FFN: every expert on every token, output Σ_e gates[:, e] · FFN_e(h). Same
 * contract as `moeFfn`; E times the expert compute, kept to test the fast path against.
 */
export function moeFfnNaive(h: tf.Tensor2D, experts: readonly ExpertFn[], routing: Routing): MixtureResult {
  const [N, D, E] = checkInputs(h, experts, routing, 'moeFfnNaive');
  return tf.tidy(() => {
    let output = tf.zeros([N, D]) as tf.Tensor2D;
    for (let e = 0; e < E; e++) {
      const g = tf.slice(routing.gates, [0, e], [N, 1]); // [N, 1]
      output = tf.add(output, tf.mul(experts[e](h), g)) as tf.Tensor2D; // [N, D]
    }
    return { output, aux: routerLosses(routing) };
  });
}
