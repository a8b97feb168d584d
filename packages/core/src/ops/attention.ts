/**
 * Causal scaled dot-product attention as ONE op with a written-out gradient, in plain 2-D
 * products (Vaswani et al. 2017, eq. 1; the softmax gradient as in FlashAttention, Dao et al.
 * 2022, appendix B.2, without the tiling):
 *
 *     S_g = (scale·q_g)·k_m(g)ᵀ + mask     P_g = softmax(S_g)     o_g = P_g·v_m(g)
 *     dv_j = Σ_{g: m(g)=j} P_gᵀ·do_g       dP_g = do_g·v_m(g)ᵀ     dS_g = P_g ⊙ (dP_g − rowsum(dP_g ⊙ P_g))
 *     dq_g = scale·dS_g·k_m(g)             dk_j = Σ_{g: m(g)=j} dS_gᵀ·(scale·q_g)
 *
 * Why one op: on the tfjs wasm backend batched (and transposed) matMul runs near 1 GFLOP/s and
 * plain 2-D matMul at 15–25, so attention loops over the G groups with 2-D products. Built from
 * autodiff pieces, that loop puts ~4G small ops on the tape, each with its own gradient (and
 * transposes inside every matmul gradient); here the backward is 4G products and three batched
 * transposes, with no tape bookkeeping. `m(g)` maps each query group to its key/value group, so
 * the same op serves multi-head, grouped-query, and a mixture of attention experts whose groups
 * are (batch, expert, head) triples.
 */
import * as tf from '@tensorflow/tfjs';
import { BamError, ShapeError } from '../errors.ts';
import { blasActive, gemmBatch } from './blas.ts';
import { chainsOnWasm, runChain } from './kernels.ts';

/** Options of `groupedCausalAttention`. */
export interface GroupedAttentionOptions {
  /** kvOf[g]: the key/value group query group g reads (length G, values in [0, Gkv)). */
  kvOf: readonly number[];
  /** Multiplies the scores (usually 1/√Dh). */
  scale: number;
  /**
   * Additive mask [T, S] (0 = attend, −1e9 = not), the same for every group; a constant (no
   * gradient). null: every query attends to every key (one new token against a KV cache).
   */
  mask: tf.Tensor2D | null;
}

/** scores [G, T, S] + the additive mask [T, S]: one SIMD pass where bam's wasm module runs (same bits as tf.add). */
function addMask(scores: tf.Tensor, mask: tf.Tensor2D): tf.Tensor {
  return chainsOnWasm() && scores.dtype === 'float32' ? runChain('addRepeated', [scores, mask]) : tf.add(scores, mask);
}

/** The softmax's backward P ⊙ (dP − rowsum(dP ⊙ P)): one SIMD pass where bam's wasm module runs (same bits as the ops). */
function softmaxBackward(p: tf.Tensor3D, dP: tf.Tensor3D): tf.Tensor3D {
  if (chainsOnWasm() && dP.dtype === 'float32') return runChain('softmaxBackward', [p, dP]) as tf.Tensor3D;
  return tf.mul(p, tf.sub(dP, tf.sum(tf.mul(dP, p), -1, true))) as tf.Tensor3D;
}

/** `tf.customGrad` typing wants rest parameters; our op has three tensor inputs. */
type Attn3 = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.Tensor;

/** Groups of query heads reading each key/value group (the inverse of kvOf). */
function readersOf(kvOf: readonly number[], Gkv: number): number[][] {
  const readers: number[][] = Array.from({ length: Gkv }, () => []);
  kvOf.forEach((j, g) => readers[j].push(g));
  return readers;
}

/** Σ of 2-D products a_i·b_i for the listed pairs (one product when there is one pair). */
function sumOfProducts(pairs: Array<[tf.Tensor2D, tf.Tensor2D]>): tf.Tensor2D {
  const prods = pairs.map(([a, b]) => tf.matMul(a, b));
  return (prods.length === 1 ? prods[0] : tf.addN(prods)) as tf.Tensor2D;
}

