/**
 * Import of Hugging Face model folders: `config.json`, the weights (`model.safetensors`, or shards
 * listed by `model.safetensors.index.json`) and `tokenizer.json`.
 *
 * Layouts (the Hugging Face modeling code's semantics; docs/internals.md "Imported architectures"):
 * - Llama family (`llama`, `mistral`, `qwen2`): sequential blocks with RMSNorm (weight, eps
 *   `rms_norm_eps`), RoPE (`rope_theta`, rotate_half = bam's half-split layout, so no permutation),
 *   grouped-query attention (repeat_kv order = bam's `kvHeadOf`), SwiGLU (`silu`), tied or untied
 *   embeddings; Qwen2 has q/k/v biases, Llama's `attention_bias` / `mlp_bias` add biases.
 * - GPT-NeoX (`gpt_neox`, Pythia): parallel residual (`use_parallel_residual`) with separate
 *   attention and MLP LayerNorms, LayerNorm with bias, partial rotary (`rotary_pct`), the fused
 *   `query_key_value` whose output rows are laid out [H, 3, Dh], the GeLU MLP, untied `embed_out`.
 * PyTorch's Linear weights are [out, in]; bam stores [in, out], so every matrix is transposed.
 * Anything else (another `model_type`, `rope_scaling`, a `head_dim` other than hidden/heads,
 * another activation, quantised weights) is refused with an error naming it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeSafetensors, type SafeTensor } from '../checkpoint/index.ts';
import { ConfigError } from '../errors.ts';
import { parseModelConfig, type ModelConfig, type ModelConfigInput } from '../model/config.ts';
import { createTokenizer, TOKENIZER_FILES, type Tokenizer } from '../tokenizer/index.ts';
import { ImportError, SourceTensors, transposeRows } from './tensors.ts';

/** A model read for import: bam's config, its parameters by bam name (float32), the tokenizer, and notes for the user. */
export interface ImportedModel {
  config: ModelConfig;
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  tokenizer: Tokenizer;
  /** What the source said that bam keeps, maps or ignores, in one line each (printed by `bam import`). */
  notes: string[];
  /** The source format, e.g. `hf:llama`. */
  source: string;
}

/** The `model_type`s `readHfModel` imports. */
export const HF_MODEL_TYPES = ['llama', 'mistral', 'qwen2', 'gpt_neox'] as const;

type Json = Record<string, unknown>;

/** Reads config.json fields with checks that name the field. */
class HfConfig {
  constructor(
    readonly json: Json,
    readonly file: string,
  ) {}

  private bad(key: string, want: string): never {
    throw new ImportError(this.file, `'${key}' is ${JSON.stringify(this.json[key])}, expected ${want}`, 'fix config.json');
  }

  int(key: string, fallback?: number): number {
    const v = this.json[key] ?? fallback;
    if (v === undefined) throw new ImportError(this.file, `'${key}' is missing`, 'config.json must give the model sizes');
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) this.bad(key, 'a positive integer');
    return v;
  }

  num(key: string, fallback: number): number {
    const v = this.json[key] ?? fallback;
    if (typeof v !== 'number' || !(v > 0)) this.bad(key, 'a positive number');
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.json[key] ?? fallback;
    if (typeof v !== 'boolean') this.bad(key, 'true or false');
    return v;
  }

  str(key: string, fallback: string): string {
    const v = this.json[key] ?? fallback;
    if (typeof v !== 'string') this.bad(key, 'a string');
    return v;
  }

  /** Refuses an option bam does not implement when it is set (not null/false/absent). */
  refuse(key: string, why: string): void {
    const v = this.json[key];
    if (v !== undefined && v !== null && v !== false) {
      throw new ImportError(this.file, `'${key}': ${JSON.stringify(v)} is not supported: ${why}`, `bam imports ${HF_MODEL_TYPES.join(', ')} models without it`);
    }
  }
}

function readJson(path: string, what: string): Json {
  if (!existsSync(path)) throw new ImportError(path, 'file not found', what);
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Json;
  } catch (err) {
    throw new ImportError(path, `not valid JSON (${(err as Error).message})`, what);
  }
}

// Buffers some savers write beside the weights: RoPE frequencies and GPT-NeoX's causal masks
// (boolean). Not weights: skipped when reading.
const BUFFERS = /(\.rotary_emb\.inv_freq|\.attention\.bias|\.attention\.masked_bias)$/;
const isBuffer = (name: string) => BUFFERS.test(name);

