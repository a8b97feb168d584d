/**
 * Hugging Face tokenizers (`tokenizer.json`) through `@huggingface/tokenizers`, the pure-JS port
 * of the Rust `tokenizers` crate that transformers.js uses — for imported models (`bam import`).
 * bam's own GPT-2 tokenizer stays for the embedded corpora.
 *
 * A checkpoint with such a tokenizer carries the file itself as `tokenizer.json` beside its
 * weights (core/src/checkpoint); its id is `hf-<sha256 prefix>` (./files.ts).
 *
 * Encoding adds no special tokens (no BOS/EOS from the post-processor), like bam's other
 * tokenizers: documents are joined by the data pipeline, not by the tokenizer.
 */
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { DataError } from '../errors.ts';
import { TOKENIZER_FILES, rememberTokenizerFile } from './files.ts';
import type { Tokenizer } from './types.ts';

/** Special tokens that start documents, most specific first (Llama 3, Llama/Mistral, GPT-2/NeoX/Qwen2, Gemma). */
const START_TOKENS = ['<|begin_of_text|>', '<s>', '<|endoftext|>', '<bos>'];

/**
 * The token a model's documents start with: the first special token of the post-processor's
 * single-sequence template (the BOS Llama's tokenizer adds), else the first of START_TOKENS in
 * the vocabulary; undefined when there is none.
 */
function documentStartOf(json: Record<string, unknown>, tok: HfTokenizer): number | undefined {
  const post = json.post_processor as { type?: string; single?: Array<{ SpecialToken?: { id: string } }>; special_tokens?: Record<string, { ids?: number[] }> } | null | undefined;
  const first = post?.type === 'TemplateProcessing' ? post.single?.[0]?.SpecialToken?.id : undefined;
  if (first !== undefined) {
    const ids = post?.special_tokens?.[first]?.ids;
    if (ids && ids.length > 0) return ids[0];
  }
  for (const name of START_TOKENS) {
    const id = tok.token_to_id(name);
    if (id !== undefined) return id;
  }
  return undefined;
}

/**
 * Builds the tokenizer of a `tokenizer.json` (bytes; `source` names the file in errors). Its
 * vocabSize is one past the largest id of the vocabulary and the added tokens. Throws a
 * DataError naming the file when it is not a tokenizer the library reads.
 */
export function createHfTokenizer(bytes: Uint8Array, source: string): Tokenizer {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8').decode(bytes));
  } catch (err) {
    throw new DataError(`${source} is not valid JSON (${(err as Error).message})`, 'give the tokenizer.json a Hugging Face tokenizer was saved with');
  }
  let tok: HfTokenizer;
  try {
    tok = new HfTokenizer(json as object, {});
  } catch (err) {
    throw new DataError(`${source} is not a tokenizer @huggingface/tokenizers can read (${(err as Error).message})`, 'give the tokenizer.json a Hugging Face tokenizer was saved with');
  }
  let maxId = -1;
  for (const id of tok.get_vocab(true).values()) maxId = Math.max(maxId, id);
  if (maxId < 0) throw new DataError(`${source} has an empty vocabulary`, 'give the tokenizer.json a Hugging Face tokenizer was saved with');
  const vocabSize = maxId + 1;
  const id = rememberTokenizerFile('hf', bytes);
  const documentStart = documentStartOf(json as Record<string, unknown>, tok);
  return {
    id,
    vocabSize,
    ...(documentStart === undefined ? {} : { documentStart }),
    file: { name: TOKENIZER_FILES.hf, bytes },
    encode(text: string): number[] {
      return tok.encode(text, { add_special_tokens: false }).ids;
    },
    decode(ids: ArrayLike<number>): string {
      const list = Array.from(ids);
      list.forEach((v, i) => {
        if (!(Number.isInteger(v) && v >= 0 && v < vocabSize)) throw new DataError(`token id ${v} at position ${i} is outside the vocabulary of tokenizer ${id} [0, ${vocabSize})`);
      });
      return tok.decode(list, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    },
  };
}
