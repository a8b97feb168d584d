/**
 * Bring your own models: a model trained elsewhere (here the PyTorch peer's Llama, through bam
 * import) continues pre-training on one of bam's domains with `bam train --init`.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needs } from '../../../tools/test/components.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { bam, peerFixtures } from './helpers.ts';

// Debian's python3-torch writes the fixture (tools/test/components.ts: skipped with a summary line where missing, failing under CI=true).
const hasTorch = await needs('pytorch');
const work = mkdtempSync(join(tmpdir(), 'bam-cli-byo-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));


describe.skipIf(!hasTorch)('bam train --init', () => {
  it('continues pre-training an imported Llama on law with its own config and tokenizer, and refuses --init with --preset', () => {
    const fx = peerFixtures(work);
    const ckpt = join(work, 'llama');
    const imported = bam('import', join(fx, 'llama'), '--out', ckpt, '--json');
    expect(imported.code, imported.stderr).toBe(0);
    const { configHash, tokenizer } = JSON.parse(imported.stdout);
    const out = join(work, 'law');
    const r = bam('train', '--init', ckpt, '--domain', 'law', '--steps', '3', '--batch-size', '2', '--seq-len', '16', '--lr', '1e-3', '--eval-batches', '1', '--out', out, '--json');
    expect(r.code, r.stderr).toBe(0);
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
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/give exactly one of --preset P or --init CKPT/);
  });

  it('upcycles the imported Llama (seed) and its law continuation (expert) into a btx mixture on the user text, with the imported tokenizer', () => {
    const seed = join(work, 'llama');
    const imported = JSON.parse(readFileSync(join(seed, 'checkpoint.json'), 'utf8')) as { tokenizer: { id: string } };
    const trained = bam('train', '--init', seed, '--domain', 'law', '--steps', '2', '--batch-size', '2', '--seq-len', '16', '--lr', '1e-3', '--eval-batches', '1', '--out', join(work, 'law-expert'), '--json');
    expect(trained.code, trained.stderr).toBe(0);
    const lawCkpt = JSON.parse(trained.stdout.trim().split('\n').at(-1)!).checkpoint;
    const presetPath = join(work, 'llama-preset.json');
    writeFileSync(presetPath, JSON.stringify({ name: 'llama-byo', model: 'smoke', batchSize: 2, seqLen: 16, stages: { seed: { steps: 1, lr: { peak: 0.001, warmup: 0 } }, experts: { steps: 1 }, mixture: { steps: 2, lr: { peak: 0.001, warmup: 1 } } }, evalBatches: 1, recipes: ['btx'], budgets: ['data-matched'] }));
    const text = join(work, 'law.txt');
    writeFileSync(text, 'The tenant shall pay the rent on the first day of each month. '.repeat(6));
    const r = bam('upcycle', '--preset', presetPath, '--out', join(work, 'llama-byo'), '--seed', seed, '--expert', `law=${lawCkpt}`, '--data', `law=${text}`, '--workers', '1', '--json');
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.mixtures[0].tokensSeen).toBe(2 * 2 * 16);
    const saved = JSON.parse(readFileSync(join(res.mixtures[0].checkpoint, 'checkpoint.json'), 'utf8'));
    expect(saved.tokenizer.id).toBe(imported.tokenizer.id);
    expect(existsSync(join(res.mixtures[0].checkpoint, 'tokenizer.json'))).toBe(true);
  });
});

describe('bam upcycle --seed DIR --expert D=DIR --data D=FILE', () => {
  // A micro preset (D=16, 1 layer, byte tokenizer) so the whole run takes seconds.
  const preset = {
    name: 'micro',
    model: 'smoke',
    modelOverrides: { dModel: 16, nHeads: 2, nLayers: 1, dFF: 32, maxSeqLen: 16 },
    batchSize: 4,
    seqLen: 16,
    stages: { seed: { steps: 2, lr: { peak: 0.003, warmup: 1 } }, experts: { steps: 2 }, mixture: { steps: 3, lr: { peak: 0.002, warmup: 1 } } },
    evalBatches: 1,
    recipes: ['btx'],
    budgets: ['data-matched'],
  };

  it("mixes checkpoints trained elsewhere on the user's text, and refuses a bad data file and a mismatched expert with clear errors", () => {
    const presetPath = join(work, 'micro.json');
    writeFileSync(presetPath, JSON.stringify(preset));
    const made = bam('experts', '--preset', presetPath, '--out', join(work, 'elsewhere'), '--workers', '1', '--json');
    expect(made.code, made.stderr).toBe(0);
    const dense = JSON.parse(made.stdout).dense as Array<{ domain: string; checkpoint: string }>;
    const seed = dense.find((d) => d.domain === 'general')!.checkpoint;
    const code = dense.find((d) => d.domain === 'code')!.checkpoint;
    const math = dense.find((d) => d.domain === 'math')!.checkpoint;
    const text = join(work, 'code.jsonl');
    writeFileSync(text, `${JSON.stringify({ text: 'def f(x):\n    return x + 1\n'.repeat(4) })}\n`);
    const out = join(work, 'byo');
    const r = bam('upcycle', '--preset', presetPath, '--out', out, '--seed', seed, '--expert', `code=${code}`, '--expert', `math=${math}`, '--data', `code=${text}`, '--workers', '1', '--json');
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.dense.map((d: { domain: string }) => d.domain)).toEqual(['code', 'math', 'general']);
    expect(res.mixtures).toHaveLength(1);
    expect(res.mixtures[0].tokensSeen).toBe(3 * 4 * 16);
    const saved = JSON.parse(readFileSync(join(res.mixtures[0].checkpoint, 'checkpoint.json'), 'utf8'));
    expect(saved.meta.data.code.path).toBe(text);

    writeFileSync(join(work, 'bad.jsonl'), 'not json\n');
    const bad = bam('upcycle', '--preset', presetPath, '--out', out, '--seed', seed, '--expert', `code=${code}`, '--data', `code=${join(work, 'bad.jsonl')}`);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/bad\.jsonl, line 1: not valid JSON/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);

    const wide = { ...preset, modelOverrides: { ...preset.modelOverrides, dFF: 48 } };
    writeFileSync(join(work, 'wide.json'), JSON.stringify(wide));
    const w = bam('seed', '--preset', join(work, 'wide.json'), '--out', join(work, 'wide'), '--json');
    expect(w.code, w.stderr).toBe(0);
    const wideSeed = JSON.parse(w.stdout).checkpoints[0].checkpoint;
    const mismatch = bam('upcycle', '--preset', presetPath, '--out', out, '--seed', seed, '--expert', `code=${wideSeed}`);
    expect(mismatch.code).not.toBe(0);
    expect(mismatch.stderr).toMatch(/different model configs \(dFF 48 vs 32\)/);
  });
});
