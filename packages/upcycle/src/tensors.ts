/**
 * Plain-array tensors for upcycling: recipes average and copy weights by name on Float32Arrays
 * (no TF.js, so nothing to dispose and no backend in the loop), and every output array is freshly
 * allocated, so a mixture never aliases the dense models it came from (docs/style.md: branching
 * clones, never aliases).
 */
import { InvariantError, ShapeError, paramSeed, type SafeTensor } from '@bam/core';
import { mulberry32 } from '@bam/utils';

/** A float32 tensor as plain data: its shape and its row-major values. */
export interface F32Tensor {
  shape: number[];
  data: Float32Array;
}

/** Tensors by parameter name (docs/internals.md). */
export type TensorMap = Map<string, F32Tensor>;

const sizeOf = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

/** A fresh float32 copy of a safetensors tensor (any float dtype). */
export function toF32(name: string, t: SafeTensor | F32Tensor): F32Tensor {
  if ('dtype' in t && t.dtype === 'I32') throw new ShapeError(name, t.shape, t.shape, 'upcycling (I32 tensors are not parameters)');
  const data = new Float32Array(t.data.length);
  data.set(t.data);
  if (data.length !== sizeOf(t.shape)) throw new InvariantError(`tensor '${name}' holds ${data.length} values for shape [${t.shape.join(', ')}]`);
  return { shape: [...t.shape], data };
}

/** A deep copy (new shape array, new data buffer). */
export function cloneTensor(t: F32Tensor): F32Tensor {
  return { shape: [...t.shape], data: t.data.slice() };
}

/** N deep copies of every tensor of `tensors` (the branch step: never aliases). */
export function cloneTensorMaps(tensors: ReadonlyMap<string, F32Tensor>, copies: number): TensorMap[] {
  return Array.from({ length: copies }, () => new Map([...tensors].map(([n, t]) => [n, cloneTensor(t)])));
}

/**
 * The element-wise mean of equally shaped tensors, accumulated in float64 and rounded once to
 * float32 (so the result does not depend on the order beyond that rounding).
 */
export function meanTensor(name: string, parts: readonly F32Tensor[]): F32Tensor {
  if (parts.length === 0) throw new InvariantError(`mean of no tensors for '${name}'`);
  const shape = parts[0].shape;
  for (const p of parts) {
    if (p.shape.length !== shape.length || p.shape.some((d, i) => d !== shape[i])) throw new ShapeError(name, shape, p.shape, 'averaging');
  }
  const n = parts[0].data.length;
  const acc = new Float64Array(n);
  for (const p of parts) for (let i = 0; i < n; i++) acc[i] += p.data[i];
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = acc[i] / parts.length;
  return { shape: [...shape], data: out };
}

/**
 * A tensor of N(0, std²) draws: Box–Muller on mulberry32 seeded by `paramSeed(seed, name)` (the
 * FNV-1a hash core uses for parameter init), so each router is reproducible from (seed, name)
 * alone, independent of the backend and of the order tensors are built in.
 */
export function randomNormalTensor(name: string, shape: readonly number[], std: number, seed: number): F32Tensor {
  const rng = mulberry32(paramSeed(seed, name));
  const n = sizeOf(shape);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    // 1 − u keeps the log argument in (0, 1].
    const r = Math.sqrt(-2 * Math.log(1 - rng()));
    const theta = 2 * Math.PI * rng();
    data[i] = std * r * Math.cos(theta);
    if (i + 1 < n) data[i + 1] = std * r * Math.sin(theta);
  }
  return { shape: [...shape], data };
}

/** Whether two tensors have equal shapes and bit-equal values. */
export function tensorsEqual(a: F32Tensor, b: F32Tensor): boolean {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
  if (a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (!Object.is(a.data[i], b.data[i])) return false;
  return true;
}

/** As safetensors entries (F32), sharing the arrays (for `writeSafetensors` / hashing). */
export function asSafeTensors(tensors: ReadonlyMap<string, F32Tensor>): Map<string, SafeTensor> {
  return new Map([...tensors].map(([n, t]) => [n, { dtype: 'F32' as const, shape: t.shape, data: t.data }]));
}
