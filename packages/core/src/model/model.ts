/**
 * The decoder-only language model of the BAM paper (Zhang et al. 2024, arXiv:2408.08274, §3 and
 * Table 8): token embedding → nLayers blocks (parallel by default) → final RMSNorm → LM head
 * (untied by default; tied = embedding transposed). Imported architectures (Llama, Qwen2, GPT-NeoX)
 * run through the same code with the config's optional architecture fields (model/config.ts).
 *
 * A model is `{ config, params }`: one flat map of named variables (docs/internals.md). The
 * forward pass is one `tf.tidy`; its outputs belong to the caller. Generation passes it a KV cache
 * (./kv-cache.ts), as Hugging Face models take `past_key_values`: the same blocks run on the new
 * tokens only, their attention reading and extending the cache.
 */
import * as tf from '@tensorflow/tfjs';
import { BamError, ShapeError } from '../errors.ts';
import { embeddingLookup, linear, matmulBt } from '../ops/index.ts';
import { headDim, ropeDims, type ModelConfig } from './config.ts';
import { block, getParam, normWeights, type LayerAux, type LayerContext } from './block.ts';
import { beginKvStep, commitKvStep, discardKvStep, kvStepRope, layerKv, type KvCache } from './kv-cache.ts';
import { applyNorm } from './norm.ts';
import { initParam, paramSpecs } from './params.ts';
import { ropeTables } from './rope.ts';

/** A model: its validated config and its parameters by name. Dispose with `disposeModel`. */
export interface BamModel {
  config: ModelConfig;
  params: Map<string, tf.Variable>;
}

/**
 * Builds a model with freshly initialised parameters (every name in `paramSpecs(config)`).
 * Deterministic given (config, seed). The caller owns the model and must `disposeModel` it.
 */
export function createModel(config: ModelConfig, seed: number): BamModel {
  const params = new Map<string, tf.Variable>();
  for (const spec of paramSpecs(config)) {
    const init = initParam(spec, config, seed);
    // No tfjs variable name: those are global and must be unique; the map holds our names.
    params.set(spec.name, tf.variable(init, true));
    init.dispose();
  }
  return { config, params };
}

/**
 * Builds a model from existing tensors (a checkpoint, an upcycling recipe). Checks that the names
 * and shapes are exactly those of `paramSpecs(config)`; copies every tensor into a new variable,
 * so the caller keeps ownership of `tensors`.
 */
