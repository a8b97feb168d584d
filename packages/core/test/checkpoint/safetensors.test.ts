import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../../src/errors.ts';
import {
  decodeSafetensors,
  encodeSafetensors,
  f16ToF32,
  f32ToF16,
  readSafetensors,
  readSafetensorsFile,
  writeSafetensors,
  type SafeTensor,
} from '../../src/checkpoint/safetensors.ts';
import { PYTHON, needs } from '../../../../tools/test/components.ts';

const work = mkdtempSync(join(tmpdir(), 'bam-st-'));
// Skipped without numpy (the run's last line names it; CI=true fails instead): tools/test/components.ts.
const hasNumpy = await needs('numpy');

afterAll(() => rmSync(work, { recursive: true, force: true }));

function python(script: string): string {
  const r = spawnSync(PYTHON, ['-c', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return r.stdout;
}

function catchError(fn: () => unknown): CheckpointError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CheckpointError);
    return err as CheckpointError;
  }
  throw new Error('expected a CheckpointError');
}

const sample = (): Map<string, SafeTensor> =>
  new Map<string, SafeTensor>([
    ['layers.0.attn.wq', { dtype: 'F32', shape: [2, 3], data: Float32Array.from([0.5, -1.25, 3, 1e-7, -0, 65504]) }],
    ['embed.weight', { dtype: 'F32', shape: [3], data: Float32Array.from([Math.PI, -Math.E, 1 / 3]) }],
    ['step', { dtype: 'I32', shape: [], data: Int32Array.from([-123456789]) }],
    ['half', { dtype: 'F16', shape: [4], data: Float32Array.from([1, -2.5, 0.099975586, 65504]) }],
    ['bf', { dtype: 'BF16', shape: [2], data: Float32Array.from([1.5, -3]) }],
    ['f64', { dtype: 'F64', shape: [2], data: Float64Array.from([Math.PI, 1e300]) }],
  ]);

