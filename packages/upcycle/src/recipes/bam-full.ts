/**
 * `bam-full`: Branch-Attend-Mix with expert KV (Zhang et al. 2024, arXiv:2408.08274, §3.2). Each
 * dense model's attention (its own Wq, Wk, Wv, Wo) becomes one attention expert under a soft
 * router (every token uses every expert, g = softmax(W_attn_router · h)); the FFN experts are the
 * dense FFNs as in `btx`; embeddings, norms and the LM head are the uniform average; both routers
 * start random. FFN router default: top-1, softmax before top-k (the paper's BAM).
 */
import { z } from 'zod';
import { MoaRecipeOptions, type Recipe } from './types.ts';
import { PAPER_FFN_ROUTER, mixtureConfig, range } from './common.ts';

const Options = z.strictObject({ ...MoaRecipeOptions });
export type BamFullOptions = z.output<typeof Options>;

export const bamFull: Recipe<BamFullOptions> = {
  id: 'bam-full',
  description:
    'BAM (expert KV): soft mixture of the N dense attentions (each expert its own Wq, Wk, Wv, Wo), FFN experts as BTX, the rest averaged, random routers.',
  options: Options,
  config: (dense, n, o) =>
    mixtureConfig(
      dense,
      { kind: 'moa', numExperts: n, kvShared: false, router: o.attentionRouter ?? { kind: 'soft' } },
      { kind: 'moe', numExperts: n, router: o.ffnRouter ?? PAPER_FFN_ROUTER },
    ),
  layout: (n) => ({ ffnExperts: range(n), attentionExperts: range(n), averageOver: range(n) }),
};