/** Every tensor of the folder's weights (buffers skipped), with the file each came from. */
function readWeights(dir: string): { tensors: Map<string, SafeTensor>; fileOf: (name: string) => string } {
  const single = join(dir, 'model.safetensors');
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (existsSync(single)) {
    return { tensors: decodeSafetensors(readFileSync(single), single, isBuffer).tensors, fileOf: () => single };
  }
  if (!existsSync(indexPath)) {
    throw new ImportError(dir, 'has neither model.safetensors nor model.safetensors.index.json', 'bam reads safetensors weights; convert pytorch_model.bin with the safetensors tools first');
  }
  const index = readJson(indexPath, 'the shard index of a sharded safetensors model');
  const map = index.weight_map as Record<string, unknown> | undefined;
  if (!map || typeof map !== 'object') throw new ImportError(indexPath, "has no 'weight_map' object", 'the index maps each tensor name to its shard file');
  const tensors = new Map<string, SafeTensor>();
  const where = new Map<string, string>();
  const shards = [...new Set(Object.values(map))];
  for (const shard of shards) {
    if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\')) throw new ImportError(indexPath, `weight_map names a bad shard ${JSON.stringify(shard)}`, 'shards are file names in the same folder');
    const path = join(dir, shard);
    if (!existsSync(path)) throw new ImportError(path, 'shard file not found, though model.safetensors.index.json lists it', 'copy every shard into the folder');
    for (const [name, t] of decodeSafetensors(readFileSync(path), path, isBuffer).tensors) {
      if (map[name] !== shard) throw new ImportError(path, `holds tensor '${name}', which the index ${map[name] ? `places in ${String(map[name])}` : 'does not list'}`, 'the index and the shards disagree; re-save the model');
      tensors.set(name, t);
      where.set(name, path);
    }
  }
  for (const name of Object.keys(map)) {
    if (!tensors.has(name) && !isBuffer(name)) throw new ImportError(join(dir, String(map[name])), `tensor '${name}' is listed in the index but not in its shard`, 'the shard is incomplete; download it again');
  }
  return { tensors, fileOf: (name) => where.get(name) ?? indexPath };
}

