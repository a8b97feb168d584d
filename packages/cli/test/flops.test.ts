import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { layerFlops, loadPreset, paramCounts } from '@bam/core';
import { recipeConfig } from '@bam/upcycle';

const bam = (...args: string[]) => spawnSync(process.execPath, ['packages/cli/bin/bam.mjs', 'flops', ...args], { encoding: 'utf8', cwd: process.cwd() });
const json = (...args: string[]) => {
  const r = bam(...args, '--json');
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
};

describe('bam flops (CLI)', () => {
  it('prints Table 7 for paper-small variants as JSON', () => {
    const rows = json('--preset', 'paper-small', '--variant', 'all');
    const byVariant = Object.fromEntries(rows.map((r: { variant: string; perLayer: { total: number } }) => [r.variant, r]));
    expect(rows.map((r: { variant: string }) => r.variant)).toEqual(['dense', 'btx', 'bam-full', 'bam-kv-shared', 'btx-top3-6']);
    expect(byVariant['bam-full'].perLayer).toEqual({ attention: 35_651_584, ffn: 12_589_056, routers: 16_384, total: 48_257_024 });
    expect(byVariant.btx.perLayer.total).toBe(21_510_144);
    expect(byVariant['btx-top3-6'].perLayer.total).toBe(46_692_352);
    expect(byVariant.dense.params.total).toBe(587_209_728);
    const flags = json('--preset', 'paper-small', '--variant', 'btx', '--experts', '6', '--top-k', '3');
    expect(flags.perLayer.total).toBe(46_692_352);
    expect(flags.perLayer.ffn).toBe(37_767_168);
  });

  it("counts the mixture upcycle's recipe makes, for any recipe id", () => {
    const tiny = loadPreset('tiny');
    for (const [variant, experts] of [['bam-moa-top2', 3], ['btx-experts-6', 4]] as const) {
      const row = json('--preset', 'tiny', '--variant', variant, '--experts', String(experts));
      const config = recipeConfig(variant, tiny, experts);
      expect(row.perLayer).toEqual(layerFlops(config));
      expect(row.params).toEqual({ total: paramCounts(config).total, active: paramCounts(config).active });
      // bam-moa-top2 of 3 dense models: 3 experts; btx-experts-6 of 4: 6 FFN experts; both top-1 FFN routing.
      expect(row).toMatchObject({ experts: variant === 'bam-moa-top2' ? 3 : 6, topK: 1 });
    }
  });

  it('names the bad flag and the known variants on bad input', () => {
    const r = bam('--variant', 'bam-fast');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /--variant: unknown variant 'bam-fast'; known: dense, btx, bam-full, bam-kv-shared, btx-experts-<M>, btx-top3-6, bam-moa-top1, bam-moa-top2, sparse-upcycle, all/,
    );
    const k = bam('--variant', 'btx', '--top-k', '5');
    expect(k.status).toBe(2);
    expect(k.stderr).toMatch(/ffn\.router\.k: k \(5\) must be <= ffn\.numExperts \(4\)/);
    const six = bam('--variant', 'btx-top3-6', '--experts', '7');
    expect(six.status).toBe(2);
    expect(six.stderr).toMatch(/recipe 'btx-top3-6' takes at most 6 dense models, got 7/);
  });
});
