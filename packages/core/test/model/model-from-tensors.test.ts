import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createModel, disposeModel, loadPreset, modelFromTensors, selectBackend } from '../../src/index.ts';
import { expertChoiceRoute } from '../../src/index.ts';

beforeAll(async () => {
  await selectBackend({ prefer: 'wasm' });
});

describe('modelFromTensors', () => {
  it('frees every tensor it made when the model is disposed', () => {
    const src = createModel(loadPreset('smoke'), 1);
    const before = tf.memory().numTensors;
    const copy = modelFromTensors(src.config, src.params);
    expect(tf.memory().numTensors).toBe(before + src.params.size);
    disposeModel(copy);
    expect(tf.memory().numTensors).toBe(before);
    disposeModel(src);
  });
});

describe('expert-choice routing', () => {
  it('routes a single token (one-hot of depth 1) to every expert with capacity', () => {
    const logits = tf.tensor2d([[0.5, -0.2, 1.0]]); // [N=1, E=3]
    const before = tf.memory().numTensors;
    const r = expertChoiceRoute(logits, { capacityFactor: 1 });
    expect(Array.from(r.mask.dataSync())).toEqual([1, 1, 1]);
    for (const t of Object.values(r)) if (t instanceof tf.Tensor) t.dispose();
    expect(tf.memory().numTensors).toBe(before);
    logits.dispose();
  });
});
