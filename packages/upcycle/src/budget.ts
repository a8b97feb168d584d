/**
 * Mixture-phase budgets (the BAM paper's two comparison regimes, §4.1 and Table 1):
 *
 * - data-matched: every variant trains on the same tokens, `steps · B · T`;
 * - compute-matched: every variant gets the FLOPs the reference variant (BTX) spends on those
 *   tokens, counted analytically per token with core's `trainingFlops` (3 × the Table 10 forward
 *   count at context length T), and trains on as many rows as that budget pays for. A costlier
 *   variant (BAM: N attention experts) therefore sees fewer tokens.
 *
 * A budget is met to within one row (T tokens): the run takes ⌈rows / B⌉ optimizer steps, the
 * last of which may hold fewer than B rows. So two compute-matched variants spend equal FLOPs to
 * within one row's worth, not one step's.
 */
import { BamError, trainingFlops, type ModelConfig } from '@bam/core';
import type { BatchSource, TokenBatch } from '@bam/core';
import type { Budget } from './config.ts';

/** How long one mixture trains, and what it costs. */
export interface MixturePlan {
  budget: Budget;
  /** The recipe whose data-matched FLOPs define the compute-matched budget. */
  reference: string;
  batchSize: number;
  seqLen: number;
  /** Training rows (sequences of T tokens). */
  rows: number;
  /** Optimizer steps: ⌈rows / B⌉. */
  steps: number;
  /** Rows in the last step (B unless the budget ends mid-step). */
  lastBatchRows: number;
  /** rows · T. */
  tokens: number;
  /** Training FLOPs per token of this variant: `trainingFlops(config, 1, T)`. */
  flopsPerToken: number;
  /** tokens · flopsPerToken: what the run will spend. */
  flops: number;
  /** The data-matched token count, `steps · B · T` of the preset. */
  dataMatchedTokens: number;
  /** The FLOPs budget (compute-matched: the reference's data-matched FLOPs; data-matched: null). */
  budgetFlops: number | null;
}

/** What `planMixtureTraining` needs. */
export interface PlanInput {
  budget: Budget;
  /** The variant's mixture config. */
  config: ModelConfig;
  /** The reference variant's config (BTX) and its name. */
  referenceConfig: ModelConfig;
  reference?: string;
  /** Data-matched optimizer steps (the preset's `stages.mixture.steps`). */
  steps: number;
  batchSize: number;
  seqLen: number;
}

/**
 * The plan of one mixture run under a budget (see the module comment). Throws a BamError when a
 * compute-matched budget does not pay for a single row.
 */
export function planMixtureTraining(p: PlanInput): MixturePlan {
  const { batchSize: B, seqLen: T } = p;
  const flopsPerToken = trainingFlops(p.config, 1, T);
  const dataMatchedTokens = p.steps * B * T;
  let rows: number;
  let budgetFlops: number | null = null;
  if (p.budget === 'data-matched') {
    rows = p.steps * B;
  } else {
    budgetFlops = trainingFlops(p.referenceConfig, dataMatchedTokens, T);
    // The epsilon keeps the reference itself at exactly its data-matched rows despite rounding.
    rows = Math.floor(budgetFlops / (flopsPerToken * T) + 1e-9);
    if (rows < 1) {
      throw new BamError(
        `compute-matched budget of ${budgetFlops.toExponential(3)} FLOPs does not pay for one row of ${T} tokens (${(flopsPerToken * T).toExponential(3)} FLOPs)`,
        'E_BUDGET',
        'raise stages.mixture.steps or batchSize in the upcycle preset',
      );
    }
  }
  const steps = Math.ceil(rows / B);
  const tokens = rows * T;
  return {
    budget: p.budget,
    reference: p.reference ?? 'btx',
    batchSize: B,
    seqLen: T,
    rows,
    steps,
    lastBatchRows: rows - (steps - 1) * B,
    tokens,
    flopsPerToken,
    flops: tokens * flopsPerToken,
    dataMatchedTokens,
    budgetFlops,
  };
}

/**
 * The batches of a plan: `source.batch(s)` for every step, the last cut to `lastBatchRows` rows.
 * Still a pure function of the step, so a resumed run sees the same batches.
 */
export function plannedBatches(source: BatchSource, plan: Pick<MixturePlan, 'steps' | 'lastBatchRows' | 'batchSize'>): BatchSource {
  return {
    batch(step: number): TokenBatch {
      const b = source.batch(step);
      if (step !== plan.steps - 1 || plan.lastBatchRows === b.batchSize) return b;
      const n = plan.lastBatchRows * b.seqLen;
      return { inputs: b.inputs.slice(0, n), targets: b.targets.slice(0, n), batchSize: plan.lastBatchRows, seqLen: b.seqLen };
    },
  };
}
