import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PEER_PYTHON, needs } from '../../../tools/test/components.ts';

// Skipped without Debian's python3-torch (the run's last line names it; CI=true fails instead): tools/test/components.ts.
const hasTorch = await needs('pytorch');

const work = mkdtempSync(join(tmpdir(), 'bam-cli-import-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function bam(...args: string[]) {
  return spawnSync(process.execPath, ['packages/cli/bin/bam.mjs', ...args], { encoding: 'utf8', env: { ...process.env, BAM_BACKEND: 'wasm' } });
}

describe.skipIf(!hasTorch)('bam import', () => {
  it('imports a Qwen2 folder written by the PyTorch peer into a checkpoint bam inspect accepts, and refuses a missing source with exit 2', () => {
    const fx = join(work, 'fixtures');
    const peer = spawnSync(PEER_PYTHON, ['benchmarks/peers/hf_peer.py', 'fixtures', '--out', fx], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
    expect(peer.status, peer.stderr).toBe(0);
    const out = join(work, 'qwen2-ckpt');
    const r = bam('import', join(fx, 'qwen2'), '--out', out, '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.source).toBe('hf:qwen2');
    expect(res.tokenizer.vocabSize).toBe(261);
    const inspect = bam('inspect', out, '--json');
    expect(inspect.status).toBe(0);
    const info = JSON.parse(inspect.stdout);
    expect(info.configHash).toBe(res.configHash);
    expect(info.tokenizer.id).toBe(res.tokenizer.id);
    expect(Object.keys(info.files).sort()).toEqual(['model.safetensors', 'tokenizer.json']);
    const bad = bam('import', join(work, 'nowhere'), '--out', out);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^bam import: import .*nowhere: not found/);
  });
});
