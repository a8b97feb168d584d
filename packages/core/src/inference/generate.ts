/**
 * Greedy decoding with a KV cache: prefill the prompt once (one `forward` over it with an empty
 * cache), then one token per step, each step the model's `forward` of the single new token with
 * the cache, attending to the cached keys and values (model/kv-cache.ts for what is cached per
 * attention kind). The tokens and per-step logits equal those of recomputing the full `forward` on the
 * whole sequence at every step (to float error); the tests check exactly that.
 *
 * Batching: prompts of equal length are decoded together in lock-step (no left padding, so every
 * row's RoPE positions are its own 0, 1, 2, ...), `batchSize` rows at a time. A row that has
 * stopped keeps being fed (its output is ignored) until its batch is done.
 *
 * Configs whose routing is not per token (`kvCacheSupport`) are decoded without a cache: the full
 * forward is recomputed at every step, one prompt at a time, which is what their model means.
 */
import * as tf from '@tensorflow/tfjs';
import { BamError } from '../errors.ts';
import { createKvCache, disposeKvCache, kvCacheSupport, type KvCache } from '../model/kv-cache.ts';
import { checkTokenIds, forward, type BamModel } from '../model/model.ts';

/** Options of `generate`. */
export interface GenerateOptions {
  /** Most tokens to generate per prompt (prompt length + maxNewTokens ≤ maxSeqLen + 1). */
  maxNewTokens: number;
  /** Stop a sequence right after it generates one of these ids (the id is kept in `tokens`). */
  stopTokens?: readonly number[];
  /**
   * Called after every new token with the tokens generated so far for prompt `index` (the
   * caller's index); returning true stops that sequence (e.g. a stop string appeared).
   */
  stopWhen?: (generated: readonly number[], index: number) => boolean;
  /** Prompts decoded together (default 8); results do not depend on it. */
  batchSize?: number;
  /** Also return each step's logits (default false). */
  returnLogits?: boolean;
  /** Decode with the KV cache (default true); false, or a config `kvCacheSupport` rejects, recomputes every step. */
  useCache?: boolean;
}

/** Why a generation ended. */
export type FinishReason = 'stop-token' | 'stop-when' | 'length';

/** One prompt's generation; plain numbers only. */
export interface Generation {
  /** The generated ids (not the prompt), the stop token included when one ended it. */
  tokens: number[];
  finish: FinishReason;
  /** logits[i] ([V]) are the logits token i was chosen from, when `returnLogits`. */
  logits?: Float32Array[];
  /** Whether the KV cache was used (false: full recompute per step). */
  cached: boolean;
}

/** Index of the largest of v[offset .. offset+n), the first one on ties (as tf.argMax). */
function argmax(v: Float32Array | Int32Array | Uint8Array, offset: number, n: number): number {
  let best = 0;
  let bestVal = v[offset];
  for (let i = 1; i < n; i++) {
    if (v[offset + i] > bestVal) {
      bestVal = v[offset + i];
      best = i;
    }
  }
  return best;
}

/**
 * The logits of the last position of logits [B, T, V], read back as [B·V]; disposes `logits`.
 * An `await t.data()` read: the webgpu backend has no synchronous one in Node.
 */
async function readLastLogits(logits: tf.Tensor3D): Promise<Float32Array> {
  const [B, T, V] = logits.shape;
  let last: tf.Tensor | undefined;
  try {
    last = tf.tidy(() => tf.slice(logits, [0, T - 1, 0], [B, 1, V])); // [B, 1, V]
    return (await last.data()) as Float32Array;
  } finally {
    tf.dispose(last ? [last, logits] : [logits]);
  }
}

/** The logits [B, T, V] of `rows` (B rows of T ids), extending `cache` when given; the router losses are dropped. */
function logitsOf(model: BamModel, rows: number[][], cache?: KvCache): tf.Tensor3D {
  const r = forward(model, rows, cache ? { cache } : {});
  tf.dispose([r.aux.loadBalance, r.aux.zLoss]);
  return r.logits;
}

/** Per-row decoding state of one batch. */
interface Row {
  index: number;
  out: Generation;
  done: boolean;
}

/**
 * Picks each live row's next token from logits [B·V] and applies the stop rules; returns the
 * tokens to feed next (a stopped row feeds its last token again; its output is ignored).
 */
function step(rows: Row[], logits: Float32Array, V: number, opts: GenerateOptions, stop: Set<number>): number[] {
  return rows.map((r, b) => {
    if (r.done) return r.out.tokens[r.out.tokens.length - 1] ?? 0;
    const next = argmax(logits, b * V, V);
    r.out.tokens.push(next);
    if (opts.returnLogits) r.out.logits!.push(logits.slice(b * V, (b + 1) * V));
    if (stop.has(next)) {
      r.done = true;
      r.out.finish = 'stop-token';
    } else if (opts.stopWhen?.(r.out.tokens, r.index)) {
      r.done = true;
      r.out.finish = 'stop-when';
    } else if (r.out.tokens.length >= opts.maxNewTokens) {
      r.done = true;
    }
    return next;
  });
}

