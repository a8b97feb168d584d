/**
 * Bring your own dense models: `upcycle` with `given` checkpoints skips the seed and expert
 * stages, mixes the given models (their FFNs become the mixture's FFN experts), trains the
 * mixture, and refuses checkpoints of another architecture or tokenizer naming the field.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '@bam/core';
import { denseSourceOf, parseDataFiles, parseGivenExperts, saveTensors, toF32, upcycle, type GivenDense, type UpcycleResult } from '../src/index.ts';
import { microPreset, scratchDirs, useWasm } from './helpers.ts';

const fresh = scratchDirs();

/** Dense models trained "elsewhere": a micro pipeline's seed and experts, in their own artifacts folder. */
let elsewhere: UpcycleResult;
let given: GivenDense;
let mixed: UpcycleResult;
beforeAll(async () => {
  await useWasm();
  elsewhere = await upcycle(microPreset(), { artifactsDir: fresh('elsewhere'), workers: 1, until: 'experts' });
  given = { seed: elsewhere.seed.checkpoint, experts: parseGivenExperts([`law=${elsewhere.experts.law!.checkpoint}`, `code=${elsewhere.experts.code!.checkpoint}`]) };
  mixed = await upcycle(microPreset({ recipes: ['btx'] }), { artifactsDir: fresh('byo'), workers: 1, given });
}, 300_000);

