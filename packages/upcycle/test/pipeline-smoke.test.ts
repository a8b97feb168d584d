import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paramCounts, readCheckpoint } from '@bam/core';
import { checkpointRows, formatCheckpointTable, loadUpcyclePreset, presetModelConfig, recipeConfig, upcycle, type UpcycleResult } from '../src/index.ts';
import { tempDir, useWasm } from './helpers.ts';

const dir = tempDir('smoke');
let first: UpcycleResult;
const lines: string[] = [];

beforeAll(async () => {
  await useWasm();
  first = await upcycle('smoke', { artifactsDir: dir, workers: 1, log: (l) => lines.push(l) });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every file under `root` with its mtime. */
function mtimes(root: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(p, statSync(p).mtimeMs);
    }
  };
  walk(root);
  return out;
}

describe('the smoke preset pipeline', () => {
  const preset = loadUpcyclePreset('smoke');
  const dense = presetModelConfig(preset);

  it('runs end to end: seed, 3 experts, and every recipe under both budgets', () => {
    expect(first.dense.map((d) => d.domain)).toEqual(['code', 'law', 'math', 'general']);
    expect(first.seed.tokensSeen).toBe(16 * 4 * 32);
    for (const d of first.dense.slice(0, 3)) expect(d.tokensSeen).toBe(6 * 4 * 32);
    expect(first.mixtures.map((m) => `${m.recipe}/${m.budget}`)).toEqual(
      preset.recipes.flatMap((r) => [`${r as string}/data-matched`, `${r as string}/compute-matched`]),
    );
    expect(first.artifacts.filter((a) => a.reused).map((a) => a.name)).toEqual(['btx (compute-matched)', 'sparse-upcycle (compute-matched)']);
    expect(lines.some((l) => /^stage train-mixture: 16 run\(s\) \(14 distinct\)/.test(l))).toBe(true);
  });

  it("records each mixture's tokens and FLOPs in its checkpoint, as its budget planned", () => {
    for (const m of first.mixtures) {
      const raw = readCheckpoint(m.checkpoint);
      const { trainState, metrics, meta, config } = raw.manifest;
      expect(trainState.tokensSeen, m.recipe).toBe(m.plan.tokens);
      expect(trainState.flopsSpent / m.plan.flops, m.recipe).toBeCloseTo(1, 10);
      expect(trainState.step).toBe(m.plan.steps);
      expect(config).toEqual(recipeConfig(m.recipeId, dense, 4));
      expect(m.params).toEqual({ total: paramCounts(config as never).total, active: paramCounts(config as never).active });
      expect((meta.plan as { rows: number }).rows).toBe(m.plan.rows);
      // Trained a little: every domain's validation NLL is below the uniform ln 256 = 5.545.
      for (const d of ['general', 'law', 'code', 'math']) {
        expect(metrics[`val.${d}`]).toBeGreaterThan(3);
        expect(metrics[`val.${d}`]).toBeLessThan(5.545);
      }
    }
    const dm = first.mixtures.find((m) => m.recipe === 'bam-full' && m.budget === 'data-matched')!;
    const cm = first.mixtures.find((m) => m.recipe === 'bam-full' && m.budget === 'compute-matched')!;
    const btx = first.mixtures.find((m) => m.recipe === 'btx' && m.budget === 'compute-matched')!;
    expect(dm.tokensSeen).toBe(6 * 4 * 32);
    expect(cm.tokensSeen).toBeLessThan(dm.tokensSeen);
    expect(cm.flopsSpent).toBeLessThanOrEqual(btx.flopsSpent);
  });

  it('records the recipe, its layout, the router init and the K/V choice in the mixture meta', () => {
    const kv = readCheckpoint(first.mixes['bam-kv-shared'].checkpoint).manifest.meta;
    expect(kv).toMatchObject({ stage: 'mix', recipe: 'bam-kv-shared', experts: ['code', 'law', 'math', 'general'], routerInit: { std: 0.02, seed: 0, distribution: 'normal' } });
    expect((kv.notes as { kvInit: string }).kvInit).toMatch(/^mean/);
    expect((kv.sources as Array<{ contentHash: string }>).map((s) => s.contentHash)).toEqual(first.dense.map((d) => readCheckpoint(d.checkpoint).manifest.contentHash));
    const top3 = readCheckpoint(first.mixes['btx-top3-6'].checkpoint).manifest.meta;
    expect((top3.layout as { ffnExperts: number[] }).ffnExperts).toEqual([0, 1, 2, 3, 3, 3]);
  });

  it('prints one table row per checkpoint', () => {
    const rows = checkpointRows(first);
    expect(rows).toHaveLength(4 + 16);
    const table = formatCheckpointTable(first).split('\n');
    expect(table[0]).toMatch(/^model\s+budget\s+params\s+active\s+tokens\s+FLOPs\s+val general\s+val law\s+val code\s+val math\s+val mean$/);
    expect(table[2]).toMatch(/^seed\s+-\s+41\.57k\s+41\.57k\s+2\.05k\s/);
    expect(table.filter((l) => l.startsWith('bam-full '))).toHaveLength(2);
  });

  it('reuses every artifact on a second run with the same preset: nothing is retrained or rewritten', async () => {
    const before = mtimes(dir);
    const again = await upcycle('smoke', { artifactsDir: dir, workers: 1 });
    expect(again.artifacts.length).toBe(first.artifacts.length);
    expect(again.artifacts.every((a) => a.reused)).toBe(true);
    expect(again.artifacts.map((a) => a.hash)).toEqual(first.artifacts.map((a) => a.hash));
    expect(again.mixtures.map((m) => m.checkpoint)).toEqual(first.mixtures.map((m) => m.checkpoint));
    expect(mtimes(dir)).toEqual(before);
  });
});
