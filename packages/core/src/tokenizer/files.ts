/**
 * Tokenizers defined by a file that a checkpoint carries beside its weights: a Hugging Face
 * `tokenizer.json` (./hf.ts) or a llama2.c `tokenizer.bin` (./llama2c.ts). The id is the kind's
 * prefix + the first 16 hex digits of the file's sha256, so two files share an id only when they
 * are the same file. Files read in this process are remembered by id, so a stage that saves a
 * derived checkpoint with only `{id, vocabSize}` still writes the file.
 */
import { bytesHash } from '@bam/utils';

/** The kinds of file tokenizers, their id prefixes and the file name each has in a checkpoint. */
export const TOKENIZER_FILES = { hf: 'tokenizer.json', llama2c: 'tokenizer.bin' } as const;
/** A kind of file tokenizer. */
export type FileTokenizerKind = keyof typeof TOKENIZER_FILES;

const ID = /^(hf|llama2c)-[0-9a-f]{16}$/;
const remembered = new Map<string, Uint8Array>();

/** The id of the `kind` tokenizer whose file holds `bytes`. */
export function fileTokenizerId(kind: FileTokenizerKind, bytes: Uint8Array): string {
  return `${kind}-${bytesHash(bytes).slice(0, 16)}`;
}

/** The kind of a file tokenizer's id, or undefined for bam's built-in tokenizers. */
export function fileTokenizerKind(id: string): FileTokenizerKind | undefined {
  const m = ID.exec(id);
  return m ? (m[1] as FileTokenizerKind) : undefined;
}

/** Remembers a tokenizer file for this process under its id, and returns the id. */
export function rememberTokenizerFile(kind: FileTokenizerKind, bytes: Uint8Array): string {
  const id = fileTokenizerId(kind, bytes);
  if (!remembered.has(id)) remembered.set(id, bytes);
  return id;
}

/** The file of a file tokenizer read in this process, or undefined. */
export function tokenizerFileOf(id: string): Uint8Array | undefined {
  return remembered.get(id);
}
