import * as tf from '@tensorflow/tfjs';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '@bam/core';
import {
  branchTensors,
  createStageContext,
  runBranchStage,
  runExpertStage,
  runSeedStage,
  tensorsEqual,
  toF32,
  upcycle,
  type F32Tensor,
  type UpcycleResult,
} from '../src/index.ts';
import { microPreset, scratchDirs, useWasm } from './helpers.ts';

const fresh = scratchDirs();

let sequential: UpcycleResult;
let tensorsLeft = NaN;
beforeAll(async () => {
  await useWasm();
  const before = tf.memory().numTensors;
  sequential = await upcycle(microPreset(), { artifactsDir: fresh('micro-1'), workers: 1 });
  tensorsLeft = tf.memory().numTensors - before;
});

const tensorsOf = (ckpt: string): Map<string, F32Tensor> => new Map([...readCheckpoint(ckpt).weights].map(([n, t]) => [n, toF32(n, t)]));

describe('the pipeline on this thread', () => {
  it('leaves no tensor behind (every model, batch and gradient is disposed)', () => {
    expect(tensorsLeft).toBe(0);
  });
});

describe('compute-matched mixture training', () => {
  it('gives btx and bam-full equal FLOPs within 1% while bam-full sees fewer tokens', () => {
    const btx = sequential.mixtures.find((m) => m.recipe === 'btx')!;
    const bam = sequential.mixtures.find((m) => m.recipe === 'bam-full')!;
    expect(btx.budget).toBe('compute-matched');
    expect(btx.tokensSeen).toBe(12 * 16 * 16);
    expect(bam.tokensSeen).toBe(123 * 16); // see budget.test.ts for the arithmetic
    expect(Math.abs(bam.flopsSpent / btx.flopsSpent - 1)).toBeLessThan(0.01);
    for (const m of [btx, bam]) {
      const ts = readCheckpoint(m.checkpoint).manifest.trainState;
      expect(ts.tokensSeen).toBe(m.tokensSeen);
      expect(ts.flopsSpent).toBe(m.flopsSpent);
    }
  });
});

describe('seeds', () => {
  it('a new mixtureSeed reuses the seed model and experts and builds new mixtures', async () => {
    const r = await upcycle(microPreset(), { artifactsDir: sequential.artifactsDir, workers: 1, recipes: ['btx'], mixtureSeed: 5 });
    expect(r.artifacts.filter((a) => a.reused).map((a) => a.stage)).toEqual(['seed', 'branch', 'branch', 'branch', 'expert', 'expert', 'expert']);
    expect(r.artifacts.filter((a) => !a.reused).map((a) => a.stage)).toEqual(['mix', 'train-mixture']);
    const meta = readCheckpoint(r.mixes.btx.checkpoint).manifest.meta;
    expect(meta.routerInit).toMatchObject({ seed: 5, std: 0.02 });
    expect(r.mixtures[0].hash).not.toBe(sequential.mixtures[0].hash);
    expect(r.mixtures[0].tokensSeen).toBe(sequential.mixtures[0].tokensSeen);
  });
});

