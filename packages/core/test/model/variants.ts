/**
 * The paper's mixture shapes for core's own tests. Core sits below @bam/upcycle, whose recipes
 * (packages/upcycle/src/recipes) are the one place mixtures are made; core's tests cannot import
 * them, so this fixture writes the same attention/FFN configs out (upcycle's recipe tests check
 * that the recipes give these shapes, and `bam flops` reads them from the recipes).
 */

/** Dense and the paper's mixture variants, as named by upcycle's recipes. */
export const VARIANTS = ['dense', 'btx', 'bam-full', 'bam-kv-shared', 'btx-top3-6'] as const;
export type Variant = (typeof VARIANTS)[number];

/**
 * A dense config turned into one of the paper's variants (a plain object for `parseModelConfig`):
 * `btx` = dense attention + top-k MoE FFN; `bam-full` / `bam-kv-shared` = soft MoA (own / shared
 * K, V) + top-k MoE FFN; `btx-top3-6` = btx with 6 experts, top-3. Experts default to 4 and top-k
 * to 1 (softmax before top-k, the paper's setting).
 */
export function variantConfig<C extends object>(base: C, variant: Variant, opts: { experts?: number; topK?: number } = {}): C & { attention: unknown; ffn: unknown } {
  const six = variant === 'btx-top3-6';
  const N = opts.experts ?? (six ? 6 : 4);
  const k = opts.topK ?? (six ? 3 : 1);
  const moe = { kind: 'moe', numExperts: N, router: { kind: 'topk', k, normalize: 'before' } };
  switch (variant) {
    case 'dense':
      return { ...base, attention: { kind: 'dense' }, ffn: { kind: 'dense' } };
    case 'btx':
    case 'btx-top3-6':
      return { ...base, attention: { kind: 'dense' }, ffn: moe };
    case 'bam-full':
    case 'bam-kv-shared':
      return { ...base, attention: { kind: 'moa', numExperts: N, kvShared: variant === 'bam-kv-shared', router: { kind: 'soft' } }, ffn: moe };
  }
}