/** Parses config.json into bam's model config for a Llama-family or GPT-NeoX model. */
function bamConfigOf(hf: HfConfig, notes: string[]): { input: ModelConfigInput; family: 'llama' | 'gpt_neox' } {
  const type = hf.str('model_type', '');
  if (!(HF_MODEL_TYPES as readonly string[]).includes(type)) {
    throw new ImportError(hf.file, `model_type '${type}' is not supported`, `bam imports ${HF_MODEL_TYPES.join(', ')}`);
  }
  hf.refuse('rope_scaling', "bam's RoPE has no scaling (linear, dynamic, yarn, llama3)");
  hf.refuse('quantization_config', 'bam reads float weights only (F32, F16, BF16)');
  const D = hf.int('hidden_size');
  const H = hf.int('num_attention_heads');
  const common = {
    vocabSize: hf.int('vocab_size'),
    dModel: D,
    nHeads: H,
    nLayers: hf.int('num_hidden_layers'),
    dFF: hf.int('intermediate_size'),
    maxSeqLen: hf.int('max_position_embeddings'),
    initStd: hf.num('initializer_range', 0.02),
    tieEmbeddings: hf.bool('tie_word_embeddings', false),
  };
  if (hf.json.head_dim !== undefined && hf.json.head_dim !== null && hf.json.head_dim !== D / H) {
    throw new ImportError(hf.file, `'head_dim' ${JSON.stringify(hf.json.head_dim)} differs from hidden_size / num_attention_heads = ${D / H}`, 'bam ties the head width to hidden_size / num_attention_heads');
  }
  if (type === 'gpt_neox') {
    const act = hf.str('hidden_act', 'gelu');
    const mlp = act === 'gelu' ? 'gelu' : ['gelu_new', 'gelu_fast', 'gelu_pytorch_tanh'].includes(act) ? 'gelu-tanh' : undefined;
    if (!mlp) throw new ImportError(hf.file, `'hidden_act' '${act}' is not supported for gpt_neox`, "bam's GeLU MLP implements 'gelu' (exact) and the tanh approximations 'gelu_new', 'gelu_fast', 'gelu_pytorch_tanh'");
    const parallel = hf.bool('use_parallel_residual', true);
    const bias = hf.bool('attention_bias', true);
    const rotaryFraction = hf.num('rotary_pct', 0.25);
    const input: ModelConfigInput = {
      ...common,
      block: parallel ? 'parallel' : 'sequential',
      ...(parallel ? { parallelNorms: 'separate' as const } : {}),
      ropeBase: hf.num('rope_theta', hf.num('rotary_emb_base', 10000)),
      normEps: hf.num('layer_norm_eps', 1e-5),
      norm: 'layernorm',
      mlp,
      ffnBias: true,
      ...(bias ? { qkvBias: true, attnOutBias: true } : {}),
      ...(rotaryFraction < 1 ? { rotaryFraction } : {}),
    };
    return { input, family: 'gpt_neox' };
  }
  const act = hf.str('hidden_act', 'silu');
  if (act !== 'silu' && act !== 'swish') throw new ImportError(hf.file, `'hidden_act' '${act}' is not supported for ${type}`, "the Llama family's SwiGLU uses 'silu'");
  const attentionBias = hf.bool('attention_bias', false);
  const qkvBias = type === 'qwen2' || attentionBias;
  let maxSeqLen = common.maxSeqLen;
  const window = hf.json.sliding_window;
  const windowOn = type === 'qwen2' ? hf.bool('use_sliding_window', false) : window !== undefined && window !== null;
  if (windowOn) {
    if (typeof window !== 'number' || !Number.isInteger(window) || window <= 0) throw new ImportError(hf.file, `'sliding_window' is ${JSON.stringify(window)}, expected a positive integer or null`, 'fix config.json');
    if (window < maxSeqLen) {
      // Attention over a window of W keys equals full causal attention on sequences of at most W tokens.
      notes.push(`sliding_window ${window} < max_position_embeddings ${maxSeqLen}: maxSeqLen set to ${window}, where full attention is the same`);
      maxSeqLen = window;
    }
  }
  const input: ModelConfigInput = {
    ...common,
    maxSeqLen,
    block: 'sequential',
    ropeBase: hf.num('rope_theta', 10000),
    normEps: hf.num('rms_norm_eps', 1e-6),
    nKvHeads: hf.int('num_key_value_heads', H),
    ...(qkvBias ? { qkvBias: true } : {}),
    ...(attentionBias ? { attnOutBias: true } : {}),
    ...(hf.bool('mlp_bias', false) ? { ffnBias: true } : {}),
  };
  return { input, family: 'llama' };
}