function makeOp(opts: GroupedAttentionOptions, G: number, Gkv: number): Attn3 {
  const { kvOf, scale, mask } = opts;
  const readers = readersOf(kvOf, Gkv);
  return tf.customGrad(((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, save: tf.GradSaveFunc) => {
    const qs = tf.mul(q, scale) as tf.Tensor3D; // [G, T, Dh], scaled once
    const qList = tf.unstack(qs) as tf.Tensor2D[]; // G × [T, Dh]
    const ktList = tf.unstack(tf.transpose(k, [0, 2, 1])) as tf.Tensor2D[]; // Gkv × [Dh, S]
    const vList = tf.unstack(v) as tf.Tensor2D[]; // Gkv × [S, Dh]
    const scores = tf.stack(qList.map((qg, g) => tf.matMul(qg, ktList[kvOf[g]]))); // [G, T, S]
    const probs = tf.softmax(mask ? addMask(scores, mask) : scores) as tf.Tensor3D; // [G, T, S]
    const pList = tf.unstack(probs) as tf.Tensor2D[]; // G × [T, S]
    const out = tf.stack(pList.map((p, g) => tf.matMul(p, vList[kvOf[g]]))); // [G, T, Dh]
    save([qs, k, v, probs]);
    return {
      value: out,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, sp] = saved as tf.Tensor3D[];
        const dyList = tf.unstack(dy) as tf.Tensor2D[]; // G × [T, Dh]
        const vtList = tf.unstack(tf.transpose(sv, [0, 2, 1])) as tf.Tensor2D[]; // Gkv × [Dh, S]
        const ptList = tf.unstack(tf.transpose(sp, [0, 2, 1])) as tf.Tensor2D[]; // G × [S, T]
        const dv = tf.stack(readers.map((gs) => sumOfProducts(gs.map((g) => [ptList[g], dyList[g]])))); // [Gkv, S, Dh]
        const dP = tf.stack(dyList.map((d, g) => tf.matMul(d, vtList[kvOf[g]]))); // [G, T, S]
        const dS = softmaxBackward(sp, dP as tf.Tensor3D); // softmax backward, [G, T, S]
        const dsList = tf.unstack(dS) as tf.Tensor2D[]; // G × [T, S]
        const dstList = tf.unstack(tf.transpose(dS, [0, 2, 1])) as tf.Tensor2D[]; // G × [S, T]
        const kList = tf.unstack(sk) as tf.Tensor2D[]; // Gkv × [S, Dh]
        const qList2 = tf.unstack(sq) as tf.Tensor2D[]; // G × [T, Dh], already scaled
        const dq = tf.mul(tf.stack(dsList.map((d, g) => tf.matMul(d, kList[kvOf[g]]))), scale); // [G, T, Dh]
        const dk = tf.stack(readers.map((gs) => sumOfProducts(gs.map((g) => [dstList[g], qList2[g]])))); // [Gkv, S, Dh]
        return [dq, dk, dv];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as Attn3;
}

/**
 * The same op when BLAS runs wasm's products (ops/blas.ts): every product of a pass is one
 * `gemmBatch` kernel that reads transposed operands in place and sums the groups sharing a
 * key/value group, so there is no unstack, stack or transpose at all; the scale rides on α.
 */
function makeBlasOp(opts: GroupedAttentionOptions, G: number, Gkv: number): Attn3 {
  const { kvOf, scale, mask } = opts;
  const toKv = { bIndex: kvOf }; // group g reads key/value group kvOf[g]
  const intoKv = { outIndex: kvOf, outCount: Gkv }; // and its gradient sums into that group
  return tf.customGrad(((q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, save: tf.GradSaveFunc) => {
    const scores = gemmBatch(q as tf.Tensor3D, k as tf.Tensor3D, { ...toKv, transB: true, alpha: scale }); // [G, T, S]
    const probs = tf.softmax(mask ? addMask(scores, mask) : scores) as tf.Tensor3D; // [G, T, S]
    const out = gemmBatch(probs, v as tf.Tensor3D, toKv); // [G, T, Dh]
    save([q, k, v, probs]);
    return {
      value: out,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, sp] = saved as tf.Tensor3D[];
        const d = dy as tf.Tensor3D;
        const dv = gemmBatch(sp, d, { ...intoKv, transA: true }); // Σ Pᵀ·do, [Gkv, S, Dh]
        const dP = gemmBatch(d, sv, { ...toKv, transB: true }); // do·vᵀ, [G, T, S]
        const dS = softmaxBackward(sp, dP); // softmax backward
        const dq = gemmBatch(dS, sk, { ...toKv, alpha: scale }); // scale·dS·k, [G, T, Dh]
        const dk = gemmBatch(dS, sq, { ...intoKv, transA: true, alpha: scale }); // Σ scale·dSᵀ·q, [Gkv, S, Dh]
        return [dq, dk, dv];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as Attn3;
}

/**
 * Attention of G query groups over Gkv key/value groups: q [G, T, Dh], k and v [Gkv, S, Dh] →
 * [G, T, Dh], where group g attends to k, v group `kvOf[g]` under the additive `mask` [T, S]
 * (none when null).
 * Differentiable in q, k and v (one custom gradient, see the module comment). Returns a new
 * tensor owned by the caller; arguments are borrowed.
 */
export function groupedCausalAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, opts: GroupedAttentionOptions): tf.Tensor3D {
  const [G, T, Dh] = q.shape;
  const [Gkv, S] = k.shape;
  if (k.rank !== 3 || k.shape[2] !== Dh) throw new ShapeError('attention keys', [Gkv, S, Dh], k.shape, 'groupedCausalAttention');
  if (v.rank !== 3 || v.shape[0] !== Gkv || v.shape[1] !== S || v.shape[2] !== Dh) {
    throw new ShapeError('attention values', [Gkv, S, Dh], v.shape, 'groupedCausalAttention');
  }
  if (opts.mask && (opts.mask.shape[0] !== T || opts.mask.shape[1] !== S)) throw new ShapeError('attention mask', [T, S], opts.mask.shape, 'groupedCausalAttention');
  if (opts.kvOf.length !== G || opts.kvOf.some((j) => !Number.isInteger(j) || j < 0 || j >= Gkv)) {
    throw new BamError(`kvOf must list, for each of the ${G} query groups, a key/value group in [0, ${Gkv})`, 'E_SHAPE', 'this is a bug in the caller of groupedCausalAttention');
  }
  return (blasActive() ? makeBlasOp : makeOp)(opts, G, Gkv)(q, k, v) as tf.Tensor3D;
}