describe('safetensors', () => {
  it('round-trips every dtype bit for bit, sorted by name, with metadata', () => {
    const bytes = encodeSafetensors(sample(), { format: 'bam', note: 'x' });
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLen) % 8).toBe(0);
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(metadata).toEqual({ format: 'bam', note: 'x' });
    expect([...tensors.keys()]).toEqual(['bf', 'embed.weight', 'f64', 'half', 'layers.0.attn.wq', 'step']);
    for (const [name, t] of sample()) {
      const got = tensors.get(name)!;
      expect(got.dtype).toBe(t.dtype);
      expect(got.shape).toEqual(t.shape);
      expect(Array.from(got.data)).toEqual(Array.from(t.data));
    }
    expect(Object.is(tensors.get('layers.0.attn.wq')!.data[4], -0)).toBe(true);
  });

  it('gives equal bytes for equal contents whatever the insertion order', () => {
    const a = encodeSafetensors(sample());
    const b = encodeSafetensors(new Map([...sample().entries()].reverse()));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  it('rounds floats to half precision to nearest even', () => {
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f16ToF32(f32ToF16(1 + 2 ** -11))).toBe(1); // a tie rounds to the even mantissa
    expect(f16ToF32(f32ToF16(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9);
    expect(f16ToF32(f32ToF16(65520))).toBe(Infinity);
    expect(f16ToF32(f32ToF16(2 ** -24))).toBe(2 ** -24);
    expect(f16ToF32(f32ToF16(-(2 ** -20) * 3))).toBe(-(2 ** -20) * 3);
    expect(Number.isNaN(f16ToF32(f32ToF16(NaN)))).toBe(true);
  });

  it.runIf(hasNumpy)('writes a file numpy reads with the same values', () => {
    const path = join(work, 'ours.safetensors');
    const data = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i) * 10);
    writeSafetensors(path, { 'lm_head.weight': { dtype: 'F32', shape: [4, 6], data }, ids: { dtype: 'I32', shape: [3], data: Int32Array.from([7, -8, 9]) } }, { format: 'bam' });
    const out = python(`
import json, struct, numpy as np
raw = open(${JSON.stringify(path)}, 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
h = json.loads(raw[8:8+n]); body = raw[8+n:]
dt = {'F32': '<f4', 'I32': '<i4'}
res = {'meta': h.pop('__metadata__')}
for k, v in h.items():
    b, e = v['data_offsets']
    a = np.frombuffer(body[b:e], dtype=dt[v['dtype']]).reshape(v['shape'])
    res[k] = {'shape': list(a.shape), 'sum': float(a.astype(np.float64).sum()), 'values': a.ravel().tolist()}
print(json.dumps(res))`);
    const res = JSON.parse(out);
    expect(res.meta).toEqual({ format: 'bam' });
    expect(res['lm_head.weight'].shape).toEqual([4, 6]);
    expect(res['lm_head.weight'].values).toEqual(Array.from(data));
    expect(res['lm_head.weight'].sum).toBeCloseTo(Array.from(data).reduce((a, b) => a + b, 0), 5);
    expect(res.ids.values).toEqual([7, -8, 9]);
  });

  it.runIf(hasNumpy)('reads a file numpy wrote, including float16 and float64', () => {
    const path = join(work, 'numpy.safetensors');
    python(`
import json, struct, numpy as np
w = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
h16 = np.array([0.1, -2.0, 1000.0], dtype=np.float16)
d = np.array([1.0/3.0, -2.5], dtype=np.float64)
i = np.array([[1, -2], [3, 2147483647]], dtype=np.int32)
items = [('a.weight', 'F32', w), ('b.half', 'F16', h16), ('c.f64', 'F64', d), ('d.ids', 'I32', i)]
header, body, off = {'__metadata__': {'source': 'numpy'}}, b'', 0
for name, dt, a in items:
    b = a.astype(a.dtype.newbyteorder('<')).tobytes()
    header[name] = {'dtype': dt, 'shape': list(a.shape), 'data_offsets': [off, off + len(b)]}
    body += b; off += len(b)
hj = json.dumps(header).encode()
open(${JSON.stringify(path)}, 'wb').write(struct.pack('<Q', len(hj)) + hj + body)`);
    const { tensors, metadata } = readSafetensorsFile(path);
    expect(metadata).toEqual({ source: 'numpy' });
    const a = tensors.get('a.weight')!;
    expect(a.shape).toEqual([3, 4]);
    expect(Array.from(a.data)).toEqual(Array.from({ length: 12 }, (_, k) => Math.fround(Math.fround(k) / 7)));
    expect(Array.from(tensors.get('b.half')!.data)).toEqual([0.0999755859375, -2, 1000]);
    expect(Array.from(tensors.get('c.f64')!.data)).toEqual([1 / 3, -2.5]);
    expect(tensors.get('d.ids')!.data).toBeInstanceOf(Int32Array);
    expect(Array.from(tensors.get('d.ids')!.data)).toEqual([1, -2, 3, 2147483647]);
  });

  it('names the file and tensor when the data is truncated', () => {
    const path = join(work, 'trunc.safetensors');
    const bytes = encodeSafetensors(sample());
    writeFileSync(path, bytes.subarray(0, bytes.length - 4));
    const err = catchError(() => readSafetensors(path));
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/truncated: tensor 'step' ends at data byte \d+ but the file holds only \d+ data bytes/);
  });

  it('rejects a missing file, a short file, a huge header length, bad JSON and trailing bytes', () => {
    expect(catchError(() => readSafetensors(join(work, 'nope.safetensors'))).message).toContain('file not found');
    expect(catchError(() => decodeSafetensors(new Uint8Array(5), 'f')).message).toContain('shorter than the 8-byte header length');
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    expect(catchError(() => decodeSafetensors(huge, 'f')).message).toContain('corrupt or truncated header');
    const good = encodeSafetensors(sample());
    const badJson = good.slice();
    badJson[8] = 0x7a; // '{' → 'z'
    expect(catchError(() => decodeSafetensors(badJson, 'f')).message).toContain('not valid JSON');
    const trailing = new Uint8Array(good.length + 4);
    trailing.set(good);
    expect(catchError(() => decodeSafetensors(trailing, 'f')).message).toContain('trailing bytes');
  });

  it('rejects offsets that do not match the dtype and shape, and holes', () => {
    const mk = (header: object, dataBytes: number): Uint8Array => {
      const hj = Buffer.from(JSON.stringify(header));
      const out = new Uint8Array(8 + hj.length + dataBytes);
      new DataView(out.buffer).setBigUint64(0, BigInt(hj.length), true);
      out.set(hj, 8);
      return out;
    };
    const wrongLen = mk({ x: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } }, 12);
    expect(catchError(() => decodeSafetensors(wrongLen, 'f')).message).toContain("tensor 'x' spans 12 bytes but F32 [2, 2] needs 16");
    const hole = mk({ x: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8);
    expect(catchError(() => decodeSafetensors(hole, 'f')).message).toContain("tensor 'x' starts at data byte 4, expected 0");
    const badDtype = mk({ x: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }, 1);
    expect(catchError(() => decodeSafetensors(badDtype, 'f')).message).toContain("tensor 'x' has unsupported dtype 'Q4'");
  });

  it('refuses to write data whose length does not match the shape', () => {
    const err = catchError(() => encodeSafetensors({ w: { dtype: 'F32', shape: [2, 3], data: new Float32Array(5) } }));
    expect(err.message).toContain("tensor 'w' has 5 values but shape [2, 3] needs 6");
  });

  it('leaves no temporary file beside the written file', () => {
    const dir = mkdtempSync(join(work, 'atomic-'));
    const path = join(dir, 'atomic.safetensors');
    writeSafetensors(path, sample());
    writeSafetensors(path, sample());
    expect(readdirSync(dir)).toEqual(['atomic.safetensors']);
    expect(readFileSync(path).length).toBe(encodeSafetensors(sample()).length);
  });
});
