/**
 * `bam-moa-top1` / `bam-moa-top2`: the BAM paper's attention-routing ablation (Table 6): BAM with
 * top-1 or top-2 attention routing instead of soft routing. The Table 6 "soft MoA" row equals the
 * Table 1 KV-shared compute-matched row to the rounding (26.00, 3.72, 6.51 vs 6.50, 5.64 vs 5.63),
 * so the ablation was run on BAM-KV-shared; that is the default here (`kvShared: false` gives the
 * expert-KV form). Core renormalises the chosen attention weights (softmax over the k chosen
 * logits; see core's mixture/routers/attention.ts), so identical experts still give the dense
 * attention. For top-1 that weight is the constant 1, so the attention router gets no gradient
 * from the language-model loss, only from the load-balance and z-losses (packages/core/test/mixture/routers.test.ts
 * checks the zero gradient); the paper does not say how its top-1 MoA router
 * learned. FFN and the rest as `bam-kv-shared`.
 */
import { z } from 'zod';
import { BaseRecipeOptions, type Recipe } from './types.ts';
import { PAPER_FFN_ROUTER, mixtureConfig, range } from './common.ts';
import { KV_SHARED_INIT } from './bam-kv-shared.ts';

const Options = z.strictObject({
  ...BaseRecipeOptions,
  /** Shared K/V (the Table 6 setting, default) or each expert its own. */
  kvShared: z.boolean().default(true),
});
export type BamMoaOptions = z.output<typeof Options>;

function bamMoa(k: 1 | 2): Recipe<BamMoaOptions> {
  return {
    id: `bam-moa-top${k}`,
    description: `BAM with top-${k} attention routing (Table 6 ablation; KV shared by default), FFN experts as BTX, the rest averaged, random routers.`,
    options: Options,
    config: (dense, n, o) =>
      mixtureConfig(
        dense,
        { kind: 'moa', numExperts: n, kvShared: o.kvShared, router: { kind: 'topk', k } },
        { kind: 'moe', numExperts: n, router: o.ffnRouter ?? PAPER_FFN_ROUTER },
      ),
    layout: (n) => ({ ffnExperts: range(n), attentionExperts: range(n), averageOver: range(n) }),
    notes: (o) => (o.kvShared ? { kvInit: KV_SHARED_INIT } : {}),
  };
}

export const bamMoaTop1 = bamMoa(1);
export const bamMoaTop2 = bamMoa(2);
