/**
 * Tokenizers: GPT-2 BPE truncated to a small vocabulary (default 4096), byte-level (256), and
 * for imported models the file tokenizers (./files.ts): Hugging Face tokenizer.json (./hf.ts)
 * and llama2.c tokenizer.bin (./llama2c.ts).
 * `createTokenizer(spec)` returns one shared instance per spec (tokenizers are stateless apart
 * from an encode cache), so token caches keyed by `tokenizer.id` are shared too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, DataError, configErrorFromZod } from '../errors.ts';
import { createByteTokenizer } from './byte.ts';
import { createHfTokenizer } from './hf.ts';
import { createLlama2cTokenizer } from './llama2c.ts';
import { TOKENIZER_FILES, fileTokenizerId, fileTokenizerKind } from './files.ts';
import { createGpt2Tokenizer } from './gpt2.ts';
import { type Tokenizer, type TokenizerSpec, type TokenizerSpecInput, TokenizerSpecSchema } from './types.ts';

export { GPT2_PATTERN, referenceTiktoken } from './gpt2.ts';
export { createHfTokenizer } from './hf.ts';
export { createLlama2cTokenizer, parseLlama2cTokenizer } from './llama2c.ts';
export { TOKENIZER_FILES, fileTokenizerId, fileTokenizerKind, rememberTokenizerFile, tokenizerFileOf, type FileTokenizerKind } from './files.ts';
export { type Tokenizer, type TokenizerSpec, type TokenizerSpecInput, TokenizerSpecSchema } from './types.ts';

const instances = new Map<string, Tokenizer>();

/** Validates `spec` (ConfigError on a bad one) and returns the tokenizer it names. */
export function createTokenizer(spec: TokenizerSpecInput = { kind: 'tiktoken-gpt2' }): Tokenizer {
  const parsed = TokenizerSpecSchema.safeParse(spec);
  if (!parsed.success) {
    throw configErrorFromZod('tokenizer spec', parsed.error.issues, "use {kind: 'tiktoken-gpt2', vocabSize: 4096} or {kind: 'byte'}");
  }
  const s: TokenizerSpec = parsed.data;
  if (s.kind === 'hf' || s.kind === 'llama2c') {
    const bytes = readTokenizerFile(s.path);
    const id = fileTokenizerId(s.kind, bytes);
    let t = instances.get(id);
    if (!t) instances.set(id, (t = s.kind === 'hf' ? createHfTokenizer(bytes, s.path) : createLlama2cTokenizer(bytes, s.path)));
    return t;
  }
  const key = tokenizerIdOf(s);
  let t = instances.get(key);
  if (!t) {
    t = s.kind === 'byte' ? createByteTokenizer() : createGpt2Tokenizer(s.vocabSize);
    instances.set(key, t);
  }
  return t;
}

function readTokenizerFile(path: string): Uint8Array {
  if (!existsSync(path)) throw new DataError(`tokenizer file ${path} not found`, 'give the path of the tokenizer file (tokenizer.json, tokenizer.bin)');
  return readFileSync(path);
}

/** The id a spec's tokenizer will have (what checkpoints store), without building it. */
export function tokenizerIdOf(spec: TokenizerSpecInput): string {
  const s = TokenizerSpecSchema.parse(spec);
  if (s.kind === 'hf' || s.kind === 'llama2c') return fileTokenizerId(s.kind, readTokenizerFile(s.path));
  return s.kind === 'byte' ? 'byte-256' : `gpt2-trunc-${s.vocabSize}`;
}

/**
 * The spec of the tokenizer a checkpoint in `dir` records as `id`: a file tokenizer (`hf`,
 * `llama2c`) is the file the checkpoint carries; the built-in ones come from the id alone.
 */
export function tokenizerSpecForCheckpoint(dir: string, id: string): TokenizerSpec {
  const kind = fileTokenizerKind(id);
  return kind ? { kind, path: join(dir, TOKENIZER_FILES[kind]) } : tokenizerSpecFromId(id);
}

/**
 * Rebuilds the spec from a tokenizer id stored in a checkpoint (`byte-256`, `gpt2-trunc-4096`).
 * Throws a ConfigError naming the known forms for anything else.
 */
export function tokenizerSpecFromId(id: string): TokenizerSpec {
  if (id === 'byte-256') return { kind: 'byte' };
  const m = /^gpt2-trunc-(\d+)$/.exec(id);
  if (m) return TokenizerSpecSchema.parse({ kind: 'tiktoken-gpt2', vocabSize: Number(m[1]) });
  if (fileTokenizerKind(id)) {
    throw new ConfigError('tokenizer id', [{ path: '', message: `tokenizer '${id}' is defined by a file, which the id alone cannot rebuild` }], 'build it from its checkpoint folder: tokenizerSpecForCheckpoint(dir, id)');
  }
  throw new ConfigError('tokenizer id', [{ path: '', message: `unknown tokenizer id '${id}'` }], "known ids: 'byte-256', 'gpt2-trunc-<vocabSize>' (e.g. 'gpt2-trunc-4096'), 'hf-<hash>' / 'llama2c-<hash>' (a checkpoint's tokenizer file)");
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
