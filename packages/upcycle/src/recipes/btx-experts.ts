/**
 * `btx-experts-M`: BTX with M > N FFN experts, the extra M − N copied from the seed's FFN (the
 * BAM paper's Tables 4–5: "BTX with more experts", total-parameter matched to BAM). M defaults to
 * the count whose total parameters come closest to `matchTo` (bam-full by default) built from the
 * same N dense models; `experts` sets it explicitly (and the id `btx-experts-6` means M = 6).
 * Everything else as `btx` (averages over the N distinct dense models; top-1 before).
 */
import { z } from 'zod';
import { BamError, paramCounts, type ModelConfig } from '@bam/core';
import { BaseRecipeOptions, type Recipe } from './types.ts';
import { PAPER_FFN_ROUTER, mixtureConfig, range, seedIndex } from './common.ts';
import { bamFull } from './bam-full.ts';
import { bamKvShared } from './bam-kv-shared.ts';

const Options = z.strictObject({
  ...BaseRecipeOptions,
  /** M, the number of FFN experts (≥ N); default: total-parameter matched to `matchTo`. */
  experts: z.number().int().positive().optional(),
  /** The BAM variant whose total parameters M matches. */
  matchTo: z.enum(['bam-full', 'bam-kv-shared']).default('bam-full'),
});
export type BtxExpertsOptions = z.output<typeof Options>;

/**
 * The M ≥ N whose BTX total parameter count is closest to `matchTo`'s (ties: the smaller M).
 * Pure config arithmetic (core's `paramCounts`).
 */
export function matchedExpertCount(dense: ModelConfig, n: number, o: BtxExpertsOptions): number {
  const target = (o.matchTo === 'bam-full' ? bamFull : bamKvShared).config(dense, n, bamFull.options.parse({ ffnRouter: o.ffnRouter }));
  const goal = paramCounts(target).total;
  const router = o.ffnRouter ?? PAPER_FFN_ROUTER;
  let best = n;
  let bestGap = Infinity;
  for (let m = n; m <= 4 * n + 16; m++) {
    const gap = Math.abs(paramCounts(mixtureConfig(dense, { kind: 'dense' }, { kind: 'moe', numExperts: m, router })).total - goal);
    if (gap < bestGap) [best, bestGap] = [m, gap];
  }
  return best;
}

function expertsOf(dense: ModelConfig, n: number, o: BtxExpertsOptions): number {
  const m = o.experts ?? matchedExpertCount(dense, n, o);
  if (m < n) throw new BamError(`recipe 'btx-experts-M': experts (${m}) must be >= the ${n} dense models`, 'E_RECIPE', 'extra experts are copies of the seed; M < N would drop a dense model');
  return m;
}

export const btxExperts: Recipe<BtxExpertsOptions> = {
  id: 'btx-experts-M',
  description:
    "BTX with M experts: the N dense FFNs plus M − N copies of the seed's FFN, M total-parameter matched to BAM (Tables 4–5); attention and the rest averaged over the N dense models; top-1 before.",
  options: Options,
  config: (dense, n, o) => mixtureConfig(dense, { kind: 'dense' }, { kind: 'moe', numExperts: expertsOf(dense, n, o), router: o.ffnRouter ?? PAPER_FFN_ROUTER }),
  layout: (n, config) => {
    const m = config.ffn.kind === 'moe' ? config.ffn.numExperts : n;
    return { ffnExperts: [...range(n), ...Array<number>(m - n).fill(seedIndex(n))], attentionExperts: null, averageOver: range(n) };
  },
  notes: () => ({ extraExperts: "copies of the seed's FFN" }),
};
