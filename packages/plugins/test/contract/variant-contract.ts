/**
 * The shared plugin contract for variants (the hook for the built-in variants: add each to
 * `builtinPlugins` in `src/index.ts` and, when its defaults are too heavy for a unit test, give
 * it small options in `VARIANT_CONTRACT_OPTIONS` in `builtin.contract.test.ts`).
 * `checkVariantContract(variant)` returns every violation; a variant keeps the contract when:
 *   - its id is kebab-case and it has a description;
 *   - its options schema accepts the contract options and rejects an unknown key;
 *   - `prepare` (if any) and `create` succeed in a temporary artifacts folder, and the model's
 *     `info.name` is a non-empty string;
 *   - the model answers a small batch of each request type with one well-formed result per
 *     request, in order: loglikelihood ≤ 0 with tokens ≥ 1 and a boolean isGreedy, rolling
 *     ≤ 0 with tokens ≥ 1, generate a string;
 *   - the same requests asked twice get the same numbers (scoring is deterministic);
 *   - `dispose()` can be called.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, type LanguageModel, type VariantPlugin } from '@bam/eval';

const KEBAB = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** What the contract runs a variant with. */
export interface VariantContractOptions {
  /** Raw variant options (default `{}`). */
  options?: unknown;
  seed?: number;
  /** Budget of the job context (variants with `usesBudget`); default none. */
  budget?: 'data-matched' | 'compute-matched';
  /**
   * Artifacts folder shared with other checks (kept afterwards), so variants that build
   * checkpoints build them once per test file; default: a fresh temporary folder, removed after.
   */
  artifactsDir?: string;
}

const LL = [
  { context: 'The cat sat on the', continuation: ' mat' },
  { context: '', continuation: 'Hello' },
  { context: 'const x = ', continuation: '1 + 2' },
];
const ROLLING = [{ text: 'Permission is hereby granted, free of charge.' }, { text: 'x' }];
const GEN = [{ context: 'Once upon a', maxTokens: 4 }, { context: '3 + 4 =', maxTokens: 3, until: ['\n'] }];

/** Every contract violation of `variant` (empty when it keeps the contract). */
export async function checkVariantContract(variant: VariantPlugin, opts: VariantContractOptions = {}): Promise<string[]> {
  const problems: string[] = [];
  if (!KEBAB.test(variant.id)) problems.push(`id ${JSON.stringify(variant.id)} is not kebab-case`);
  if (!variant.description) problems.push('description is empty');
  if (variant.options.safeParse({ __notAnOption__: 1 }).success) problems.push("options schema accepts the unknown key '__notAnOption__' (use .strict())");
  const parsed = variant.options.safeParse(opts.options ?? {});
  if (!parsed.success) return [...problems, `options schema rejects the contract options: ${parsed.error.issues.map((i) => i.message).join('; ')}`];

  const dir = opts.artifactsDir ?? mkdtempSync(join(tmpdir(), 'bam-variant-contract-'));
  const ctx = { artifactsDir: dir, seed: opts.seed ?? 0, budget: opts.budget, logger: silentLogger };
  let model: LanguageModel | undefined;
  try {
    await variant.setup?.({ artifactsDir: dir, logger: silentLogger, threadId: 0 });
    await variant.prepare?.(parsed.data, ctx);
    model = await variant.create(parsed.data, ctx);
    if (typeof model?.info?.name !== 'string' || model.info.name.length === 0) problems.push('the model has no info.name');
    const ll = await model.loglikelihood(LL);
    if (ll.length !== LL.length) problems.push(`loglikelihood returned ${ll.length} results for ${LL.length} requests`);
    ll.forEach((r, i) => {
      if (!(r.logprob <= 0) || !Number.isFinite(r.logprob) || !(r.tokens >= 1) || typeof r.isGreedy !== 'boolean') problems.push(`loglikelihood result ${i} is malformed: ${JSON.stringify(r)}`);
    });
    const rolling = await model.loglikelihoodRolling(ROLLING);
    if (rolling.length !== ROLLING.length) problems.push(`loglikelihoodRolling returned ${rolling.length} results for ${ROLLING.length} requests`);
    rolling.forEach((r, i) => {
      if (!(r.logprob <= 0) || !Number.isFinite(r.logprob) || !(r.tokens >= 1)) problems.push(`loglikelihoodRolling result ${i} is malformed: ${JSON.stringify(r)}`);
    });
    const gen = await model.generate(GEN);
    if (gen.length !== GEN.length || !gen.every((g) => typeof g === 'string')) problems.push(`generate returned ${JSON.stringify(gen)} for ${GEN.length} requests`);
    const again = await model.loglikelihood(LL);
    if (JSON.stringify(again.map((r) => r.logprob)) !== JSON.stringify(ll.map((r) => r.logprob))) problems.push('loglikelihood is not deterministic: the same requests gave different logprobs');
  } catch (err) {
    problems.push(`threw: ${(err as Error)?.message ?? String(err)}`);
  } finally {
    try {
      await model?.dispose();
    } catch (err) {
      problems.push(`dispose() threw: ${(err as Error).message}`);
    }
    if (opts.artifactsDir === undefined) rmSync(dir, { recursive: true, force: true });
  }
  return problems;
}
