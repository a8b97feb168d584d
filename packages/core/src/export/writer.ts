/**
 * A streaming safetensors writer for exports: the header is computed from the planned shapes,
 * then each tensor is produced and written one at a time, so an export holds the source weights
 * plus one converted tensor, never a second copy of the whole model (the benchmark's peak-memory
 * bound; benchmarks/RESULTS.md). Tensors are laid out sorted by name with the header padded to 8
 * bytes, like `encodeSafetensors` (core/src/checkpoint/safetensors.ts).
 */
import { closeSync, openSync, writeSync } from 'node:fs';

/** One tensor to write: its name, shape and a function producing its float32 data on demand. */
export interface PlannedTensor {
  name: string;
  shape: number[];
  data: () => Float32Array;
}

/** Writes `tensors` (float32, little-endian) to `path`; returns the bytes written. */
export function writeSafetensorsStreaming(path: string, tensors: readonly PlannedTensor[], metadata: Record<string, string> = {}): number {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = Object.keys(metadata).length ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const t of sorted) {
    const bytes = 4 * t.shape.reduce((a, b) => a * b, 1);
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let head = Buffer.from(JSON.stringify(header), 'utf8');
  head = Buffer.concat([head, Buffer.alloc((8 - (head.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(head.length));
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, head);
    for (const t of sorted) {
      const data = t.data();
      const want = t.shape.reduce((a, b) => a * b, 1);
      if (data.length !== want) throw new Error(`export: tensor '${t.name}' produced ${data.length} values for shape [${t.shape.join(', ')}]`);
      writeSync(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  } finally {
    closeSync(fd);
  }
  return 8 + head.length + offset;
}
