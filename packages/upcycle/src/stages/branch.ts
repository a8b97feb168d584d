/**
 * Stage `branch`: N−1 deep copies of the seed, one per domain (BAM paper §4.1, phase 2). Every
 * tensor is cloned into a fresh array, never aliased, so training one branch cannot touch the seed
 * or a sibling (docs/style.md).
 */
import { basename, join } from 'node:path';
import { readCheckpoint, type SafeTensor } from '@bam/core';
import type { ExpertDomain } from '../config.ts';
import type { StageOutcome } from '../store.ts';
import { toF32, type F32Tensor, type TensorMap } from '../tensors.ts';
import { saveTensors, type CheckpointStageResult, type StageContext } from './context.ts';

/** `copies` deep copies of a model's tensors: fresh arrays every one (never views of the input). */
export function branchTensors(tensors: ReadonlyMap<string, SafeTensor | F32Tensor>, copies: number): TensorMap[] {
  return Array.from({ length: copies }, () => new Map([...tensors].map(([name, t]) => [name, toF32(name, t)])));
}

/** Copies (or reuses the copy of) the seed for `domain`. */
export async function runBranchStage(ctx: StageContext, seed: StageOutcome<CheckpointStageResult>, domain: ExpertDomain): Promise<StageOutcome<CheckpointStageResult>> {
  const inputs = { parent: seed.result.contentHash, domain };
  return ctx.store.run(
    'branch',
    inputs,
    async (dir) => {
      const raw = readCheckpoint(seed.checkpointDir);
      const [tensors] = branchTensors(raw.weights, 1);
      const metrics: Record<string, number> = {};
      for (const [k, v] of Object.entries(seed.result.metrics)) if (v !== null && k.startsWith('val.')) metrics[k] = v;
      const contentHash = await saveTensors(join(dir, 'model'), {
        config: ctx.config,
        tokenizer: raw.manifest.tokenizer,
        tensors,
        trainState: { step: 0, tokensSeen: 0, flopsSpent: 0, seed: ctx.preset.seed },
        metrics,
        meta: { stage: 'branch', artifact: basename(dir), preset: ctx.preset.name, domain, branchOf: { checkpoint: seed.checkpointDir, contentHash: seed.result.contentHash } },
      });
      ctx.log(`branch ${domain}: copied the seed (${tensors.size} tensors)`);
      return { ...seed.result, checkpoint: 'model', contentHash, tokensSeen: 0, flopsSpent: 0, steps: 0, metrics };
    },
    { log: ctx.log, signal: ctx.signal },
  );
}
