/**
 * Tokenizers: GPT-2 BPE truncated to a small vocabulary (default 4096) and byte-level (256).
 * `createTokenizer(spec)` returns one shared instance per spec (tokenizers are stateless apart
 * from an encode cache), so token caches keyed by `tokenizer.id` are shared too.
 */
import { ConfigError, configErrorFromZod } from '../errors.ts';
import { createByteTokenizer } from './byte.ts';
import { createGpt2Tokenizer } from './gpt2.ts';
import { type Tokenizer, type TokenizerSpec, type TokenizerSpecInput, TokenizerSpecSchema } from './types.ts';

export { GPT2_PATTERN, referenceTiktoken } from './gpt2.ts';
export { type Tokenizer, type TokenizerSpec, type TokenizerSpecInput, TokenizerSpecSchema } from './types.ts';

const instances = new Map<string, Tokenizer>();

/** Validates `spec` (ConfigError on a bad one) and returns the tokenizer it names. */
export function createTokenizer(spec: TokenizerSpecInput = { kind: 'tiktoken-gpt2' }): Tokenizer {
  const parsed = TokenizerSpecSchema.safeParse(spec);
  if (!parsed.success) {
    throw configErrorFromZod('tokenizer spec', parsed.error.issues, "use {kind: 'tiktoken-gpt2', vocabSize: 4096} or {kind: 'byte'}");
  }
  const s: TokenizerSpec = parsed.data;
  const key = tokenizerIdOf(s);
  let t = instances.get(key);
  if (!t) {
    t = s.kind === 'byte' ? createByteTokenizer() : createGpt2Tokenizer(s.vocabSize);
    instances.set(key, t);
  }
  return t;
}

/** The id a spec's tokenizer will have (what checkpoints store), without building it. */
export function tokenizerIdOf(spec: TokenizerSpecInput): string {
  const s = TokenizerSpecSchema.parse(spec);
  return s.kind === 'byte' ? 'byte-256' : `gpt2-trunc-${s.vocabSize}`;
}

/**
 * Rebuilds the spec from a tokenizer id stored in a checkpoint (`byte-256`, `gpt2-trunc-4096`).
 * Throws a ConfigError naming the known forms for anything else.
 */
export function tokenizerSpecFromId(id: string): TokenizerSpec {
  if (id === 'byte-256') return { kind: 'byte' };
  const m = /^gpt2-trunc-(\d+)$/.exec(id);
  if (m) return TokenizerSpecSchema.parse({ kind: 'tiktoken-gpt2', vocabSize: Number(m[1]) });
  throw new ConfigError('tokenizer id', [{ path: '', message: `unknown tokenizer id '${id}'` }], "known ids: 'byte-256', 'gpt2-trunc-<vocabSize>' (e.g. 'gpt2-trunc-4096')");
}

/**
 * Parses a short tokenizer name as typed on a command line: `byte`, `gpt2` (4096),
 * `gpt2-<vocabSize>`, or a full id (`byte-256`, `gpt2-trunc-4096`).
 */
export function tokenizerSpecFromName(name: string): TokenizerSpec {
  if (name === 'byte') return { kind: 'byte' };
  if (name === 'gpt2') return TokenizerSpecSchema.parse({ kind: 'tiktoken-gpt2' });
  const m = /^gpt2-(\d+)$/.exec(name);
  if (m) return TokenizerSpecSchema.parse({ kind: 'tiktoken-gpt2', vocabSize: Number(m[1]) });
  try {
    return tokenizerSpecFromId(name);
  } catch {
    throw new ConfigError('tokenizer name', [{ path: '', message: `unknown tokenizer '${name}'` }], "use 'byte', 'gpt2-4096' (any vocabulary size in [256, 50256]) or a full id like 'gpt2-trunc-4096'");
  }
}
