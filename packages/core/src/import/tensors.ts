/**
 * The source tensors of an import, taken by name with their expected shape: every tensor is used
 * once, and what is left at the end is an extra tensor the import does not understand. Each
 * check throws an `ImportError` naming the file and the tensor.
 */
import { BamError } from '../errors.ts';
import type { SafeTensor } from '../checkpoint/index.ts';

/** A bad model folder or file being imported: names the file and what to fix. */
export class ImportError extends BamError {
  constructor(
    readonly file: string,
    message: string,
    hint?: string,
  ) {
    super(`import ${file}: ${message}`, 'E_IMPORT', hint);
  }
}

const shapeText = (s: readonly number[]) => `[${s.join(', ')}]`;

/** Named source tensors (any float dtype, read as float32) with use tracking. */
export class SourceTensors {
  private readonly used = new Set<string>();

  /** `where(name)` names the file a tensor came from (shards differ). */
  constructor(
    private readonly tensors: ReadonlyMap<string, SafeTensor>,
    private readonly where: (name: string) => string,
  ) {}

  /** Whether the source has a tensor `name`. */
  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** The float32 data of tensor `name`, which must have `shape`; marks it used. */
  take(name: string, shape: readonly number[], why: string): Float32Array {
    const t = this.tensors.get(name);
    if (!t) throw new ImportError(this.where(name), `tensor '${name}' is missing (expected shape ${shapeText(shape)} for ${why})`, 'the weights do not match config.json; check the folder holds every shard of the model');
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ImportError(this.where(name), `tensor '${name}' has shape ${shapeText(t.shape)}, but config.json implies ${shapeText(shape)} (${why})`, 'the weights do not match config.json');
    }
    if (t.dtype === 'I32') throw new ImportError(this.where(name), `tensor '${name}' is I32; weights must be F32, F16 or BF16`);
    this.used.add(name);
    return t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
  }

  /** Throws naming the first tensor nobody took. */
  checkAllUsed(hint: string): void {
    const extra = [...this.tensors.keys()].filter((n) => !this.used.has(n));
    if (extra.length) {
      const more = extra.length > 1 ? ` (and ${extra.length - 1} more: ${extra.slice(1, 4).join(', ')}${extra.length > 4 ? ', …' : ''})` : '';
      throw new ImportError(this.where(extra[0]), `unexpected tensor '${extra[0]}'${more}`, hint);
    }
  }
}

/**
 * out [cols, rows] from a row-major src [*, cols]: out[c][r] = src[rowOf(r)][c]. With rowOf = the
 * identity it is the transpose that turns PyTorch's Linear weight [out, in] into bam's [in, out];
 * other maps pick (and reorder) rows on the way (GPT-NeoX's fused QKV, llama2.c's RoPE pairs).
 */
export function transposeRows(src: Float32Array, rows: number, cols: number, rowOf: (r: number) => number = (r) => r): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = rowOf(r) * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = src[base + c];
  }
  return out;
}
