/**
 * `sparse-upcycle`: sparse upcycling (Komatsuzaki et al. 2023, arXiv:2212.05055) as a baseline:
 * every one of the N FFN experts is a copy of the seed's FFN and every other weight is the seed's
 * own; the domain experts are not used. Random router, top-1 softmax before top-k (as `btx`), so
 * it differs from `btx` only in where the weights come from.
 */
import { z } from 'zod';
import { BaseRecipeOptions, type Recipe } from './types.ts';
import { PAPER_FFN_ROUTER, mixtureConfig, seedIndex } from './common.ts';

const Options = z.strictObject({ ...BaseRecipeOptions });
export type SparseUpcycleOptions = z.output<typeof Options>;

export const sparseUpcycle: Recipe<SparseUpcycleOptions> = {
  id: 'sparse-upcycle',
  description: "Sparse upcycling: N copies of the seed's FFN as experts, the seed's attention and other weights, random router (top-1 before); the domain experts are unused.",
  options: Options,
  config: (dense, n, o) => mixtureConfig(dense, { kind: 'dense' }, { kind: 'moe', numExperts: n, router: o.ffnRouter ?? PAPER_FFN_ROUTER }),
  layout: (n) => ({ ffnExperts: Array<number>(n).fill(seedIndex(n)), attentionExperts: null, averageOver: [seedIndex(n)] }),
};
