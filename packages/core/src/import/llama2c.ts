/**
 * Import of llama2.c checkpoints (Karpathy's llama2.c, the format of the public TinyStories
 * models): a `.bin` of seven little-endian int32 — dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size (negative: the LM head is its own matrix; positive: tied to the
 * embedding), seq_len — then float32 weights in run.c's order: token embedding [V, D], attention
 * RMSNorm weights [L, D], wq [L, H·Dh, D], wk [L, Hkv·Dh, D], wv [L, Hkv·Dh, D], wo [L, D, H·Dh],
 * FFN RMSNorm weights [L, D], w1 (gate) [L, F, D], w2 (down) [L, D, F], w3 (up) [L, F, D], the
 * final RMSNorm [D], two unused RoPE tables [T, Dh/2] each, and, untied, the head [V, D].
 *
 * Architecture as run.c computes it: sequential Llama blocks, RMSNorm eps 1e-5, RoPE base 10000
 * on interleaved pairs (x[2i], x[2i+1]) of each head. bam rotates half-split pairs (x[i],
 * x[i + Dh/2]) at the same frequencies, so the rows of wq and wk are reordered within each head
 * (half-split j ← interleaved 2j, Dh/2 + j ← 2j + 1): q·k is unchanged because queries and keys get
 * the same reordering. The tokenizer is its `tokenizer.bin` (tokenizer/llama2c.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseModelConfig, type ModelConfig } from '../model/config.ts';
import { createTokenizer, TOKENIZER_FILES } from '../tokenizer/index.ts';
import { checkVocab, type ImportedModel } from './hf.ts';
import { ImportError, transposeRows } from './tensors.ts';

const HEADER_INTS = 7;

/**
 * Reads a llama2.c `.bin` and its `tokenizer.bin` (default: beside it) into bam's config, tensors
 * and tokenizer. Throws an `ImportError` naming the file when the header is invalid, the file
 * length does not match the header, or the tokenizer does not fit the vocabulary.
 */
export function readLlama2cModel(binPath: string, tokenizerPath = join(dirname(binPath), TOKENIZER_FILES.llama2c)): ImportedModel {
  if (!existsSync(binPath)) throw new ImportError(binPath, 'file not found', 'give the path of a llama2.c model .bin');
  const bytes = readFileSync(binPath);
  if (bytes.length < HEADER_INTS * 4) throw new ImportError(binPath, `is ${bytes.length} bytes, shorter than the 28-byte llama2.c header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [D, F, L, H, Hkv, vocab, T] = Array.from({ length: HEADER_INTS }, (_, i) => view.getInt32(4 * i, true));
  const names = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'];
  [D, F, L, H, Hkv, Math.abs(vocab), T].forEach((v, i) => {
    if (!(v > 0)) throw new ImportError(binPath, `header field ${names[i]} is ${v}`, 'this is not a llama2.c checkpoint (or it is the newer versioned export; export with --version 0)');
  });
  const V = Math.abs(vocab);
  const tied = vocab > 0;
  if (D % H !== 0 || H % Hkv !== 0) throw new ImportError(binPath, `header dim ${D}, n_heads ${H}, n_kv_heads ${Hkv} do not divide evenly`);
  const Dh = D / H;
  const floats = (bytes.length - HEADER_INTS * 4) / 4;
  const expected = V * D + L * (2 * D + D * H * Dh + 2 * D * Hkv * Dh + H * Dh * D + 3 * D * F) + D + T * Dh + (tied ? 0 : V * D);
  if (floats !== expected) {
    throw new ImportError(binPath, `holds ${floats} float32 values after the header, but its header (dim ${D}, hidden_dim ${F}, n_layers ${L}, n_heads ${H}, n_kv_heads ${Hkv}, vocab_size ${vocab}, seq_len ${T}) implies ${expected}`, 'the file is truncated or not a llama2.c (version 0) export');
  }
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset + HEADER_INTS * 4, bytes.byteOffset + bytes.length));
  let at = 0;
  const next = (n: number) => all.subarray(at, (at += n));
  const config: ModelConfig = parseModelConfig(
    { vocabSize: V, dModel: D, nHeads: H, nKvHeads: Hkv, nLayers: L, dFF: F, maxSeqLen: T, block: 'sequential', ropeBase: 10000, normEps: 1e-5, tieEmbeddings: tied },
    binPath,
  );
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  const put = (name: string, shape: number[], data: Float32Array) => out.set(name, { shape, data: Float32Array.from(data) });
  const perLayer = (n: number) => Array.from({ length: L }, () => next(n));
  // Interleaved → half-split RoPE order within each head (see the file comment).
  const ropeRow = (r: number) => {
    const h = Math.floor(r / Dh);
    const j = r % Dh;
    return h * Dh + (j < Dh / 2 ? 2 * j : 2 * (j - Dh / 2) + 1);
  };
  const embed = next(V * D);
  put('embed.weight', [V, D], embed);
  const attnNorm = perLayer(D);
  const wq = perLayer(H * Dh * D);
  const wk = perLayer(Hkv * Dh * D);
  const wv = perLayer(Hkv * Dh * D);
  const wo = perLayer(D * H * Dh);
  const ffnNorm = perLayer(D);
  const w1 = perLayer(F * D);
  const w2 = perLayer(D * F);
  const w3 = perLayer(F * D);
  for (let l = 0; l < L; l++) {
    const p = `layers.${l}`;
    put(`${p}.norm1.scale`, [D], attnNorm[l]);
    put(`${p}.norm2.scale`, [D], ffnNorm[l]);
    put(`${p}.attn.wq`, [D, H * Dh], transposeRows(wq[l], H * Dh, D, ropeRow));
    put(`${p}.attn.wk`, [D, Hkv * Dh], transposeRows(wk[l], Hkv * Dh, D, ropeRow));
    put(`${p}.attn.wv`, [D, Hkv * Dh], transposeRows(wv[l], Hkv * Dh, D));
    put(`${p}.attn.wo`, [H * Dh, D], transposeRows(wo[l], D, H * Dh));
    put(`${p}.ffn.w_gate`, [D, F], transposeRows(w1[l], F, D));
    put(`${p}.ffn.w_down`, [F, D], transposeRows(w2[l], D, F));
    put(`${p}.ffn.w_up`, [D, F], transposeRows(w3[l], F, D));
  }
  put('final_norm.scale', [D], next(D));
  next(T * Dh); // the RoPE cos and sin tables run.c no longer reads
  if (!tied) put('lm_head.weight', [D, V], transposeRows(next(V * D), V, D));
  const tokenizer = createTokenizer({ kind: 'llama2c', path: tokenizerPath });
  const notes: string[] = [];
  checkVocab(tokenizer, config, tokenizerPath, notes);
  if (tokenizer.vocabSize !== V) {
    throw new ImportError(tokenizerPath, `has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${V}`, 'use the tokenizer.bin the model was exported with');
  }
  return { config, tensors: out, tokenizer, notes, source: 'llama2c' };
}