export function modelFromTensors(config: ModelConfig, tensors: Map<string, tf.Tensor>): BamModel {
  const specs = paramSpecs(config);
  const expected = new Set(specs.map((s) => s.name));
  const missing = specs.filter((s) => !tensors.has(s.name)).map((s) => s.name);
  const extra = [...tensors.keys()].filter((n) => !expected.has(n));
  if (missing.length || extra.length) {
    throw new BamError(
      `parameters do not match the model config: ${missing.length ? `missing ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` (+${missing.length - 5})` : ''}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `unexpected ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ` (+${extra.length - 5})` : ''}` : ''}`,
      'E_PARAMS',
      'the tensors must come from a model with the same config (see docs/internals.md for the names)',
    );
  }
  for (const s of specs) {
    const t = tensors.get(s.name)!;
    if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      throw new ShapeError(s.name, s.shape, t.shape, 'modelFromTensors');
    }
  }
  const params = new Map<string, tf.Variable>();
  for (const s of specs) {
    // The variable shares the cast's data; dispose the cast so disposeModel frees the memory.
    const value = tf.cast(tensors.get(s.name)!, 'float32');
    params.set(s.name, tf.variable(value, true));
    value.dispose();
  }
  return { config, params };
}

/** Disposes every variable of the model; the model must not be used afterwards. */
export function disposeModel(model: BamModel): void {
  for (const v of model.params.values()) v.dispose();
  model.params.clear();
}

/** Options of `forward`. */
export interface ForwardOptions {
  /** Return routing statistics from mixture layers (keyed `layers.{l}.ffn.*` / `.attn.*`). */
  collectStats?: boolean;
  /**
   * A KV cache holding positions 0..P-1 of these sequences (`createKvCache`): the tokens are the
   * next T positions, they attend to the cached ones too, and their keys and values are appended
   * (the cache's old tensors are disposed; a forward that throws leaves it as it was). The logits
   * then equal the last T positions of a forward on the whole sequence, to float rounding. Throws
   * a BamError for configs whose routing is not per token (`kvCacheSupport`).
   */
  cache?: KvCache;
}

/**
 * Token ids for `forward`: an int32 tensor [B, T], or the ids on the host as B rows of T ids
 * (arrays or typed arrays), which are checked against the vocabulary before they become a tensor.
 */
export type TokenInput = tf.Tensor2D | ReadonlyArray<ArrayLike<number>>;

/** What `forward` returns; every tensor belongs to the caller. */
export interface ForwardResult {
  logits: tf.Tensor3D; // [B, T, V]
  /** Router losses summed over layers, unweighted (zeros for a dense model). */
  aux: LayerAux;
  stats?: Record<string, tf.Tensor>;
}

/** Checks a token batch against the model config; throws a ShapeError / BamError naming the problem. */
export function checkTokens(config: ModelConfig, tokens: tf.Tensor, what = 'tokens'): asserts tokens is tf.Tensor2D {
  if (tokens.rank !== 2) throw new ShapeError(what, [-1, -1], tokens.shape, 'forward (want [B, T])');
  if (tokens.dtype !== 'int32') {
    throw new BamError(`${what} must be int32, got ${tokens.dtype}`, 'E_DTYPE', "make token tensors with dtype 'int32'");
  }
  const T = tokens.shape[1]!;
  if (T > config.maxSeqLen) {
    throw new BamError(
      `${what} have ${T} positions but the model's maxSeqLen is ${config.maxSeqLen}`,
      'E_SEQ_LEN',
      'cut the sequence or raise maxSeqLen in the model config',
    );
  }
}

/**
 * Throws a BamError unless every id is an integer of the model's vocabulary [0, vocabSize),
 * naming the first bad id and its index. Host-side ids only: a tensor's ids would need a read
 * back from the device.
 */
export function checkTokenIds(config: ModelConfig, ids: ArrayLike<number>, what: string): void {
  for (let i = 0; i < ids.length; i++) {
    const t = ids[i];
    if (!Number.isInteger(t) || t < 0 || t >= config.vocabSize) {
      throw new BamError(
        `${what} has token ${String(t)} at index ${i}, outside the model's vocabulary [0, ${config.vocabSize})`,
        'E_TOKENS',
        'encode text with the tokenizer the model was trained with',
      );
    }
  }
}

/** B rows of T host ids → an int32 tensor [B, T] owned by the caller, after checking every id. */
function tokensFromRows(config: ModelConfig, rows: ReadonlyArray<ArrayLike<number>>): tf.Tensor2D {
  const B = rows.length;
  const T = B > 0 ? rows[0].length : 0;
  if (B === 0 || T === 0) throw new BamError(`tokens must be at least one row of at least one id, got ${B} rows of ${T}`, 'E_TOKENS', 'pass ids as [B][T]');
  const ids = new Int32Array(B * T); // [B·T], row-major
  rows.forEach((row, b) => {
    if (row.length !== T) throw new BamError(`token row ${b} has ${row.length} ids but row 0 has ${T}`, 'E_TOKENS', 'pad or cut the rows to one length');
    checkTokenIds(config, row, `token row ${b}`);
    ids.set(row, b * T);
  });
  return tf.tensor2d(ids, [B, T], 'int32');
}

/** What `forwardHidden` returns; every tensor belongs to the caller. */
export interface HiddenResult {
  /** The final norm's output, the LM head's input: [B·T, D], row b·T + t for position t of sequence b. */
  hidden: tf.Tensor2D;
  /** Router losses summed over layers, unweighted (zeros for a dense model). */
  aux: LayerAux;
  stats?: Record<string, tf.Tensor>;
}

/**
 * Runs the model on tokens [B, T] int32 → logits [B, T, V] and the summed router losses; with
 * `opts.cache`, on the next T positions of the cached sequences (see `ForwardOptions.cache`).
 * One `tf.tidy`, no await: everything returned belongs to the caller; `tokens` is borrowed.
 */
