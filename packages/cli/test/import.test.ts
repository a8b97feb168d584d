import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bam, peerFixtures } from './helpers.ts';
import { needs } from '../../../tools/test/components.ts';

// Skipped without Debian's python3-torch (the run's last line names it; CI=true fails instead): tools/test/components.ts.
const hasTorch = await needs('pytorch');

const work = mkdtempSync(join(tmpdir(), 'bam-cli-import-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));


describe.skipIf(!hasTorch)('bam import', () => {
  it('imports a Qwen2 folder written by the PyTorch peer into a checkpoint bam inspect accepts, and refuses a missing source with exit 2', () => {
    const fx = peerFixtures(work);
    const out = join(work, 'qwen2-ckpt');
    const r = bam('import', join(fx, 'qwen2'), '--out', out, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.source).toBe('hf:qwen2');
    expect(res.tokenizer.vocabSize).toBe(261);
    const inspect = bam('inspect', out, '--json');
    expect(inspect.code).toBe(0);
    const info = JSON.parse(inspect.stdout);
    expect(info.configHash).toBe(res.configHash);
    expect(info.tokenizer.id).toBe(res.tokenizer.id);
    expect(Object.keys(info.files).sort()).toEqual(['model.safetensors', 'tokenizer.json']);
    const bad = bam('import', join(work, 'nowhere'), '--out', out);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^bam import: import .*nowhere: not found/);
  });
});
