/**
 * Scoring through bam's LanguageModel (`loglikelihood`, `loglikelihoodRolling` of @bam/plugins'
 * `loadLanguageModel`) against the PyTorch peer scoring the same sequences from the same
 * checkpoint, batched the same way: the two must agree to 1e-4 per request. This is the
 * correctness half of benchmarks/score.ts (nothing is timed). It needs Debian's python3-torch:
 * without it the test is skipped and named in the run's last line (CI=true fails instead).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, disposeModel, parseModelConfig, saveCheckpoint, selectBackend, type ModelConfigInput } from '@bam/core';
import { loadLanguageModel } from '@bam/plugins';
import { mixtureOf, tokenizerFor, VARIANTS } from '../lib/common.ts';
import { peerInfo, PEER_INSTALL } from '../lib/peer.ts';
import { joinSequences, peerScores, requestSequences, scoringRequests, type ScoringKind } from '../lib/scoring.ts';
import { needs } from '../../tools/test/components.ts';

// Byte tokenizer (vocabulary 256) and a 16-token window, so each text needs several rolling
// windows, the last one partial, and batches of 3 pad sequences of different lengths.
// initStd 0.2 makes log-probs of order 1–10 per token and sharp router choices.
const BASE: ModelConfigInput = { vocabSize: 256, dModel: 16, nHeads: 2, nLayers: 2, dFF: 24, maxSeqLen: 16, initStd: 0.2 };
const BATCH = 3;
const TEXTS = [
  'Call me Ishmael. Some years ago, never mind how long precisely,',
  'having little or no money in my purse,',
  'and nothing particular to interest me on shore, I thought I would sail about a little.',
];

const hasPyTorch = await needs('pytorch');
const dir = mkdtempSync(join(tmpdir(), 'bam-score-test-'));

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: () => {} });
  const info = peerInfo();
  if (hasPyTorch && !info.ok) throw new Error(`the PyTorch peer cannot run: ${info.error}\n  install it with: ${PEER_INSTALL}`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.runIf(hasPyTorch)('the PyTorch peer scores documents as bam\'s LanguageModel does', () => {
  const requests = scoringRequests(TEXTS, 2, 12);
  for (const variant of VARIANTS) {
    it(`gives ${variant}'s loglikelihood and loglikelihoodRolling to 1e-4 per request`, async () => {
      const config = mixtureOf(parseModelConfig(BASE), variant);
      const ckpt = join(dir, variant);
      const model = createModel(config, 5);
      await saveCheckpoint(ckpt, { model, tokenizer: tokenizerFor(config) });
      disposeModel(model);
      const lm = loadLanguageModel(ckpt, { batchSize: BATCH });
      try {
        const ours: Record<ScoringKind, number[]> = {
          rolling: (await lm.loglikelihoodRolling(requests.rolling)).map((r) => r.logprob),
          loglikelihood: (await lm.loglikelihood(requests.loglikelihood)).map((r) => r.logprob),
        };
        const rolling = requestSequences('rolling', requests, tokenizerFor(config), config.maxSeqLen);
        const pairs = requestSequences('loglikelihood', requests, tokenizerFor(config), config.maxSeqLen);
        expect(rolling.sequences.length).toBeGreaterThan(TEXTS.length); // several windows per text
        // One peer process scores both kinds (in one batching, so batches mix them: scores do not depend on the batch).
        const peer = peerScores(ckpt, joinSequences(rolling, pairs), { batchSize: BATCH });
        const theirs: Record<ScoringKind, number[]> = { rolling: peer.logprobs.slice(0, rolling.requests), loglikelihood: peer.logprobs.slice(rolling.requests) };
        for (const kind of ['rolling', 'loglikelihood'] as const) {
          expect(theirs[kind]).toHaveLength(ours[kind].length);
          ours[kind].forEach((lp, i) => {
            expect(lp).toBeLessThan(-1); // a real score, not an empty sum
            expect(Math.abs(lp - theirs[kind][i])).toBeLessThan(1e-4);
          });
        }
      } finally {
        lm.dispose();
      }
    });
  }
});
