/**
 * safetensors read/write on plain typed arrays (no tensors), so that numpy, PyTorch and the
 * upcycling recipes (which average or copy tensors by name) all read the same files.
 *
 * Format (huggingface/safetensors): 8-byte little-endian u64 header length N, then N bytes of
 * UTF-8 JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}`,
 * then the raw little-endian data; offsets are relative to the start of the data and the
 * tensors cover the data buffer exactly (no holes, no overlap).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { CheckpointError } from '../errors.ts';
import { writeFileAtomic } from '@bam/utils';

/**
 * Storage dtypes we read and write. F16 and BF16 are decoded to Float32Array on read (exactly:
 * every half value is a float) and encoded from float values on write (round to nearest even).
 */
export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I32';

/** One tensor as plain data: `data` is row-major, its length is the product of `shape`. */
export interface SafeTensor {
  dtype: SafetensorsDType;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array;
}

/** The decoded content of one safetensors file. */
export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I32: 4 };
// The format's other dtypes, sized only to check the layout of tensors a reader skips.
const OTHER_BYTES: Record<string, number> = { BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1, I16: 2, U16: 2, U32: 4, I64: 8, U64: 8 };
// A header larger than this is a corrupt length field, not a real header (the reference
// implementation uses the same 100 MB cap).
const MAX_HEADER_BYTES = 100_000_000;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function isDType(s: unknown): s is SafetensorsDType {
  return typeof s === 'string' && s in BYTES;
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * A safetensors file as its parts, in file order: the 8-byte length and the header, then each
 * tensor's little-endian bytes (views of F32/F64/I32 data where the machine is little-endian, so
 * laying out a model copies nothing). Tensors are sorted by name, so equal contents always give
 * equal bytes (checkpoint content hashes rely on it); the header is padded with spaces to a
 * multiple of 8 bytes, as the reference writer does.
 */
export interface SafetensorsLayout {
  parts: Uint8Array[];
  /** Total file size in bytes. */
  bytes: number;
}

