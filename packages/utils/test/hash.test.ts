import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bytesHash, canonicalJson, configHash, fnv1a32 } from '../src/index.ts';

describe('canonical hashing', () => {
  const config = { vocabSize: 256, nested: { b: [1, 2, { z: 1, a: null }], a: 'x', skip: undefined }, dModel: 64 };
  const text = '{"dModel":64,"nested":{"a":"x","b":[1,2,{"a":null,"z":1}]},"vocabSize":256}';

  it('sorts keys at every level, keeps array order and drops undefined fields', () => {
    expect(canonicalJson(config)).toBe(text);
    expect(canonicalJson({ b: 1, a: 2 })).toBe(canonicalJson({ a: 2, b: 1 }));
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
  });

  it('hashes a config to the sha256 of its canonical JSON, the addresses artifacts already have', () => {
    // The full digest of `text` (computed independently with Python's hashlib), so content-addressed
    // artifacts built before the move keep their addresses.
    const full = '5e4dd26126161fde95ceaaf81992bb155af7454d0bed4218de58ff996fe071f8';
    expect(createHash('sha256').update(text).digest('hex')).toBe(full);
    expect(configHash(config)).toBe(full.slice(0, 16));
    expect(configHash(config, 64)).toBe(full);
  });

  it('hashes raw bytes with sha256', () => {
    expect(bytesHash(new Uint8Array([0, 1, 2, 255]))).toBe('3d1f57c984978ef98a18378c8166c1cb8ede02c03eeb6aee7e2f121dfeee3e56');
  });

  it('gives the FNV-1a 32-bit reference values', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    // core's paramSeed(0, 'layers.0.ffn.w1') is FNV-1a of '0:layers.0.ffn.w1': the same number.
    expect(fnv1a32('0:layers.0.ffn.w1')).toBe(3368185463);
  });
});
