/** What the CLI tests share: running the real `bam` binary, and the PyTorch peer's Hugging Face fixtures. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';
import { PEER_PYTHON } from '../../../tools/test/components.ts';

/** Runs `bam ARGS` (packages/cli/bin/bam.mjs) on the wasm backend from the repository root; exit code and output. */
export function bam(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['packages/cli/bin/bam.mjs', ...args], { encoding: 'utf8', env: { ...process.env, BAM_BACKEND: 'wasm' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Writes the PyTorch peer's Hugging Face-layout fixtures (benchmarks/peers/hf_peer.py: llama, qwen2,
 * neox, ...) into `work`/fixtures and returns that folder. Needs Debian's python3-torch: callers
 * declare it with `needs('pytorch')`.
 */
export function peerFixtures(work: string): string {
  const fx = join(work, 'fixtures');
  const peer = spawnSync(PEER_PYTHON, ['benchmarks/peers/hf_peer.py', 'fixtures', '--out', fx], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
  expect(peer.status, peer.stderr).toBe(0);
  return fx;
}