/** The layout of tensors and string metadata as a safetensors file (see `SafetensorsLayout`). */
export function safetensorsLayout(
  tensors: Map<string, SafeTensor> | Record<string, SafeTensor>,
  metadata: Record<string, string> = {},
): SafetensorsLayout {
  const entries = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  const header: Record<string, unknown> = {};
  const metaKeys = Object.keys(metadata);
  if (metaKeys.length > 0) {
    const meta: Record<string, string> = {};
    for (const k of metaKeys.sort()) {
      if (typeof metadata[k] !== 'string') {
        throw new CheckpointError('(safetensors writer)', `metadata '${k}' is not a string`, 'safetensors metadata values must be strings; JSON.stringify them');
      }
      meta[k] = metadata[k];
    }
    header.__metadata__ = meta;
  }
  let offset = 0;
  const data: Uint8Array[] = [];
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new CheckpointError('(safetensors writer)', `'__metadata__' is reserved and cannot name a tensor`);
    if (!isDType(t.dtype)) {
      throw new CheckpointError('(safetensors writer)', `tensor '${name}' has unsupported dtype '${String(t.dtype)}'`, `use one of ${Object.keys(BYTES).join(', ')}`);
    }
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new CheckpointError('(safetensors writer)', `tensor '${name}' has an invalid shape [${t.shape.join(', ')}]`);
    }
    if (numel(t.shape) !== t.data.length) {
      throw new CheckpointError(
        '(safetensors writer)',
        `tensor '${name}' has ${t.data.length} values but shape [${t.shape.join(', ')}] needs ${numel(t.shape)}`,
      );
    }
    const bytes = encodeData(t);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    data.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  const headerLen = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (headerLen % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const head = new Uint8Array(8 + headerBytes.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  head.set(headerBytes, 8);
  return { parts: [head, ...data], bytes: head.length + offset };
}

/** The layout's bytes in one buffer. */
export function layoutBytes(layout: SafetensorsLayout): Uint8Array {
  const out = new Uint8Array(layout.bytes);
  let pos = 0;
  for (const p of layout.parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** sha256 (hex) of the layout's bytes, without joining them (= `bytesHash(layoutBytes(layout))`). */
export function layoutHash(layout: SafetensorsLayout): string {
  const h = createHash('sha256');
  for (const p of layout.parts) h.update(p);
  return h.digest('hex');
}

/** Writes the layout to `path` part by part (not atomic: callers write into a temporary folder or file). */
export function writeLayout(path: string, layout: SafetensorsLayout): void {
  const fd = openSync(path, 'w');
  try {
    for (const p of layout.parts) writeSync(fd, p);
  } finally {
    closeSync(fd);
  }
}

/** Encodes tensors and string metadata as safetensors bytes (`safetensorsLayout` joined). */
export function encodeSafetensors(
  tensors: Map<string, SafeTensor> | Record<string, SafeTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  return layoutBytes(safetensorsLayout(tensors, metadata));
}

/**
 * Decodes safetensors bytes, validating everything: header length, JSON, dtypes, shapes,
 * offsets that cover the data exactly. Any problem throws a `CheckpointError` naming `file`
 * (and the tensor, where one is at fault). Tensors `skip` names are checked for layout only and
 * left out (any dtype of the format: imports skip buffers such as GPT-NeoX's boolean masks).
 */
export function decodeSafetensors(bytes: Uint8Array, file = '(bytes)', skip?: (name: string) => boolean): SafetensorsFile {
  if (bytes.length < 8) {
    throw new CheckpointError(file, `truncated: ${bytes.length} bytes, shorter than the 8-byte header length`, 'the file is damaged; re-save it or use another checkpoint');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES) || Number(n) > bytes.length - 8) {
    throw new CheckpointError(
      file,
      `corrupt or truncated header: header length field says ${n} bytes but the file has ${bytes.length - 8} after it`,
      'the file is damaged; re-save it or use another checkpoint',
    );
  }
  const headerLen = Number(n);
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, headerLen).toString('utf8'));
  } catch (err) {
    throw new CheckpointError(file, `corrupt header: not valid JSON (${(err as Error).message})`, 'the file is damaged; re-save it or use another checkpoint');
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) {
    throw new CheckpointError(file, 'corrupt header: the JSON header is not an object');
  }
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const spans: Array<{ name: string; begin: number; end: number; dtype: SafetensorsDType; shape: number[]; skipped: boolean }> = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new CheckpointError(file, `corrupt header: '__metadata__' is not an object`);
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new CheckpointError(file, `corrupt header: metadata '${k}' is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!info || typeof info !== 'object') throw new CheckpointError(file, `corrupt header entry for tensor '${name}'`);
    const skipped = skip?.(name) === true && typeof info.dtype === 'string' && (isDType(info.dtype) || info.dtype in OTHER_BYTES);
    if (!skipped && !isDType(info.dtype)) {
      throw new CheckpointError(file, `tensor '${name}' has unsupported dtype '${String(info.dtype)}'`, `bam reads ${Object.keys(BYTES).join(', ')}; convert the tensor (e.g. numpy .astype('float32'))`);
    }
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new CheckpointError(file, `tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    }
    const off = info.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0) || off[1] < off[0]) {
      throw new CheckpointError(file, `tensor '${name}' has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    const dtype = info.dtype as SafetensorsDType;
    const want = numel(shape) * (BYTES[dtype] ?? OTHER_BYTES[dtype]);
    if (end - begin !== want) {
      throw new CheckpointError(file, `tensor '${name}' spans ${end - begin} bytes but ${dtype} [${shape.join(', ')}] needs ${want}`);
    }
    if (end > dataLen) {
      throw new CheckpointError(
        file,
        `truncated: tensor '${name}' ends at data byte ${end} but the file holds only ${dataLen} data bytes`,
        'the file is damaged (an interrupted copy?); re-save it or use another checkpoint',
      );
    }
    spans.push({ name, begin, end, dtype, shape: shape as number[], skipped });
  }
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const s of spans) {
    if (s.begin !== covered) {
      throw new CheckpointError(file, `corrupt layout: tensor '${s.name}' starts at data byte ${s.begin}, expected ${covered} (hole or overlap)`);
    }
    covered = s.end;
  }
  if (covered !== dataLen) {
    throw new CheckpointError(file, `corrupt layout: tensors cover ${covered} data bytes but the file holds ${dataLen} (trailing bytes)`);
  }
  const tensors = new Map<string, SafeTensor>();
  for (const s of spans.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (s.skipped) continue;
    const slice = bytes.subarray(dataStart + s.begin, dataStart + s.end);
    tensors.set(s.name, { dtype: s.dtype, shape: s.shape, data: decodeData(slice, s.dtype) });
  }
  return { tensors, metadata };
}

/**
 * Writes tensors to a safetensors file atomically (temp file + rename).
 * `metadata` values must be strings (the format's rule).
 */
export function writeSafetensors(
  path: string,
  tensors: Map<string, SafeTensor> | Record<string, SafeTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const bytes = encodeSafetensors(tensors, metadata);
  writeFileAtomic(path, bytes);
  return bytes;
}

/** Reads a safetensors file into plain typed arrays by name; throws `CheckpointError` naming the file. */
export function readSafetensors(path: string): Map<string, SafeTensor> {
  return readSafetensorsFile(path).tensors;
}

/** Like `readSafetensors`, also returning the `__metadata__` strings. */
export function readSafetensorsFile(path: string): SafetensorsFile {
  if (!existsSync(path)) throw new CheckpointError(path, 'file not found', 'check the path; a checkpoint directory holds model.safetensors and checkpoint.json');
  return decodeSafetensors(readFileSync(path), path);
}

function encodeData(t: SafeTensor): Uint8Array {
  const n = t.data.length;
  switch (t.dtype) {
    case 'F32':
      return toLittleEndian(t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>));
    case 'F64':
      return toLittleEndian(t.data instanceof Float64Array ? t.data : Float64Array.from(t.data as ArrayLike<number>));
    case 'I32': {
      for (let i = 0; i < n; i++) {
        const x = t.data[i];
        if (!Number.isInteger(x) || x < -2147483648 || x > 2147483647) throw new CheckpointError('(safetensors writer)', `I32 tensor holds a non-int32 value ${x} at index ${i}`);
      }
      return toLittleEndian(t.data instanceof Int32Array ? t.data : Int32Array.from(t.data as ArrayLike<number>));
    }
    case 'F16': {
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = f32ToF16(t.data[i]);
      return toLittleEndian(out);
    }
    case 'BF16': {
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = f32ToBf16(t.data[i]);
      return toLittleEndian(out);
    }
  }
}

function decodeData(bytes: Uint8Array, dtype: SafetensorsDType): Float32Array | Float64Array | Int32Array {
  const n = bytes.length / BYTES[dtype];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // `new Uint8Array(bytes)` copies: the slice may sit at an unaligned offset of a shared (pooled)
  // Buffer, and a typed-array view needs its own aligned buffer (Buffer#slice would not copy).
  // An aligned F32 slice is viewed in place instead: a whole file read by readFileSync is its own
  // buffer, and safetensors' 8-byte-padded header keeps F32 data 4-aligned, so reading a model
  // holds its bytes once, not twice (bam export / import peak memory, benchmarks/RESULTS.md).
  switch (dtype) {
    case 'F32': {
      if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, n);
      if (LITTLE_ENDIAN) return new Float32Array(new Uint8Array(bytes).buffer);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    }
    case 'F64': {
      if (LITTLE_ENDIAN) return new Float64Array(new Uint8Array(bytes).buffer);
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      return out;
    }
    case 'I32': {
      if (LITTLE_ENDIAN) return new Int32Array(new Uint8Array(bytes).buffer);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(4 * i, true);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(2 * i, true));
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(n);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = dv.getUint16(2 * i, true) << 16;
      return out;
    }
  }
}

function toLittleEndian(a: Float32Array | Float64Array | Int32Array | Uint16Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const out = new Uint8Array(a.byteLength);
  const dv = new DataView(out.buffer);
  const w = a.BYTES_PER_ELEMENT;
  for (let i = 0; i < a.length; i++) {
    if (a instanceof Float32Array) dv.setFloat32(i * w, a[i], true);
    else if (a instanceof Float64Array) dv.setFloat64(i * w, a[i], true);
    else if (a instanceof Int32Array) dv.setInt32(i * w, a[i], true);
    else dv.setUint16(i * w, a[i], true);
  }
  return out;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE half bits → float (exact). */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** float → IEEE half bits, rounding to nearest even; overflow gives ±Infinity. */
export function f32ToF16(x: number): number {
  f32Scratch[0] = x;
  const u = u32Scratch[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to Infinity at 0x7c00).
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

/** float → bfloat16 bits, rounding to nearest even (NaN stays NaN). */
export function f32ToBf16(x: number): number {
  f32Scratch[0] = x;
  const u = u32Scratch[0];
  if ((u & 0x7f800000) === 0x7f800000 && u & 0x7fffff) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}
