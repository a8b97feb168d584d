import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bam } from './helpers.ts';

const work = mkdtempSync(join(tmpdir(), 'bam-cli-diverge-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));


/** The command line the stop message prints after `hint:` (paths here have no spaces, so splitting on blanks is exact). */
function printedCommand(stderr: string): string[] {
  const line = stderr.split('\n').find((l) => /^\s+bam train /.test(l));
  expect(line).toBeDefined();
  return line!.trim().split(/\s+/).slice(1);
}

const trainLosses = (out: string) =>
  readFileSync(join(out, 'train.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((l) => l.kind === 'train')
    .map((l) => l.loss as number);

describe('divergence on the command line', () => {
  it('bam train at LR 1e3 stops at the divergence naming a healthy checkpoint, and the printed command with a sane LR trains on', () => {
    const out = join(work, 'X');
    const r = bam('train', '--preset', 'smoke', '--domain', 'law', '--out', out, '--steps', '60', '--checkpoint-every', '2', '--lr', '1e3', '--warmup', '50');
    expect(r.code).toBe(2);
    // Step 3's loss is the first measured on weights after an LR-20 update: far above ln 256, but finite.
    expect(r.stderr).toMatch(/bam train: divergence at step 3 \(batch 2\): loss 23\d\d is 42\d(\.\d)?× its running baseline 5\.55\d; training stopped/);
    const healthy = join(out, 'step-00000000');
    expect(r.stderr).toContain(`The last healthy checkpoint (from before the divergence) is ${healthy}`);
    expect(r.stderr).not.toMatch(/NaN|at .*\.ts:\d+/);
    const printed = printedCommand(r.stderr);
    expect(printed).toEqual(['train', '--preset', 'smoke', '--domain', 'law', '--out', out, '--steps', '60', '--checkpoint-every', '2', '--warmup', '50', '--resume-from', healthy, '--lr', '100']);

    // Plain rerun with a sane LR: refused (it would resume from the diverged step-2), with the same advice.
    const again = bam('train', '--preset', 'smoke', '--domain', 'law', '--out', out, '--steps', '60', '--checkpoint-every', '2', '--lr', '1e-3', '--warmup', '50');
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('this run stopped earlier');
    expect(printedCommand(again.stderr)).toContain(healthy);

    // The printed command with a sane LR: resumes from the healthy checkpoint and the loss falls, finite.
    const sane = printed.map((a, i) => (printed[i - 1] === '--lr' ? '1e-3' : a));
    const ok = bam(...sane, '--json');
    expect(ok.stderr).not.toMatch(/Error/);
    expect(ok.code).toBe(0);
    const res = JSON.parse(ok.stdout.trim());
    expect(res.resumedFrom).toBe(healthy);
    expect(res.startStep).toBe(0);
    expect(res.steps).toBe(60);
    const losses = trainLosses(out);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0] - 0.5);
    expect(res.finalValLoss).toBeLessThan(res.initialValLoss);
    // The diverged checkpoint was moved aside, not deleted.
    expect(readdirSync(out).some((n) => n.startsWith('step-00000002.diverged-'))).toBe(true);
  });

  it('bam upcycle with a huge seed LR stops at the divergence, and --resume-lr-scale continues that stage to the end', () => {
    const preset = join(work, 'hot.json');
    writeFileSync(
      preset,
      JSON.stringify({
        name: 'hot',
        model: 'smoke',
        modelOverrides: { dModel: 16, nHeads: 2, nLayers: 1, dFF: 32, maxSeqLen: 16 },
        batchSize: 8,
        seqLen: 16,
        // The seed trains at peak LR 1e3; the experts' LR is lrRatio × that = 1e-3.
        stages: { seed: { steps: 6, lr: { peak: 1e3, warmup: 1 } }, experts: { steps: 2, lrRatio: 1e-6 }, mixture: { steps: 4, lr: { peak: 0.002, warmup: 1 } } },
        checkpointEvery: 1,
        evalBatches: 1,
        recipes: ['btx'],
        budgets: ['data-matched'],
      }),
    );
    const out = join(work, 'artifacts');
    const r = bam('upcycle', '--preset', preset, '--out', out, '--workers', '1', '--quiet');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/seed: divergence at step \d+ \(batch \d+\): loss [\d,.]+ is [\d,.]+× its running baseline/);
    expect(r.stderr).toContain('run the same command again with --resume-lr-scale 0.1');
    expect(existsSync(out)).toBe(true);

    const ok = bam('upcycle', '--preset', preset, '--out', out, '--workers', '1', '--quiet', '--json', '--resume-lr-scale', '0.00001');
    expect(ok.stderr).not.toMatch(/Error/);
    expect(ok.code).toBe(0);
    const res = JSON.parse(ok.stdout.trim());
    const seedCkpt = JSON.parse(readFileSync(join(res.dense.at(-1).checkpoint, 'checkpoint.json'), 'utf8'));
    expect(seedCkpt.meta.lrScale).toBe(0.00001);
    expect(Number.isFinite(seedCkpt.metrics['val.mean'])).toBe(true);
    expect(seedCkpt.metrics['val.mean']).toBeLessThan(6);
    expect(res.mixtures).toHaveLength(1);
  });
});