describe('parallel stages', () => {
  it('build the same experts on two worker threads as on one, stop on abort releasing their locks, and resume', async () => {
    const dir = fresh('micro-2');
    const abort = new AbortController();
    const lines: string[] = [];
    const aborted = upcycle(microPreset(), {
      artifactsDir: dir,
      workers: 2,
      signal: abort.signal,
      log: (l) => {
        lines.push(l);
        if (/^train-mixture \S+ \(compute-matched\): step 2\//.test(l)) abort.abort();
      },
    });
    await expect(aborted).rejects.toMatchObject({ code: 'E_ABORTED' });
    expect(lines.filter((l) => /worker threads/.test(l))).toEqual(['starting up to 2 worker threads for 3 job(s) to build']);
    const trainDirs = readdirSync(join(dir, 'train-mixture'));
    expect(trainDirs).toHaveLength(2);
    for (const h of trainDirs) {
      expect(existsSync(join(dir, 'train-mixture', `${h}.lock`))).toBe(false);
      expect(existsSync(join(dir, 'train-mixture', h, 'DONE.json'))).toBe(false);
    }
    // Same process, same artifacts: nothing is left locked, and the run resumes where it stopped.
    const resumed = await upcycle(microPreset(), { artifactsDir: dir, workers: 1 });
    expect(resumed.artifacts.map((a) => [a.stage, a.name, a.hash])).toEqual(sequential.artifacts.map((a) => [a.stage, a.name, a.hash]));
    expect(resumed.artifacts.filter((a) => !a.reused).map((a) => a.stage)).toEqual(['train-mixture', 'train-mixture']);
    const hashOf = (ckpt: string) => readCheckpoint(ckpt).manifest.contentHash;
    expect(resumed.dense.map((d) => hashOf(d.checkpoint))).toEqual(sequential.dense.map((d) => hashOf(d.checkpoint)));
    expect(resumed.mixtures.map((m) => hashOf(m.checkpoint))).toEqual(sequential.mixtures.map((m) => hashOf(m.checkpoint)));
  });

  it('start no worker thread when every artifact of a parallel stage is built (reusing them all) or when only one job builds', async () => {
    const lines: string[] = [];
    const again = await upcycle(microPreset(), { artifactsDir: sequential.artifactsDir, workers: 2, log: (l) => lines.push(l) });
    expect(again.artifacts.every((a) => a.reused)).toBe(true);
    expect(again.artifacts.map((a) => a.hash)).toEqual(sequential.artifacts.map((a) => a.hash));
    expect(lines.filter((l) => /worker threads/.test(l))).toEqual([]);
    expect(lines.some((l) => /^expert \w+: reused /.test(l))).toBe(true);
    // One mixture to build (btx's two budgets are one run): it builds on this thread, no pool starts.
    lines.length = 0;
    const one = await upcycle(microPreset(), { artifactsDir: sequential.artifactsDir, workers: 2, recipes: ['btx'], mixtureSeed: 9, log: (l) => lines.push(l) });
    expect(one.artifacts.filter((a) => !a.reused).map((a) => a.stage)).toEqual(['mix', 'train-mixture']);
    expect(lines.filter((l) => /worker threads/.test(l))).toEqual([]);
  });
});

describe('branching', () => {
  it('makes deep copies: changing one copy leaves the source and its siblings unchanged', () => {
    const source = tensorsOf(sequential.seed.checkpoint);
    const copies = branchTensors(source, 3);
    const name = 'layers.0.attn.wq';
    for (const c of copies) expect(c.get(name)!.data.buffer).not.toBe(source.get(name)!.data.buffer);
    const before = source.get(name)!.data[0];
    copies[0].get(name)!.data[0] += 1;
    expect(source.get(name)!.data[0]).toBe(before);
    expect(copies[1].get(name)!.data[0]).toBe(before);
    expect(copies[2].get(name)!.data[0]).toBe(before);
  });

  it('training one expert leaves its siblings and the seed unchanged', async () => {
    const ctx = createStageContext(microPreset(), fresh('branch'));
    const seed = await runSeedStage(ctx);
    const branches = [];
    for (const d of ['code', 'law', 'math'] as const) branches.push(await runBranchStage(ctx, seed, d));
    const snapshot = [seed, ...branches].map((o) => tensorsOf(o.checkpointDir));
    for (const [name, t] of snapshot[0]) expect(tensorsEqual(t, snapshot[2].get(name)!), name).toBe(true);
    const law = await runExpertStage(ctx, branches[1], 'law');
    const after = [seed, ...branches].map((o) => tensorsOf(o.checkpointDir));
    snapshot.forEach((snap, i) => {
      for (const [name, t] of snap) expect(tensorsEqual(t, after[i].get(name)!), `${i}: ${name}`).toBe(true);
    });
    const trained = tensorsOf(law.checkpointDir);
    const changed = [...trained].filter(([name, t]) => !tensorsEqual(t, snapshot[2].get(name)!)).map(([n]) => n);
    // AdamW moves every parameter (norm scales included) off its branch value.
    expect(changed.length).toBe(trained.size);
  });
});

describe('an interrupted stage', () => {
  it('resumes from its last checkpoint and ends with the same weights as an uninterrupted run', async () => {
    const dir = fresh('resume');
    const opts = { recipes: ['bam-full'], workers: 1 };
    const abort = new AbortController();
    const lines: string[] = [];
    const run = upcycle(microPreset(), {
      ...opts,
      artifactsDir: dir,
      signal: abort.signal,
      log: (l) => {
        lines.push(l);
        if (l.startsWith('train-mixture bam-full (compute-matched): step 4/8')) abort.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'E_ABORTED' });
    const stageDirs = readdirSync(join(dir, 'train-mixture'));
    expect(stageDirs).toHaveLength(1);
    const stageDir = join(dir, 'train-mixture', stageDirs[0]);
    expect(existsSync(join(stageDir, 'DONE.json'))).toBe(false);
    expect(readdirSync(join(stageDir, 'train')).filter((f) => f.startsWith('step-'))).toEqual(['step-00000002']);

    const resumedLines: string[] = [];
    const resumed = await upcycle(microPreset(), { ...opts, artifactsDir: dir, log: (l) => resumedLines.push(l) });
    expect(resumedLines).toContain(`train-mixture bam-full (compute-matched): resumed from ${join(stageDir, 'train', 'step-00000002')}`);
    expect(resumed.artifacts.filter((a) => !a.reused).map((a) => a.stage)).toEqual(['train-mixture']);
    const uninterrupted = sequential.mixtures.find((m) => m.recipe === 'bam-full')!;
    const a = readCheckpoint(resumed.mixtures[0].checkpoint).manifest;
    const b = readCheckpoint(uninterrupted.checkpoint).manifest;
    expect(a.contentHash).toBe(b.contentHash);
    expect(a.trainState).toEqual(b.trainState);
    expect(resumed.mixtures[0].hash).toBe(uninterrupted.hash);
  });
});