/** Decodes prompts of one length together with a KV cache. */
async function generateCached(model: BamModel, prompts: number[][], rows: Row[], opts: GenerateOptions, stop: Set<number>): Promise<void> {
  const V = model.config.vocabSize;
  const cache = createKvCache(model.config, prompts.length);
  try {
    let logits = await readLastLogits(logitsOf(model, prompts, cache)); // prefill: [B, n] ids
    for (;;) {
      const fed = step(rows, logits, V, opts, stop);
      if (rows.every((r) => r.done)) break;
      logits = await readLastLogits(logitsOf(model, fed.map((t) => [t]), cache)); // [B, 1] ids
    }
  } finally {
    disposeKvCache(cache);
  }
}

/** Decodes one prompt by recomputing the full forward on the whole sequence at every step. */
async function generateRecompute(model: BamModel, prompt: number[], row: Row, opts: GenerateOptions, stop: Set<number>): Promise<void> {
  const V = model.config.vocabSize;
  const seq = [...prompt];
  while (!row.done) {
    const logits = await readLastLogits(logitsOf(model, [seq]));
    seq.push(step([row], logits, V, opts, stop)[0]);
  }
}

/**
 * Greedy generation after each prompt (ids of the model's vocabulary). With one prompt returns
 * one `Generation`, with an array of prompts one per prompt in the caller's order. Uses the KV
 * cache unless `useCache: false` or the config needs a full recompute (`Generation.cached`
 * says which). Reads each step's logits back with `await t.data()` (never a synchronous read,
 * which the webgpu backend cannot do in Node), so it runs on every backend; bad input rejects
 * before anything runs. Frees every tensor it makes (the cache included) before resolving.
 */
export function generate(model: BamModel, prompt: readonly number[], opts: GenerateOptions): Promise<Generation>;
export function generate(model: BamModel, prompts: ReadonlyArray<readonly number[]>, opts: GenerateOptions): Promise<Generation[]>;
export async function generate(
  model: BamModel,
  input: readonly number[] | ReadonlyArray<readonly number[]>,
  opts: GenerateOptions,
): Promise<Generation | Generation[]> {
  const single = input.length > 0 && !Array.isArray(input[0]);
  const prompts = (single ? [input as readonly number[]] : (input as ReadonlyArray<readonly number[]>)).map((p) => [...p]);
  const { config } = model;
  const { maxNewTokens } = opts;
  const batchSize = opts.batchSize ?? 8;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) {
    throw new BamError(`maxNewTokens must be a non-negative integer, got ${maxNewTokens}`, 'E_INFERENCE', 'pass e.g. {maxNewTokens: 16}');
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new BamError(`batchSize must be a positive integer, got ${batchSize}`, 'E_INFERENCE', 'use e.g. batchSize: 8');
  }
  prompts.forEach((p, i) => {
    if (p.length < 1) throw new BamError(`prompt ${i} is empty`, 'E_TOKENS', 'start every prompt with at least one token (e.g. a document separator)');
    if (p.length + maxNewTokens > config.maxSeqLen + 1) {
      throw new BamError(
        `prompt ${i} has ${p.length} tokens and asks for ${maxNewTokens} more, beyond the model's maxSeqLen ${config.maxSeqLen} (+1: the last token is never fed)`,
        'E_SEQ_LEN',
        'cut the prompt from the left or generate fewer tokens',
      );
    }
    checkTokenIds(config, p, `prompt ${i}`);
  });
  const stop = new Set(opts.stopTokens ?? []);
  const cached = (opts.useCache ?? true) && kvCacheSupport(config).ok;
  const rows: Row[] = prompts.map((_, index) => ({
    index,
    out: { tokens: [], finish: 'length', cached, ...(opts.returnLogits ? { logits: [] } : {}) },
    done: maxNewTokens === 0,
  }));
  const live = rows.filter((r) => !r.done);
  if (!cached) {
    for (const r of live) await generateRecompute(model, prompts[r.index], r, opts, stop);
  } else {
    // Equal-length prompts decode together: no padding, so positions and caches line up.
    const byLength = new Map<number, Row[]>();
    for (const r of live) byLength.set(prompts[r.index].length, [...(byLength.get(prompts[r.index].length) ?? []), r]);
    for (const group of byLength.values()) {
      for (let s = 0; s < group.length; s += batchSize) {
        const batch = group.slice(s, s + batchSize);
        await generateCached(model, batch.map((r) => prompts[r.index]), batch, opts, stop);
      }
    }
  }
  const out = rows.map((r) => r.out);
  return single ? out[0] : out;
}
