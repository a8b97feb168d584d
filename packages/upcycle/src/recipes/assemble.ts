/**
 * The one place that turns a recipe's layout into mixture tensors, and the compatibility check
 * every recipe runs first: N dense checkpoints with the same config, tokenizer and tensors.
 *
 * For each parameter of the mixture config (`paramSpecs`, in order):
 *   - FFN / attention expert tensors are copied from the source the layout names;
 *   - router tensors are drawn from N(0, std²) (see `RouterInitSchema`);
 *   - everything else (embeddings, norms, dense or shared attention, LM head) is the uniform
 *     mean of the layout's `averageOver` sources (BTX's merge of the non-expert weights).
 * Every output array is freshly allocated: the mixture never aliases its sources.
 */
import { BamError, InvariantError, ShapeError, isExpertKey, paramName, paramSpecs, parseParamName, type ModelConfig } from '@bam/core';
import { canonicalJson, configHash } from '@bam/utils';
import { meanTensor, randomNormalTensor, toF32, type F32Tensor, type TensorMap } from '../tensors.ts';
import type { DenseSource, MixtureLayout, RouterInit } from './types.ts';

/** Describes how two dense configs differ, key by key (for error messages). */
function configDiff(a: ModelConfig, b: ModelConfig): string {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const diffs: string[] = [];
  for (const k of keys) {
    const va = canonicalJson((a as Record<string, unknown>)[k]);
    const vb = canonicalJson((b as Record<string, unknown>)[k]);
    if (va !== vb) diffs.push(`${k} ${va} vs ${vb}`);
  }
  return diffs.join(', ');
}

/**
 * Checks that the sources can be merged: at least one; every one dense (attention and FFN); all
 * with the same config and tokenizer; each holding exactly its config's tensors with the right
 * shapes. Throws a BamError (code E_INCOMPATIBLE) naming the checkpoints at fault.
 */
export function checkCompatible(sources: readonly DenseSource[], recipeId: string): void {
  const fail = (message: string, hint: string): never => {
    throw new BamError(`recipe '${recipeId}': ${message}`, 'E_INCOMPATIBLE', hint);
  };
  if (sources.length === 0) fail('no dense checkpoints given', 'pass the N dense checkpoints (domain experts first, the seed last)');
  for (const s of sources) {
    if (s.config.attention.kind !== 'dense' || s.config.ffn.kind !== 'dense') {
      fail(
        `checkpoint ${s.name} is not a dense model (attention ${s.config.attention.kind}, ffn ${s.config.ffn.kind})`,
        'recipes merge dense checkpoints: the seed and its branched experts',
      );
    }
  }
  const first = sources[0];
  const firstHash = configHash(first.config);
  for (const s of sources.slice(1)) {
    if (configHash(s.config) !== firstHash) {
      fail(
        `checkpoints ${first.name} and ${s.name} have different model configs (${configDiff(first.config, s.config)})`,
        'merge only models branched from the same seed: same config, same shapes',
      );
    }
    if (s.tokenizer.id !== first.tokenizer.id) {
      fail(
        `checkpoints ${first.name} and ${s.name} use different tokenizers ('${first.tokenizer.id}' vs '${s.tokenizer.id}')`,
        'merge only models trained with the same tokenizer',
      );
    }
  }
  const specs = paramSpecs(first.config);
  for (const s of sources) {
    for (const spec of specs) {
      const t = s.tensors.get(spec.name);
      if (!t) fail(`checkpoint ${s.name} has no tensor '${spec.name}'`, 'the checkpoint does not match its own config; re-save it');
      if (t!.shape.length !== spec.shape.length || t!.shape.some((d, i) => d !== spec.shape[i])) {
        fail(
          `checkpoint ${s.name}: tensor '${spec.name}' has shape [${t!.shape.join(', ')}], expected [${spec.shape.join(', ')}] (as in ${first.name})`,
          'merge only models with identical shapes',
        );
      }
    }
    if (s.tensors.size !== specs.length) {
      const known = new Set(specs.map((p) => p.name));
      const extra = [...s.tensors.keys()].filter((n) => !known.has(n));
      fail(`checkpoint ${s.name} has tensors its config does not define: ${extra.slice(0, 5).join(', ')}`, 'the checkpoint does not match its own config; re-save it');
    }
  }
}

function checkLayout(layout: MixtureLayout, n: number, config: ModelConfig): void {
  const ok = (i: number) => Number.isInteger(i) && i >= 0 && i < n;
  const bad = [...layout.ffnExperts, ...(layout.attentionExperts ?? []), ...layout.averageOver].filter((i) => !ok(i));
  if (bad.length || layout.averageOver.length === 0) throw new InvariantError(`recipe layout names sources ${bad.join(', ')} of ${n} (or averages none)`);
  const ffnN = config.ffn.kind === 'moe' ? config.ffn.numExperts : 0;
  const attnN = config.attention.kind === 'moa' ? config.attention.numExperts : 0;
  if (layout.ffnExperts.length !== ffnN) throw new InvariantError(`recipe layout has ${layout.ffnExperts.length} FFN experts, config ${ffnN}`);
  if ((layout.attentionExperts?.length ?? 0) !== attnN) throw new InvariantError(`recipe layout has ${layout.attentionExperts?.length ?? 0} attention experts, config ${attnN}`);
}

/**
 * Builds the mixture tensors of `config` from the sources per `layout` (see the module comment).
 * `ffnOutputScale` (default 1) multiplies every FFN expert's output projection `w_down` and its
 * bias `b_down`, so the expert's output scales by it (the `gate-compensated` start).
 * The sources must have passed `checkCompatible`. Returns fresh arrays owned by the caller.
 */
export function assembleMixture(
  sources: readonly DenseSource[],
  config: ModelConfig,
  layout: MixtureLayout,
  routerInit: RouterInit,
  opts: { ffnOutputScale?: number } = {},
): TensorMap {
  const ffnOutputScale = opts.ffnOutputScale ?? 1;
  checkLayout(layout, sources.length, config);
  const get = (i: number, name: string): F32Tensor => {
    const t = sources[i].tensors.get(name);
    if (!t) throw new InvariantError(`source ${sources[i].name} has no '${name}' (checked by checkCompatible)`);
    return 'dtype' in t ? toF32(name, t) : (t as F32Tensor);
  };
  const out: TensorMap = new Map();
  for (const spec of paramSpecs(config)) {
    let t: F32Tensor;
    const key = parseParamName(spec.name);
    if (isExpertKey(key)) {
      // Expert e of a layer is that layer's dense FFN / attention of the source the layout names.
      const from = key.part === 'ffn' ? layout.ffnExperts : layout.attentionExperts!;
      t = toF32(spec.name, get(from[key.expert], paramName({ ...key, expert: undefined })));
      if (ffnOutputScale !== 1 && key.part === 'ffn' && (key.weight === 'w_down' || key.weight === 'b_down')) t = { shape: t.shape, data: t.data.map((x) => x * ffnOutputScale) };
    } else if (key.part === 'router') {
      t = randomNormalTensor(spec.name, spec.shape, routerInit.std, routerInit.seed);
    } else {
      t = meanTensor(spec.name, layout.averageOver.map((i) => get(i, spec.name)));
    }
    if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) throw new ShapeError(spec.name, spec.shape, t.shape, 'assembleMixture');
    out.set(spec.name, t);
  }
  return out;
}
