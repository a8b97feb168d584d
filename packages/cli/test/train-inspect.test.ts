import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bam } from './helpers.ts';

const work = mkdtempSync(join(tmpdir(), 'bam-cli-train-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));


describe('bam train and bam inspect', () => {
  const out = join(work, 'smoke-law');

  it('bam train --json trains the smoke preset and prints one JSON line with falling losses', () => {
    const r = bam('train', '--preset', 'smoke', '--domain', 'law', '--out', out, '--steps', '24', '--batch-size', '8', '--seq-len', '32', '--lr', '3e-3', '--seed', '1', '--json');
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const res = JSON.parse(lines[0]);
    expect(res.steps).toBe(24);
    expect(res.tokensSeen).toBe(24 * 8 * 32);
    expect(res.tokenizer).toBe('byte-256');
    expect(res.initialValLoss).toBeGreaterThan(5.3); // ln 256 = 5.55 at init
    expect(res.finalValLoss).toBeLessThan(0.9 * res.initialValLoss);
    expect(res.finalTrainLoss).toBeLessThan(res.initialTrainLoss);
    expect(res.tokensPerSecond).toBeGreaterThan(0);
    expect(res.checkpoint).toBe(join(out, 'step-00000024'));
    expect(existsSync(join(out, 'step-00000024', 'model.safetensors'))).toBe(true);
    const log = readFileSync(join(out, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.filter((l) => l.kind === 'train').map((l) => l.step)).toEqual([10, 20, 24]);
  });

  it('bam inspect --json reports the config, tokenizer, training state and parameter counts', () => {
    const r = bam('inspect', join(out, 'step-00000024'), '--json');
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.config.dModel).toBe(32);
    expect(info.tokenizer).toEqual({ id: 'byte-256', vocabSize: 256 });
    expect(info.trainState).toMatchObject({ step: 24, tokensSeen: 24 * 8 * 32, seed: 1, dataPosition: 24 });
    // smoke: embed 256·32 + head 32·256 + 2 layers × (norm 32 + 4·32·32 attention + 3·32·88 SwiGLU) + final norm 32
    const total = 2 * 256 * 32 + 2 * (32 + 4 * 32 * 32 + 3 * 32 * 88) + 32;
    expect(info.params).toEqual({ total, active: total, tensors: 3 + 2 * 8 });
    expect(info.optimizer).toEqual({ step: 24, tensors: 2 * 19 });
    const human = bam('inspect', join(out, 'step-00000024'));
    expect(human.stdout).toContain(`total ${total.toLocaleString('en')}`);
    expect(human.stdout).toContain('byte-256');
  });

  it('bam train resumes a finished run without training again', () => {
    const r = bam('train', '--preset', 'smoke', '--domain', 'law', '--out', out, '--steps', '24', '--batch-size', '8', '--seq-len', '32', '--lr', '3e-3', '--seed', '1', '--json');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.startStep).toBe(24);
    expect(res.resumedFrom).toBe(join(out, 'step-00000024'));
  });

  it('bam inspect names the damaged file and exits 2', () => {
    const path = join(out, 'step-00000024', 'model.safetensors');
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(path, bytes);
    const r = bam('inspect', join(out, 'step-00000024'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`checkpoint ${path}: hash mismatch`);
  });

  it('bam train without --domain or --mix says which flags to give', () => {
    const r = bam('train', '--preset', 'smoke', '--out', join(work, 'x'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--domain/--mix: give exactly one of --domain D or --mix "SPEC"');
  });
});
