import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendDurable, writeFileAtomic } from '../src/index.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'bam-utils-'));

describe('atomic files', () => {
  it('writes a file, creating its folder, and replaces an existing one without leaving a temp file', () => {
    const dir = tmp();
    const path = join(dir, 'a', 'b', 'x.json');
    writeFileAtomic(path, '{"v":1}');
    writeFileAtomic(path, new Uint8Array([65, 66]));
    expect(readFileSync(path, 'utf8')).toBe('AB');
    expect(readdirSync(join(dir, 'a', 'b'))).toEqual(['x.json']);
  });

  it('throws and leaves no temp file when the target cannot be replaced', () => {
    const dir = tmp();
    const target = join(dir, 'taken');
    writeFileAtomic(join(target, 'inner'), 'x'); // `taken` is now a folder: renaming a file onto it fails
    expect(() => writeFileAtomic(target, 'y')).toThrow(/EISDIR|EPERM|ENOTEMPTY|EEXIST/);
    expect(readdirSync(dir)).toEqual(['taken']);
  });

  it('appends whole lines durably and writes nothing for empty text', () => {
    const dir = tmp();
    const path = join(dir, 'j', 'journal.jsonl');
    appendDurable(path, '');
    expect(readdirSync(dir)).toEqual([]);
    appendDurable(path, '{"a":1}\n');
    appendDurable(path, '{"a":2}\n');
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n{"a":2}\n');
    writeFileSync(path, 'x');
    appendDurable(path, 'y');
    expect(readFileSync(path, 'utf8')).toBe('xy');
  });
});
