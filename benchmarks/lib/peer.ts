/**
 * Talking to the PyTorch peer (benchmarks/peers/torch_peer.py) from TypeScript: find it, run a
 * command, and compare its logits with bam's on the same checkpoint and tokens.
 *
 * Tokens and logits cross as raw little-endian files in a temporary directory; the peer answers
 * with one JSON line on stdout. Nothing here is timed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { BamError, forward, saveCheckpoint, type BamModel } from '@bam/core';

/** The Python that has Debian's torch (python3-torch installs for the system Python only). */
export const PEER_PYTHON = process.env.BAM_PEER_PYTHON ?? '/usr/bin/python3';
/** The peer script. */
export const PEER_SCRIPT = fileURLToPath(new URL('../peers/torch_peer.py', import.meta.url));
/** How to install the peer's dependencies (printed when they are missing). */
export const PEER_INSTALL = 'apt-get install -y python3-torch python3-numpy (Debian bookworm; the peer runs with /usr/bin/python3)';

/** What `peerInfo` reports: versions, or why the peer cannot run. */
export type PeerInfo = { ok: true; torch: string; numpy: string; threads: number; python: string } | { ok: false; error: string };

/**
 * Runs one peer command; returns its parsed JSON answer. Throws a BamError with the install hint
 * when Python or torch is missing, and with the peer's own message when it refuses the input.
 */
export function runPeer(args: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Record<string, unknown> {
  if (!existsSync(PEER_PYTHON)) {
    throw new BamError(`the PyTorch peer needs ${PEER_PYTHON}, which does not exist`, 'E_PEER', PEER_INSTALL);
  }
  const r = spawnSync(PEER_PYTHON, [PEER_SCRIPT, ...args], {
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 600_000,
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1', ...opts.env },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw new BamError(`could not run the PyTorch peer: ${r.error.message}`, 'E_PEER', PEER_INSTALL);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let answer: Record<string, unknown>;
  try {
    answer = JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new BamError(`the PyTorch peer exited with ${r.status} and no JSON answer:\n${r.stderr.slice(-2000)}`, 'E_PEER', PEER_INSTALL);
  }
  if (answer.ok !== true) {
    const hint = typeof answer.hint === 'string' ? answer.hint : 'see the message; the peer implements dense, btx, bam-full and bam-kv-shared (top-k FFN routing)';
    throw new BamError(`the PyTorch peer failed: ${String(answer.error)}`, 'E_PEER', hint);
  }
  return answer;
}

/** Versions of Python, torch and numpy, or why the peer cannot run (never throws). */
export function peerInfo(): PeerInfo {
  try {
    const a = runPeer(['info'], { timeoutMs: 120_000 });
    return { ok: true, torch: String(a.torch), numpy: String(a.numpy), threads: Number(a.threads), python: String(a.python) };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** The result of `compareLogits`. */
export interface LogitsMatch {
  /** max |bam − peer| over all logits. */
  maxAbsDiff: number;
  /** max |bam| (to judge the difference against). */
  maxAbs: number;
  /** The peer's summed router losses on the same input. */
  peer: { loadBalance: number; zLoss: number };
  /** bam's summed router losses. */
  bam: { loadBalance: number; zLoss: number };
  shape: number[];
}

/**
 * Saves `model` as a checkpoint, runs the peer's forward on `tokens` [B, T] and compares its
 * logits with bam's `forward`. The model is borrowed; temporary files are removed.
 */
export async function compareLogits(model: BamModel, tokens: Int32Array, batch: number, seqLen: number): Promise<LogitsMatch> {
  const dir = mkdtempSync(join(tmpdir(), 'bam-peer-'));
  try {
    await saveCheckpoint(join(dir, 'ckpt'), { model, tokenizer: { id: 'byte', vocabSize: Math.min(256, model.config.vocabSize) } });
    writeFileSync(join(dir, 'tokens.bin'), Buffer.from(tokens.buffer, tokens.byteOffset, tokens.byteLength));
    const answer = runPeer(['logits', '--checkpoint', join(dir, 'ckpt'), '--tokens', join(dir, 'tokens.bin'), '--batch', String(batch), '--seq-len', String(seqLen), '--out', join(dir, 'logits.bin'), '--threads', '1']);
    const bytes = readFileSync(join(dir, 'logits.bin'));
    const peer = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const input = tf.tensor2d(tokens, [batch, seqLen], 'int32');
    const out = forward(model, input);
    const ours = (await out.logits.data()) as Float32Array;
    const [lb, z] = await Promise.all([out.aux.loadBalance.data(), out.aux.zLoss.data()]);
    tf.dispose([input, out.logits, out.aux.loadBalance, out.aux.zLoss]);
    if (ours.length !== peer.length) {
      throw new BamError(`the peer returned ${peer.length} logits, bam ${ours.length}`, 'E_PEER', 'the peer and bam disagree on the output shape: a bug in the peer or in bam');
    }
    let maxAbsDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < ours.length; i++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(ours[i] - peer[i]));
      maxAbs = Math.max(maxAbs, Math.abs(ours[i]));
    }
    return {
      maxAbsDiff,
      maxAbs,
      peer: { loadBalance: Number(answer.loadBalance), zLoss: Number(answer.zLoss) },
      bam: { loadBalance: lb[0], zLoss: z[0] },
      shape: answer.shape as number[],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
