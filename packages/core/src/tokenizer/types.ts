/**
 * The tokenizer contract shared by data, training, checkpoints and eval: text in, token ids out,
 * and back again exactly. A checkpoint stores only `id` and `vocabSize`; `tokenizerSpecFromId`
 * rebuilds the spec from the id.
 */
import { z } from 'zod';

/** A tokenizer: encodes text to ids in [0, vocabSize) and decodes them back to the same text. */
export interface Tokenizer {
  /** Stable name stored in checkpoints, e.g. `gpt2-trunc-4096` or `byte-256`. */
  readonly id: string;
  /** Number of token ids; every id `encode` returns is below it. */
  readonly vocabSize: number;
  /** Encodes `text` (UTF-8 bytes, then BPE); `decode(encode(text)) === text` for well-formed text. */
  encode(text: string): number[];
  /** Decodes ids to text; ids must be in [0, vocabSize). */
  decode(ids: ArrayLike<number>): string;
  /**
   * The id that starts a document for this tokenizer's model (an imported model's BOS or
   * end-of-text token), which scoring conditions every text on; absent for bam's own tokenizers,
   * whose training streams join documents with "\n\n" instead.
   */
  readonly documentStart?: number;
  /** The file a checkpoint must carry to rebuild this tokenizer (`hf` tokenizers' tokenizer.json); none for built-in ones. */
  readonly file?: { name: string; bytes: Uint8Array };
}

/** How to build a tokenizer: GPT-2 BPE ranks truncated to `vocabSize`, raw bytes, or a Hugging Face tokenizer.json file. */
export const TokenizerSpecSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('tiktoken-gpt2'),
    /** Keep the first `vocabSize` GPT-2 ranks (the 256 byte tokens come first, so at least 256). */
    vocabSize: z.number().int().min(256).max(50256).default(4096),
  }),
  z.strictObject({ kind: z.literal('byte') }),
  /** A Hugging Face `tokenizer.json` (imported models; tokenizer/hf.ts). */
  z.strictObject({ kind: z.literal('hf'), path: z.string().min(1) }),
  /** A llama2.c `tokenizer.bin` (imported llama2.c models; tokenizer/llama2c.ts). */
  z.strictObject({ kind: z.literal('llama2c'), path: z.string().min(1) }),
]);

/** A parsed tokenizer spec (see `TokenizerSpecSchema`). */
export type TokenizerSpec = z.infer<typeof TokenizerSpecSchema>;
/** A tokenizer spec as a user writes it (defaults may be left out). */
export type TokenizerSpecInput = z.input<typeof TokenizerSpecSchema>;
