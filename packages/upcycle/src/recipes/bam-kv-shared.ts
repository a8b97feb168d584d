/**
 * `bam-kv-shared`: Branch-Attend-Mix with shared keys and values (Zhang et al. 2024, §3.2, the
 * parameter-efficient variant). Each dense model gives one attention expert's Wq and Wo; one Wk
 * and one Wv are shared by all experts and initialised as the uniform average of the N dense
 * models' Wk, Wv — the paper does not say how it initialises them; this is bam's choice and the
 * checkpoint meta records it (`notes.kvInit`). Soft attention router, FFN experts as `btx`, the
 * rest averaged, random routers.
 */
import { z } from 'zod';
import { MoaRecipeOptions, type Recipe } from './types.ts';
import { PAPER_FFN_ROUTER, mixtureConfig, range } from './common.ts';

const Options = z.strictObject({ ...MoaRecipeOptions });
export type BamKvSharedOptions = z.output<typeof Options>;

/** The recorded choice for the shared K/V init (the paper is silent). */
export const KV_SHARED_INIT = 'mean: the shared Wk, Wv are the uniform average of the N dense models\' Wk, Wv (the paper does not specify; bam\'s choice)';

export const bamKvShared: Recipe<BamKvSharedOptions> = {
  id: 'bam-kv-shared',
  description:
    "BAM (KV shared): soft mixture of attention experts with their own Wq, Wo and one shared Wk, Wv (initialised as the average of the N dense models'), FFN experts as BTX, the rest averaged, random routers.",
  options: Options,
  config: (dense, n, o) =>
    mixtureConfig(
      dense,
      { kind: 'moa', numExperts: n, kvShared: true, router: o.attentionRouter ?? { kind: 'soft' } },
      { kind: 'moe', numExperts: n, router: o.ffnRouter ?? PAPER_FFN_ROUTER },
    ),
  layout: (n) => ({ ffnExperts: range(n), attentionExperts: range(n), averageOver: range(n) }),
  notes: () => ({ kvInit: KV_SHARED_INIT }),
};
