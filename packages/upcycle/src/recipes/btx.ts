/**
 * `btx`: Branch-Train-MiX (Sukhbaatar et al. 2024, arXiv:2403.07816) as the BAM paper's baseline
 * (Zhang et al. 2024, §4.1). The N dense models' FFNs become the N FFN experts (expert e ← dense
 * model e; the seed is the last); attention, embeddings, norms and the LM head are the uniform
 * average of the N dense models; the FFN router starts random. Router default: top-1, softmax over
 * all experts before top-k, no renormalisation (the BAM paper's BTX); `ffnRouter: {kind:'topk',
 * k:2, normalize:'after'}` gives the original BTX paper's renormalised top-2.
 */
import { z } from 'zod';
import { BaseRecipeOptions, type Recipe } from './types.ts';
import { PAPER_FFN_ROUTER, mixtureConfig, range } from './common.ts';

const Options = z.strictObject({ ...BaseRecipeOptions });
export type BtxOptions = z.output<typeof Options>;

export const btx: Recipe<BtxOptions> = {
  id: 'btx',
  description:
    "BTX: FFN experts copied from the N dense models, attention and every other weight averaged, random router (top-1, softmax before top-k, as the BAM paper's baseline; ffnRouter top-2 'after' = the original BTX).",
  options: Options,
  config: (dense, n, o) => mixtureConfig(dense, { kind: 'dense' }, { kind: 'moe', numExperts: n, router: o.ffnRouter ?? PAPER_FFN_ROUTER }),
  layout: (n) => ({ ffnExperts: range(n), attentionExperts: null, averageOver: range(n) }),
};