/** The bam tensors of a Llama-family model from its Hugging Face tensors. */
function llamaTensors(c: ModelConfig, src: SourceTensors): Map<string, { shape: number[]; data: Float32Array }> {
  const { vocabSize: V, dModel: D, nHeads: H, nKvHeads: Hkv, dFF: F } = c;
  const Dh = D / H;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  const put = (name: string, shape: number[], data: Float32Array) => out.set(name, { shape, data });
  // Linear weight [out, in] → bam [in, out].
  const linear = (name: string, outDim: number, inDim: number, why: string) => transposeRows(src.take(name, [outDim, inDim], why), outDim, inDim);
  const embed = src.take('model.embed_tokens.weight', [V, D], 'the token embedding');
  put('embed.weight', [V, D], embed);
  for (let l = 0; l < c.nLayers; l++) {
    const hp = `model.layers.${l}`;
    const bp = `layers.${l}`;
    put(`${bp}.norm1.scale`, [D], src.take(`${hp}.input_layernorm.weight`, [D], 'the attention RMSNorm'));
    put(`${bp}.norm2.scale`, [D], src.take(`${hp}.post_attention_layernorm.weight`, [D], 'the MLP RMSNorm'));
    put(`${bp}.attn.wq`, [D, H * Dh], linear(`${hp}.self_attn.q_proj.weight`, H * Dh, D, `${H} query heads of width ${Dh}`));
    put(`${bp}.attn.wk`, [D, Hkv * Dh], linear(`${hp}.self_attn.k_proj.weight`, Hkv * Dh, D, `${Hkv} key/value heads of width ${Dh}`));
    put(`${bp}.attn.wv`, [D, Hkv * Dh], linear(`${hp}.self_attn.v_proj.weight`, Hkv * Dh, D, `${Hkv} key/value heads of width ${Dh}`));
    put(`${bp}.attn.wo`, [H * Dh, D], linear(`${hp}.self_attn.o_proj.weight`, D, H * Dh, 'the attention output'));
    if (c.qkvBias) {
      put(`${bp}.attn.bq`, [H * Dh], src.take(`${hp}.self_attn.q_proj.bias`, [H * Dh], 'the query bias'));
      put(`${bp}.attn.bk`, [Hkv * Dh], src.take(`${hp}.self_attn.k_proj.bias`, [Hkv * Dh], 'the key bias'));
      put(`${bp}.attn.bv`, [Hkv * Dh], src.take(`${hp}.self_attn.v_proj.bias`, [Hkv * Dh], 'the value bias'));
    }
    if (c.attnOutBias) put(`${bp}.attn.bo`, [D], src.take(`${hp}.self_attn.o_proj.bias`, [D], 'the attention output bias'));
    put(`${bp}.ffn.w_gate`, [D, F], linear(`${hp}.mlp.gate_proj.weight`, F, D, 'the SwiGLU gate'));
    put(`${bp}.ffn.w_up`, [D, F], linear(`${hp}.mlp.up_proj.weight`, F, D, 'the SwiGLU up projection'));
    put(`${bp}.ffn.w_down`, [F, D], linear(`${hp}.mlp.down_proj.weight`, D, F, 'the SwiGLU down projection'));
    if (c.ffnBias) {
      put(`${bp}.ffn.b_gate`, [F], src.take(`${hp}.mlp.gate_proj.bias`, [F], 'the gate bias'));
      put(`${bp}.ffn.b_up`, [F], src.take(`${hp}.mlp.up_proj.bias`, [F], 'the up bias'));
      put(`${bp}.ffn.b_down`, [D], src.take(`${hp}.mlp.down_proj.bias`, [D], 'the down bias'));
    }
  }
  put('final_norm.scale', [D], src.take('model.norm.weight', [D], 'the final RMSNorm'));
  headTensor(c, src, 'lm_head.weight', embed, put);
  return out;
}

/**
 * The LM head: untied, `name` [V, D] transposed to bam's [D, V]; tied, nothing, though some
 * savers also write the tied head: taken when equal to the embedding, an error otherwise.
 */
function headTensor(c: ModelConfig, src: SourceTensors, name: string, embed: Float32Array, put: (name: string, shape: number[], data: Float32Array) => void): void {
  const { vocabSize: V, dModel: D } = c;
  if (!c.tieEmbeddings) {
    put('lm_head.weight', [D, V], transposeRows(src.take(name, [V, D], 'the untied LM head'), V, D));
    return;
  }
  if (!src.has(name)) return;
  const head = src.take(name, [V, D], 'the tied LM head');
  if (head.some((v, i) => v !== embed[i])) {
    throw new ImportError(name, `tie_word_embeddings is true but '${name}' differs from the embedding`, 'set tie_word_embeddings to false in config.json if the head is its own matrix');
  }
}