export function forward(model: BamModel, tokens: TokenInput, opts: ForwardOptions = {}): ForwardResult {
  const { out: logits, ...rest } = runModel(model, tokens, opts, (h, B, T) => tf.reshape(lmHead(model, h), [B, T, model.config.vocabSize]) as tf.Tensor3D); // [B, T, V]
  return { logits, ...rest };
}

/**
 * `forward` without the LM head: the final-normed hidden states [B·T, D]. For callers that need
 * logits at a few positions only (scoring a continuation, core/inference/score.ts): gather those
 * rows, then `lmHead` them — the [N, V] head and its log-softmax are most of a small model's
 * forward. Same options, checks and ownership as `forward`.
 */
export function forwardHidden(model: BamModel, tokens: TokenInput, opts: ForwardOptions = {}): HiddenResult {
  const { out: hidden, ...rest } = runModel(model, tokens, opts, (h) => h);
  return { hidden, ...rest };
}

/** The LM head: final-normed hidden states [P, D] → logits [P, V] (the tied embedding's transpose, or `lm_head`). */
export function lmHead(model: BamModel, h: tf.Tensor2D): tf.Tensor2D {
  const { config, params } = model;
  return config.tieEmbeddings
    ? matmulBt(h, getParam<tf.Rank.R2>(params, { part: 'embed' })) // [P, V]
    : linear(h, getParam<tf.Rank.R2>(params, { part: 'lm_head' })); // [P, V]
}

/** The body of `forward` and `forwardHidden`: the blocks and the final norm, then `head` on h [B·T, D]. */
function runModel<R extends tf.Tensor>(
  model: BamModel,
  tokens: TokenInput,
  opts: ForwardOptions,
  head: (h: tf.Tensor2D, B: number, T: number) => R,
): { out: R; aux: LayerAux; stats?: Record<string, tf.Tensor> } {
  const { config, params } = model;
  if (!(tokens instanceof tf.Tensor)) {
    const input = tokensFromRows(config, tokens);
    try {
      return runModel(model, input, opts, head);
    } finally {
      input.dispose();
    }
  }
  checkTokens(config, tokens);
  const [B, T] = tokens.shape;
  const step = opts.cache ? beginKvStep(config, opts.cache, B, T) : null;
  const run = () => tf.tidy(() => {
    const embed = getParam<tf.Rank.R2>(params, { part: 'embed' });
    let x = embeddingLookup(embed, tf.reshape(tokens, [B * T])) as tf.Tensor2D; // [N, D]
    // With a cache the new tokens sit at positions P..P+T-1: their rows of the cache's tables.
    const rope = step ? kvStepRope(step) : ropeTables(T, ropeDims(config), config.ropeBase); // [T, R/2] each
    const dims = { batch: B, seqLen: T, nHeads: config.nHeads, nKvHeads: config.nKvHeads, headDim: headDim(config) };
    let loadBalance: tf.Scalar = tf.scalar(0);
    let zLoss: tf.Scalar = tf.scalar(0);
    const stats: Record<string, tf.Tensor> = {};
    for (let l = 0; l < config.nLayers; l++) {
      const ctx: LayerContext = { config, layer: l, dims, rope, tokens, params, collectStats: !!opts.collectStats };
      if (step) ctx.kv = layerKv(step, l);
      const r = block(x, ctx);
      x = r.output; // [N, D]
      if (r.aux) {
        loadBalance = tf.add(loadBalance, r.aux.loadBalance);
        zLoss = tf.add(zLoss, r.aux.zLoss);
      }
      if (opts.collectStats && r.stats) for (const [k, v] of Object.entries(r.stats)) stats[`layers.${l}.${k}`] = v;
    }
    const h = applyNorm(x, normWeights(params, { part: 'final_norm' }), config.norm, config.normEps) as tf.Tensor2D; // [N, D]
    const out = head(h, B, T);
    return opts.collectStats ? { out, aux: { loadBalance, zLoss }, stats } : { out, aux: { loadBalance, zLoss } };
  });
  if (!step) return run();
  try {
    const result = run();
    commitKvStep(step);
    return result;
  } catch (err) {
    discardKvStep(step);
    throw err;
  }
}