describe('upcycling given dense checkpoints', () => {
  it('skips the seed and expert stages and takes its domains from the given experts', () => {
    expect(mixed.artifacts.map((a) => a.stage)).toEqual(['mix', 'train-mixture']);
    expect(mixed.preset.domains).toEqual(['law', 'code']);
    expect(mixed.preset.numExperts).toBe(3);
    expect(mixed.dense.map((d) => d.checkpoint)).toEqual([given.experts[0].checkpoint, given.experts[1].checkpoint, given.seed].map((p) => join(p)));
  });

  it("builds a mixture whose FFN experts are the given experts' FFNs, in the given order with the seed last", () => {
    const mix = denseSourceOf(mixed.mixes.btx.checkpoint);
    const sources = [given.experts[0].checkpoint, given.experts[1].checkpoint, given.seed].map((d) => denseSourceOf(d));
    for (const w of ['w_gate', 'w_up', 'w_down']) {
      sources.forEach((s, e) => {
        expect(mix.tensors.get(`layers.0.ffn.experts.${e}.${w}`)!.data).toEqual(s.tensors.get(`layers.0.ffn.${w}`)!.data);
      });
    }
  });

  it("hashes the given checkpoints' contents into the mix artifact, and trains the mixture", () => {
    const key = JSON.parse(readFileSync(join(mixed.mixes.btx.checkpoint, '..', 'key.json'), 'utf8'));
    const hashes = [given.experts[0].checkpoint, given.experts[1].checkpoint, given.seed].map((d) => readCheckpoint(d).manifest.contentHash);
    expect(JSON.stringify(key)).toContain(hashes[0]);
    expect(JSON.stringify(key)).toContain(hashes[1]);
    expect(JSON.stringify(key)).toContain(hashes[2]);
    const [m] = mixed.mixtures;
    expect(m.tokensSeen).toBe(m.plan.tokens);
    expect(m.tokensSeen).toBeGreaterThan(0);
    expect(Number.isFinite(m.metrics['val.mean'])).toBe(true);
    const trained = denseSourceOf(m.checkpoint);
    expect(trained.tensors.get('layers.0.ffn.experts.0.w_up')!.data).not.toEqual(denseSourceOf(mixed.mixes.btx.checkpoint).tensors.get('layers.0.ffn.experts.0.w_up')!.data);
  });

  it('reuses every artifact on a second run with the same checkpoints', async () => {
    const again = await upcycle(microPreset({ recipes: ['btx'] }), { artifactsDir: mixed.artifactsDir, workers: 1, given });
    expect(again.artifacts.every((a) => a.reused)).toBe(true);
    expect(again.mixtures[0].checkpoint).toBe(mixed.mixtures[0].checkpoint);
  });

  it('refuses an expert of another architecture, naming the differing field', async () => {
    const other = await upcycle(microPreset({ modelOverrides: { dModel: 24, nHeads: 2, nLayers: 1, dFF: 32, maxSeqLen: 16 } }), { artifactsDir: fresh('other'), workers: 1, until: 'seed' });
    const bad = { seed: given.seed, experts: parseGivenExperts([`code=${other.seed.checkpoint}`]) };
    await expect(upcycle(microPreset(), { artifactsDir: fresh('bad'), workers: 1, given: bad })).rejects.toMatchObject({ code: 'E_INCOMPATIBLE', message: expect.stringMatching(/different model configs \(dModel 24 vs 16/) });
  });

  it('refuses an expert with another tokenizer, naming both', async () => {
    const s = denseSourceOf(given.seed);
    const dir = join(fresh('tok'), 'model');
    await saveTensors(dir, { config: s.config, tokenizer: { id: 'gpt2-trunc-256', vocabSize: 256 }, tensors: new Map([...s.tensors].map(([n, t]) => [n, toF32(n, t)])), meta: {} });
    const bad = { seed: given.seed, experts: parseGivenExperts([`code=${dir}`]) };
    await expect(upcycle(microPreset(), { artifactsDir: fresh('bad'), workers: 1, given: bad })).rejects.toMatchObject({ code: 'E_INCOMPATIBLE', message: expect.stringMatching(/different tokenizers \('gpt2-trunc-256' vs 'byte-256'\)/) });
  });

  it('refuses a malformed or unknown --expert pair', () => {
    expect(() => parseGivenExperts(['code'])).toThrow(/'code' is not DOMAIN=DIR/);
    expect(() => parseGivenExperts(['poetry=x'])).toThrow(/unknown domain 'poetry'/);
    expect(() => parseGivenExperts(['code=a', 'code=b'])).toThrow(/'code' is given twice/);
  });
});

describe("the mixture phase on the user's own text", () => {
  const law = 'The party of the first part shall indemnify the party of the second part. '.repeat(8);
  const code = ['function add(a, b) { return a + b; }', 'const xs = [1, 2, 3].map((x) => x * 2);'];

  it('trains on a plain-text and a JSONL file, hashing their contents into the trained mixture', async () => {
    const dir = fresh('data');
    writeFileSync(join(dir, 'law.txt'), law);
    writeFileSync(join(dir, 'code.jsonl'), `${code.map((text) => JSON.stringify({ text })).join('\n')}\n\n`);
    const data = parseDataFiles([`law=${join(dir, 'law.txt')}`, `code=${join(dir, 'code.jsonl')}`]);
    const r = await upcycle(microPreset({ recipes: ['btx'] }), { artifactsDir: mixed.artifactsDir, workers: 1, given, data });
    // The mix is the same artifact as without data; the trained mixture is a new one.
    expect(r.mixes.btx.reused).toBe(true);
    expect(r.mixtures[0].reused).toBe(false);
    expect(r.mixtures[0].checkpoint).not.toBe(mixed.mixtures[0].checkpoint);
    expect(r.mixtures[0].tokensSeen).toBe(r.mixtures[0].plan.tokens);
    const meta = readCheckpoint(r.mixtures[0].checkpoint).manifest.meta as { data: Record<string, { sha256: string }> };
    expect(meta.data.law.sha256).toBe(createHash('sha256').update(law).digest('hex'));
    // Other text, another artifact.
    writeFileSync(join(dir, 'law.txt'), `${law}More.`);
    const r2 = await upcycle(microPreset({ recipes: ['btx'] }), { artifactsDir: mixed.artifactsDir, workers: 1, given, data });
    expect(r2.mixes.btx.reused).toBe(true);
    expect(r2.mixtures[0].hash).not.toBe(r.mixtures[0].hash);
    expect(r2.mixtures[0].reused).toBe(false);
  }, 120_000);

  it('refuses a missing file, an empty one and a bad JSONL line (by number) before any work', async () => {
    const dir = fresh('bad-data');
    const run = (data: string[]) => upcycle(microPreset({ recipes: ['btx'] }), { artifactsDir: join(dir, 'artifacts'), workers: 1, given, data: parseDataFiles(data) });
    await expect(run([`law=${join(dir, 'nope.txt')}`])).rejects.toMatchObject({ code: 'E_DATA', message: expect.stringMatching(/nope\.txt does not exist/) });
    writeFileSync(join(dir, 'empty.txt'), '  \n');
    await expect(run([`law=${join(dir, 'empty.txt')}`])).rejects.toMatchObject({ code: 'E_DATA', message: expect.stringMatching(/empty\.txt has no text/) });
    writeFileSync(join(dir, 'bad.jsonl'), '{"text": "fine"}\n{"text": 3}\n');
    await expect(run([`code=${join(dir, 'bad.jsonl')}`])).rejects.toMatchObject({ code: 'E_DATA', message: expect.stringMatching(/bad\.jsonl, line 2: expected an object with a string "text" field/) });
    writeFileSync(join(dir, 'broken.jsonl'), '{"text": "fine"}\n\n{"text": \n');
    await expect(run([`code=${join(dir, 'broken.jsonl')}`])).rejects.toMatchObject({ code: 'E_DATA', message: expect.stringMatching(/broken\.jsonl, line 3: not valid JSON/) });
    writeFileSync(join(dir, 'math.txt'), law);
    await expect(run([`math=${join(dir, 'math.txt')}`])).rejects.toMatchObject({ code: 'E_OPTION', message: expect.stringMatching(/does not train on 'math'/) });
    expect(existsSync(join(dir, 'artifacts'))).toBe(false);
  });
});