/** The bam tensors of a GPT-NeoX model from its Hugging Face tensors. */
function neoxTensors(c: ModelConfig, src: SourceTensors): Map<string, { shape: number[]; data: Float32Array }> {
  const { vocabSize: V, dModel: D, nHeads: H, dFF: F } = c;
  const Dh = D / H;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  const put = (name: string, shape: number[], data: Float32Array) => out.set(name, { shape, data });
  const linear = (name: string, outDim: number, inDim: number, why: string) => transposeRows(src.take(name, [outDim, inDim], why), outDim, inDim);
  const embed = src.take('gpt_neox.embed_in.weight', [V, D], 'the token embedding');
  put('embed.weight', [V, D], embed);
  const norm = (hfName: string, bamName: string, why: string) => {
    put(`${bamName}.scale`, [D], src.take(`${hfName}.weight`, [D], why));
    put(`${bamName}.bias`, [D], src.take(`${hfName}.bias`, [D], why));
  };
  for (let l = 0; l < c.nLayers; l++) {
    const hp = `gpt_neox.layers.${l}`;
    const bp = `layers.${l}`;
    norm(`${hp}.input_layernorm`, `${bp}.norm1`, 'the attention LayerNorm');
    norm(`${hp}.post_attention_layernorm`, `${bp}.norm2`, 'the MLP LayerNorm');
    // The fused projection's output rows are [H, 3, Dh]: head h's query, key, value rows in turn.
    const qkv = src.take(`${hp}.attention.query_key_value.weight`, [3 * D, D], `the fused query/key/value of ${H} heads of width ${Dh}`);
    const part = (j: number) => (r: number) => (Math.floor(r / Dh) * 3 + j) * Dh + (r % Dh);
    put(`${bp}.attn.wq`, [D, D], transposeRows(qkv, D, D, part(0)));
    put(`${bp}.attn.wk`, [D, D], transposeRows(qkv, D, D, part(1)));
    put(`${bp}.attn.wv`, [D, D], transposeRows(qkv, D, D, part(2)));
    put(`${bp}.attn.wo`, [D, D], linear(`${hp}.attention.dense.weight`, D, D, 'the attention output'));
    if (c.qkvBias) {
      const b = src.take(`${hp}.attention.query_key_value.bias`, [3 * D], 'the fused query/key/value bias');
      for (const [j, n] of ['bq', 'bk', 'bv'].entries()) put(`${bp}.attn.${n}`, [D], Float32Array.from({ length: D }, (_, r) => b[part(j)(r)]));
    }
    if (c.attnOutBias) put(`${bp}.attn.bo`, [D], src.take(`${hp}.attention.dense.bias`, [D], 'the attention output bias'));
    put(`${bp}.ffn.w_up`, [D, F], linear(`${hp}.mlp.dense_h_to_4h.weight`, F, D, 'the MLP input'));
    put(`${bp}.ffn.b_up`, [F], src.take(`${hp}.mlp.dense_h_to_4h.bias`, [F], 'the MLP input bias'));
    put(`${bp}.ffn.w_down`, [F, D], linear(`${hp}.mlp.dense_4h_to_h.weight`, D, F, 'the MLP output'));
    put(`${bp}.ffn.b_down`, [D], src.take(`${hp}.mlp.dense_4h_to_h.bias`, [D], 'the MLP output bias'));
  }
  norm('gpt_neox.final_layer_norm', 'final_norm', 'the final LayerNorm');
  headTensor(c, src, 'embed_out.weight', embed, put);
  return out;
}


/**
 * Reads a Hugging Face model folder into bam's config, tensors and tokenizer. Throws an
 * `ImportError` naming the file and what is wrong: an unsupported `model_type` or option, a
 * missing, extra or misshapen tensor, a missing tokenizer.json, or a tokenizer with more ids than
 * the embedding has rows.
 */
export function readHfModel(dir: string): ImportedModel {
  const configPath = join(dir, 'config.json');
  const hf = new HfConfig(readJson(configPath, 'a Hugging Face model folder holds config.json'), configPath);
  const notes: string[] = [];
  const { input, family } = bamConfigOf(hf, notes);
  let config: ModelConfig;
  try {
    config = parseModelConfig(input, configPath);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ImportError(configPath, `maps to a model bam cannot build: ${err.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, 'see docs/internals.md "Imported architectures"');
  }
  const tokPath = join(dir, TOKENIZER_FILES.hf);
  if (!existsSync(tokPath)) throw new ImportError(tokPath, 'file not found', 'bam needs the fast tokenizer file tokenizer.json (save the tokenizer with a recent transformers)');
  const tokenizer = createTokenizer({ kind: 'hf', path: tokPath });
  checkVocab(tokenizer, config, tokPath, notes);
  const { tensors, fileOf } = readWeights(dir);
  const src = new SourceTensors(tensors, fileOf);
  const out = family === 'llama' ? llamaTensors(config, src) : neoxTensors(config, src);
  src.checkAllUsed(`bam's ${String(hf.json.model_type)} import does not use it; the weights may belong to another architecture or config.json may be wrong`);
  return { config, tensors: out, tokenizer, notes, source: `hf:${String(hf.json.model_type)}` };
}

/** A tokenizer may have fewer ids than the embedding rows (padded vocabularies), never more. */
export function checkVocab(tokenizer: Tokenizer, config: ModelConfig, file: string, notes: string[]): void {
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new ImportError(file, `the tokenizer has ${tokenizer.vocabSize} ids but the embedding has only ${config.vocabSize} rows (vocab_size)`, 'the tokenizer belongs to another model; use the one saved with these weights');
  }
  if (tokenizer.vocabSize < config.vocabSize) notes.push(`tokenizer has ${tokenizer.vocabSize} ids; embedding rows ${tokenizer.vocabSize}..${config.vocabSize - 1} are padding`);
}
