import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needs } from '../../../tools/test/components.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { bam, peerFixtures } from './helpers.ts';

// Debian's python3-torch runs the peers (tools/test/components.ts: skipped with a summary line where missing, failing under CI=true).
const hasTorch = await needs('pytorch');

const work = mkdtempSync(join(tmpdir(), 'bam-cli-export-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));


describe.skipIf(!hasTorch)('bam export', () => {
  it('exports an imported Llama checkpoint as hf-llama, and answers a bad format or an inexpressible model with one line and exit 2', () => {
    const fx = peerFixtures(work);
    const ckpt = join(work, 'llama-ckpt');
    expect(bam('import', join(fx, 'llama'), '--out', ckpt).code).toBe(0);
    const out = join(work, 'llama-hf');
    const r = bam('export', ckpt, '--format', 'hf-llama', '--out', out, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.files).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    expect(res.tensors).toBe(2 + 2 * 9 + 1);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).num_key_value_heads).toBe(2);
    const badFormat = bam('export', ckpt, '--format', 'onnx', '--out', join(work, 'x'));
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toMatch(/^bam export: --format must be one of hf-llama, hf-gpt-neox, hf-mixtral, hf-qwen2-moe, bam-hf; got 'onnx'/);
    expect(badFormat.stderr.trim().split('\n')).toHaveLength(1);
    const dense = bam('export', ckpt, '--format', 'hf-mixtral', '--out', join(work, 'x'));
    expect(dense.code).toBe(2);
    expect(dense.stderr).toMatch(/^bam export: export --format hf-mixtral: the model is dense/);
    expect(dense.stderr).not.toMatch(/\n\s+at /);
  });
});
