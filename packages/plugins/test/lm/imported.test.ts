/**
 * Scoring an imported model (`bam import`): loadLanguageModel rebuilds the tokenizer.json the
 * checkpoint carries and conditions every text on the model's own document-start token.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PEER_PYTHON, needs } from '../../../../tools/test/components.ts';
import { createTokenizer, disposeModel, forward, importModel, loadCheckpoint, tokenizerSpecForCheckpoint } from '@bam/core';
import { loadLanguageModel } from '../../src/index.ts';

// Skipped without Debian's python3-torch (the run's last line names it; CI=true fails instead): tools/test/components.ts.
const hasTorch = await needs('pytorch');

const work = mkdtempSync(join(tmpdir(), 'bam-lm-import-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!hasTorch)('loadLanguageModel on an imported checkpoint', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    await tf.ready();
  });

  it('scores a continuation as log-softmax of the forward on <|endoftext|> + the text', async () => {
    const fx = join(work, 'fixtures');
    const peer = spawnSync(PEER_PYTHON, ['benchmarks/peers/hf_peer.py', 'fixtures', '--out', fx], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
    expect(peer.status, peer.stderr).toBe(0);
    const dir = join(work, 'llama');
    await importModel(join(fx, 'llama'), dir);
    const ckpt = loadCheckpoint(dir);
    const tok = createTokenizer(tokenizerSpecForCheckpoint(dir, ckpt.tokenizer.id));
    const ids = [260, ...tok.encode('the cat')]; // <|endoftext|>, then "the" (257), " " (byte 32), "ca" (259), "t" (116)
    expect(ids).toEqual([260, 257, 32, 259, 116]);
    const logp = tf.tidy(() => tf.logSoftmax(forward(ckpt.model, [ids.slice(0, -1)]).logits).arraySync() as number[][][]);
    disposeModel(ckpt.model);
    // The continuation " cat" is ids 32, 259, 116 after the context "the".
    const want = logp[0][1][32] + logp[0][2][259] + logp[0][3][116];
    const lm = loadLanguageModel(dir, { batchSize: 2 });
    const [got] = await lm.loglikelihood([{ context: 'the', continuation: ' cat' }]);
    lm.dispose();
    expect(Math.abs(got.logprob - want)).toBeLessThan(1e-5);
  });
});
