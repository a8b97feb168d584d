import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bam } from './helpers.ts';

const work = mkdtempSync(join(tmpdir(), 'bam-cli-upcycle-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));


/** A micro preset file (D=16, 1 layer, byte tokenizer): the whole pipeline in a few seconds. */
function presetFile(name: string, dModel = 16): string {
  const file = join(work, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      name,
      model: 'smoke',
      modelOverrides: { dModel, nHeads: 2, nLayers: 1, dFF: 32, maxSeqLen: 16 },
      batchSize: 8,
      seqLen: 16,
      stages: { seed: { steps: 3, lr: { peak: 0.003, warmup: 1 } }, experts: { steps: 2 }, mixture: { steps: 4, lr: { peak: 0.002, warmup: 1 } } },
      evalBatches: 1,
      recipes: ['btx', 'bam-full'],
    }),
  );
  return file;
}

describe('bam upcycle and the stage commands', () => {
  const preset = presetFile('micro');
  const out = join(work, 'artifacts');
  let dense: Array<{ domain: string; checkpoint: string }> = [];

  it('bam upcycle --json runs the pipeline and lists every checkpoint with tokens, FLOPs and validation losses', () => {
    const r = bam('upcycle', '--preset', preset, '--out', out, '--workers', '1', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.preset).toBe('micro');
    expect(res.rows.map((row: { model: string; budget: string }) => `${row.model}/${row.budget}`)).toEqual([
      'seed/-', 'expert code/-', 'expert law/-', 'expert math/-',
      'btx/data-matched', 'btx/compute-matched', 'bam-full/data-matched', 'bam-full/compute-matched',
    ]);
    const [btxDm, btxCm, bamDm, bamCm] = res.rows.slice(4);
    expect(btxDm.tokens).toBe(4 * 8 * 16);
    expect(btxCm.tokens).toBe(btxDm.tokens);
    expect(bamDm.tokens).toBe(btxDm.tokens);
    expect(bamCm.tokens).toBeLessThan(btxCm.tokens);
    expect(bamCm.flops).toBeLessThanOrEqual(btxCm.flops);
    expect(bamDm.totalParams).toBeGreaterThan(btxDm.totalParams);
    for (const row of res.rows) expect(row.val.mean).toBeGreaterThan(0);
    dense = res.dense;
    expect(dense.map((d) => d.domain)).toEqual(['code', 'law', 'math', 'general']);
  });

  it('a second bam upcycle reuses everything and prints the table', () => {
    const r = bam('upcycle', '--preset', preset, '--out', out, '--workers', '1');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^model\s+budget\s+params\s+active\s+tokens\s+FLOPs/);
    expect(r.stdout).toMatch(/\nbam-full\s+compute-matched\s.*reused\n/);
    expect(r.stdout).toMatch(/\n13\/13 artifacts reused;/);
    expect(r.stderr).toMatch(/stage seed: 3 steps of 8×16 on general text/);
  });

  it('bam seed and bam experts report their reused checkpoints', () => {
    const seed = bam('seed', '--preset', preset, '--out', out, '--quiet');
    expect(seed.code).toBe(0);
    expect(seed.stdout.trim()).toBe(`${'seed'.padEnd(24)} reused  ${dense[3].checkpoint}`);
    const experts = bam('experts', '--preset', preset, '--out', out, '--json');
    expect(JSON.parse(experts.stdout).checkpoints.map((c: { reused: boolean }) => c.reused)).toEqual([true, true, true, true]);
  });

  it('bam mix --from builds a mixture from dense checkpoints that bam inspect reads', () => {
    const mixed = join(work, 'kv-shared');
    const r = bam('mix', '--recipe', 'bam-kv-shared', '--from', dense.map((d) => d.checkpoint).join(','), '--out', mixed, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.layout).toEqual({ ffnExperts: [0, 1, 2, 3], attentionExperts: [0, 1, 2, 3], averageOver: [0, 1, 2, 3] });
    // The step-0 gap to the seed: the paper's top-1 without renormalisation moves the logits.
    expect(res.step0.batches).toBe(2);
    expect(res.step0.klToSeed).toBeGreaterThan(0);
    expect(res.step0.argmaxAgreement).toBeGreaterThanOrEqual(0);
    expect(res.step0.argmaxAgreement).toBeLessThanOrEqual(1);
    expect(existsSync(join(mixed, 'model.safetensors'))).toBe(true);
    const info = JSON.parse(bam('inspect', mixed, '--json').stdout);
    expect(info.config.attention).toEqual({ kind: 'moa', numExperts: 4, kvShared: true, router: { kind: 'soft' } });
    expect(info.params.total).toBe(res.params.total);
  });

  it('bam mix refuses checkpoints of different shapes, naming both', () => {
    const other = join(work, 'other');
    const wideSeed = JSON.parse(bam('seed', '--preset', presetFile('wide', 32), '--out', other, '--json').stdout).checkpoints[0].checkpoint;
    const r = bam('mix', '--recipe', 'btx', '--from', `${dense[0].checkpoint},${wideSeed}`, '--out', join(work, 'bad'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`checkpoints ${dense[0].checkpoint} and ${wideSeed} have different model configs (dModel 16 vs 32)`);
    expect(existsSync(join(work, 'bad'))).toBe(false);
  });

  it('names the known recipes and presets when given unknown ones', () => {
    const r = bam('upcycle', '--preset', preset, '--out', out, '--recipes', 'bam-ful');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown recipe 'bam-ful'[\s\S]*did you mean 'bam-full'\?/);
    const p = bam('upcycle', '--preset', 'medium', '--out', out);
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/unknown upcycle preset 'medium'[\s\S]*smoke, tiny/);
  });
});
