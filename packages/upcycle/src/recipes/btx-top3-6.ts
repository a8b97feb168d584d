/**
 * `btx-top3-6`: BTX with 6 FFN experts and top-3 routing (softmax before top-k, no
 * renormalisation), the BAM paper's total- and active-parameter matched baseline (Tables 4–5).
 * Experts 0..N−1 are the N dense FFNs; experts N..5 are copies of the seed's FFN. Attention and
 * the rest are averaged over the N dense models.
 */
import { z } from 'zod';
import { BamError } from '@bam/core';
import { BaseRecipeOptions, type Recipe } from './types.ts';
import { mixtureConfig, range, seedIndex } from './common.ts';

const EXPERTS = 6;
const TOP_K = 3;

const Options = z.strictObject({ ...BaseRecipeOptions });
export type BtxTop3Options = z.output<typeof Options>;

export const btxTop3of6: Recipe<BtxTop3Options> = {
  id: 'btx-top3-6',
  description: "BTX with 6 experts, top-3 (softmax before top-k): the N dense FFNs plus 6 − N copies of the seed's FFN; total+active parameters matched to BAM.",
  options: Options,
  config: (dense, n, o) => {
    if (n > EXPERTS) throw new BamError(`recipe 'btx-top3-6' takes at most ${EXPERTS} dense models, got ${n}`, 'E_RECIPE', 'use btx-experts-M for more');
    return mixtureConfig(dense, { kind: 'dense' }, { kind: 'moe', numExperts: EXPERTS, router: o.ffnRouter ?? { kind: 'topk', k: TOP_K, normalize: 'before' } });
  },
  layout: (n) => ({ ffnExperts: [...range(n), ...Array<number>(EXPERTS - n).fill(seedIndex(n))], attentionExperts: null, averageOver: range(n) }),
  notes: () => ({ extraExperts: "copies of the seed's FFN" }),
};
