/**
 * Bring your own models: a model trained elsewhere (here the PyTorch peer's Llama, through bam
 * import) continues pre-training on one of bam's domains with `bam train --init`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needs, PEER_PYTHON } from '../../../tools/test/components.ts';
import { afterAll, describe, expect, it } from 'vitest';

// Debian's python3-torch writes the fixture (tools/test/components.ts: skipped with a summary line where missing, failing under CI=true).
const hasTorch = await needs('pytorch');
const work = mkdtempSync(join(tmpdir(), 'bam-cli-byo-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function bam(...args: string[]) {
  return spawnSync(process.execPath, ['packages/cli/bin/bam.mjs', ...args], { encoding: 'utf8', env: { ...process.env, BAM_BACKEND: 'wasm' } });
}

describe.skipIf(!hasTorch)('bam train --init', () => {
  it('continues pre-training an imported Llama on law with its own config and tokenizer, and refuses --init with --preset', () => {
    const fx = join(work, 'fixtures');
    const peer = spawnSync(PEER_PYTHON, ['benchmarks/peers/hf_peer.py', 'fixtures', '--out', fx], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
    expect(peer.status, peer.stderr).toBe(0);
    const ckpt = join(work, 'llama');
    const imported = bam('import', join(fx, 'llama'), '--out', ckpt, '--json');
    expect(imported.status, imported.stderr).toBe(0);
    const { configHash, tokenizer } = JSON.parse(imported.stdout);
    const out = join(work, 'law');
    const r = bam('train', '--init', ckpt, '--domain', 'law', '--steps', '3', '--batch-size', '2', '--seq-len', '16', '--lr', '1e-3', '--eval-batches', '1', '--out', out, '--json');
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(res.configHash).toBe(configHash);
    expect(res.tokenizer).toBe(tokenizer.id);
    expect(res.steps).toBe(3);
    expect(Number.isFinite(res.finalTrainLoss)).toBe(true);
    // The continued model starts from the imported weights: its step-0 loss is the import's, not a fresh init's ln V.
    expect(Math.abs(res.initialTrainLoss - Math.log(261))).toBeGreaterThan(0.05);
    const saved = JSON.parse(readFileSync(join(res.checkpoint, 'checkpoint.json'), 'utf8'));
    expect(saved.tokenizer.id).toBe(tokenizer.id);
    expect(existsSync(join(res.checkpoint, 'tokenizer.json'))).toBe(true);
    expect(saved.meta.init.checkpoint).toBe(ckpt);
    const both = bam('train', '--init', ckpt, '--preset', 'smoke', '--domain', 'law', '--out', join(work, 'x'));
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/give exactly one of --preset P or --init CKPT/);
  });
});
