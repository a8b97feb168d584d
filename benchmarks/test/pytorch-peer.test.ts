/**
 * The PyTorch peer (benchmarks/peers/torch_peer.py) is an independent implementation of bam's
 * architecture: it reads bam's safetensors checkpoints and must produce the same logits to 1e-4.
 * This is a correctness test (nothing is timed). It needs Debian's python3-torch: when that is
 * missing it is skipped and named in the run's last line (under CI=true it fails with the install command).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { createModel, disposeModel, parseModelConfig, selectBackend, type ModelConfigInput } from '@bam/core';
import { mixtureOf, VARIANTS } from '../lib/common.ts';
import { compareLogits, peerInfo, PEER_INSTALL, runPeer } from '../lib/peer.ts';
import { needs } from '../../tools/test/components.ts';

// initStd 0.35 (not the usual 0.02) so logits are O(1–10) and routers make sharp, varied choices:
// a match to 1e-4 then means something.
const BASE: ModelConfigInput = { vocabSize: 64, dModel: 16, nHeads: 2, nLayers: 2, dFF: 24, maxSeqLen: 8, initStd: 0.35 };
const B = 2;
const T = 8;
const TOKENS = Int32Array.from({ length: B * T }, (_, i) => (i * 37 + 11) % 64);

// Skipped without pytorch (the run's last line names it; CI=true fails instead): tools/test/components.ts.
const hasPyTorch = await needs('pytorch');

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: () => {} });
  const info = peerInfo();
  if (!info.ok) throw new Error(`the PyTorch peer cannot run, so its cross-check cannot either: ${info.error}\n  install it with: ${PEER_INSTALL}`);
});

async function check(config: ModelConfigInput, seed = 3) {
  const model = createModel(parseModelConfig(config), seed);
  try {
    const before = tf.memory().numTensors;
    const m = await compareLogits(model, TOKENS, B, T);
    expect(tf.memory().numTensors).toBe(before);
    return m;
  } finally {
    disposeModel(model);
  }
}

describe.runIf(hasPyTorch)('the PyTorch peer reproduces bam logits from a saved checkpoint', () => {
  for (const variant of VARIANTS) {
    it(`matches ${variant} (soft attention routing, top-1 FFN routing) to 1e-4`, async () => {
      const m = await check(mixtureOf(parseModelConfig(BASE), variant));
      expect(m.shape).toEqual([B, T, 64]);
      expect(m.maxAbs).toBeGreaterThan(1);
      expect(m.maxAbsDiff).toBeLessThan(1e-4);
      expect(Math.abs(m.peer.loadBalance - m.bam.loadBalance)).toBeLessThan(1e-4);
      expect(Math.abs(m.peer.zLoss - m.bam.zLoss)).toBeLessThan(1e-4);
      if (variant !== 'dense') expect(m.bam.loadBalance).toBeGreaterThan(0);
    });
  }

  it('matches a sequential-block, grouped-query, tied-embedding btx with renormalised top-2 routing', async () => {
    const config = {
      ...mixtureOf(parseModelConfig({ ...BASE, nHeads: 4, nKvHeads: 2, block: 'sequential', tieEmbeddings: true }), 'btx'),
      ffn: { kind: 'moe', numExperts: 4, router: { kind: 'topk', k: 2, normalize: 'after' } },
    } as ModelConfigInput;
    const m = await check(config);
    expect(m.maxAbs).toBeGreaterThan(1);
    expect(m.maxAbsDiff).toBeLessThan(1e-4);
  });

  it('matches bam-full with top-1 attention routing and routers shared across layers', async () => {
    const config = {
      ...mixtureOf(parseModelConfig(BASE), 'bam-full'),
      attention: { kind: 'moa', numExperts: 4, kvShared: false, router: { kind: 'topk', k: 1 } },
      routing: { shareAcrossLayers: true },
    } as ModelConfigInput;
    const m = await check(config);
    expect(m.maxAbsDiff).toBeLessThan(1e-4);
  });

  it('refuses a config it does not implement, naming the router', async () => {
    const config = { ...BASE, ffn: { kind: 'moe', numExperts: 4, router: { kind: 'expert-choice', capacityFactor: 1 } } } as ModelConfigInput;
    await expect(check(config)).rejects.toThrow(/top-k FFN routing only, not 'expert-choice'/);
  });

  it('says where a checkpoint is missing', () => {
    expect(() =>
      runPeer(['logits', '--checkpoint', '/nonexistent-bam-checkpoint', '--tokens', '/dev/null', '--batch', '1', '--seq-len', '1', '--out', '/dev/null']),
    ).toThrow(/nonexistent-bam-checkpoint\/checkpoint\.json: not found/);
  });
});
