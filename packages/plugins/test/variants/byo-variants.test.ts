/**
 * The mixture variants' bring-your-own options: `seedCheckpoint`/`expertCheckpoints` (dense
 * checkpoints trained elsewhere) and `data` (the user's own text) are checked with the sweep
 * config — a bad path fails before any work — and the variant mixes the given checkpoints.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '@bam/core';
import { PluginRegistry, checkSweepConfig, type Logger } from '@bam/eval';
import { denseSourceOf, upcycle, type UpcycleResult } from '@bam/upcycle';
import { btxVariant, builtinPlugins, builtinTasks } from '../../src/index.ts';

const WORK = mkdtempSync(join(tmpdir(), 'bam-byo-variants-'));
afterAll(() => rmSync(WORK, { recursive: true, force: true }));

/** A micro preset (D=16, 1 layer, byte tokenizer), btx only, data-matched only. */
const PRESET = join(WORK, 'micro.json');
writeFileSync(
  PRESET,
  JSON.stringify({
    name: 'micro',
    model: 'smoke',
    modelOverrides: { dModel: 16, nHeads: 2, nLayers: 1, dFF: 32, maxSeqLen: 16 },
    batchSize: 4,
    seqLen: 16,
    numExperts: 3,
    domains: ['code', 'math'],
    stages: { seed: { steps: 2, lr: { peak: 0.003, warmup: 1 } }, experts: { steps: 2 }, mixture: { steps: 3, lr: { peak: 0.002, warmup: 1 } } },
    evalBatches: 1,
    recipes: ['btx'],
    budgets: ['data-matched'],
  }),
);
const TEXT = join(WORK, 'code.txt');
writeFileSync(TEXT, 'for (let i = 0; i < n; i++) total += xs[i];\n'.repeat(6));

const silent: Logger = { info: () => {}, warn: () => {} };
let elsewhere: UpcycleResult;
beforeAll(async () => {
  await selectBackend({ prefer: 'wasm', log: () => {} });
  elsewhere = await upcycle(PRESET, { artifactsDir: join(WORK, 'elsewhere'), workers: 1, until: 'experts' });
}, 120_000);

function registry(): PluginRegistry {
  const r = new PluginRegistry();
  for (const p of builtinPlugins) r.register(p);
  return r;
}

function sweep(options: Record<string, unknown>) {
  return { name: 'byo', seeds: [0], variants: [{ id: 'btx', options: { preset: PRESET, ...options } }], tasks: [{ id: builtinTasks[0].id }] };
}

describe('the mixture variants with given checkpoints and text', () => {
  const byo = () => ({ seedCheckpoint: elsewhere.seed.checkpoint, expertCheckpoints: { math: elsewhere.experts.math!.checkpoint, code: elsewhere.experts.code!.checkpoint }, data: { code: TEXT } });

  it('validates a sweep config naming the checkpoints and the text', () => {
    const { variants } = checkSweepConfig(sweep(byo()), registry());
    expect(variants[0].options).toMatchObject(byo());
  });

  it('fails the sweep check on a bad checkpoint path, a lone seed or a missing text file, naming each', () => {
    const missing = join(WORK, 'nowhere');
    expect(() => checkSweepConfig(sweep({ ...byo(), seedCheckpoint: missing }), registry())).toThrow(new RegExp(`expertCheckpoints.*${missing}`, 's'));
    expect(() => checkSweepConfig(sweep({ seedCheckpoint: elsewhere.seed.checkpoint }), registry())).toThrow(/expertCheckpoints: give seedCheckpoint and expertCheckpoints together/);
    expect(() => checkSweepConfig(sweep({ ...byo(), data: { code: join(WORK, 'nope.txt') } }), registry())).toThrow(/data\.code: data file .*nope\.txt does not exist/);
    expect(() => checkSweepConfig(sweep({ ...byo(), expertCheckpoints: { code: elsewhere.experts.code!.checkpoint, poetry: 'x' } }), registry())).toThrow(/poetry/);
  });

  it("prepares and loads a btx mixture of the given checkpoints, in the given order, whose FFN experts were the given experts'", { timeout: 120_000 }, async () => {
    const options = btxVariant.options.parse({ preset: PRESET, ...byo() });
    const ctx = { artifactsDir: join(WORK, 'artifacts'), seed: 0, logger: silent, budget: 'data-matched' as const };
    await btxVariant.prepare!(options, ctx);
    const lm = await btxVariant.create(options, ctx);
    try {
      expect(lm.info).toMatchObject({ variant: 'btx', budget: 'data-matched', tokensSeen: 3 * 4 * 16 });
    } finally {
      await lm.dispose();
    }
    const r = await upcycle(PRESET, { artifactsDir: ctx.artifactsDir, workers: 1, given: { seed: elsewhere.seed.checkpoint, experts: [{ domain: 'math', checkpoint: elsewhere.experts.math!.checkpoint }, { domain: 'code', checkpoint: elsewhere.experts.code!.checkpoint }] }, data: { code: TEXT } });
    expect(r.artifacts.every((a) => a.reused)).toBe(true);
    const mix = denseSourceOf(r.mixes.btx.checkpoint);
    const math = denseSourceOf(elsewhere.experts.math!.checkpoint);
    expect(mix.tensors.get('layers.0.ffn.experts.0.w_up')!.data).toEqual(math.tensors.get('layers.0.ffn.w_up')!.data);
  });
});
