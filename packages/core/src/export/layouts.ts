/**
 * The export layouts: for each format, the `config.json` and the planned tensors (Hugging Face
 * names, PyTorch's [out, in] Linear layout) of a bam model, or an `ExportError` naming the
 * config field the format cannot express and the format that can.
 *
 * - `hf-llama`: dense, sequential, RMSNorm, SwiGLU (modeling_llama; `qwen2` when the model has
 *   q/k/v biases without an output bias). The inverse of import's Llama mapping (core/src/import/hf.ts).
 * - `hf-gpt-neox`: dense, LayerNorm with biases, GeLU MLP with biases, parallel (norms separate,
 *   or one shared norm written twice) or sequential; the fused query_key_value rows are [H, 3, Dh].
 * - `hf-mixtral`: BTX-family mixtures (FFN experts, dense attention) whose FFN router is top-k
 *   renormalised (`normalize: 'after'`), which is Mixtral's routing.
 * - `hf-qwen2-moe`: the same mixtures under either top-k form (`norm_topk_prob` = normalize
 *   'after'); no shared expert (`shared_expert_intermediate_size: 0`, empty tensors), zero q/k/v
 *   biases when bam has none (Qwen2's attention always has them).
 * - `bam-hf`: every bam model (attention experts, soft or top-k routing, KV-shared, parallel
 *   blocks): bam's config in `config.json` (`model_type: "bam"`, docs/export.md) and Hugging
 *   Face-style names; python/bam_hf.py runs it in PyTorch.
 * bam's RoPE rotates the two halves of each head (rotate_half), Hugging Face's layout, so query
 * and key rows need no permutation. Routers shared across layers are written once per layer.
 */
import type { SafeTensor } from '../checkpoint/index.ts';
import { BamError } from '../errors.ts';
import { headDim, ropeDims, type ModelConfig } from '../model/config.ts';
import { paramName, type ParamKey } from '../model/param-names.ts';
import { transposeRows } from '../import/index.ts';
import type { PlannedTensor } from './writer.ts';

/** The formats `bam export` writes. */
export const EXPORT_FORMATS = ['hf-llama', 'hf-gpt-neox', 'hf-mixtral', 'hf-qwen2-moe', 'bam-hf'] as const;
/** One export format. */
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** A model the chosen format cannot express: names the field and the format to use instead. */
export class ExportError extends BamError {
  constructor(format: string, message: string, hint?: string) {
    super(`export --format ${format}: ${message}`, 'E_EXPORT', hint);
  }
}

/** What a layout produces: config.json's object and the tensors to write. */
export interface ExportPlan {
  config: Record<string, unknown>;
  tensors: PlannedTensor[];
}

/** bam's weights by name, each used once (a use-tracking view for the completeness check). */
class BamTensors {
  private readonly used = new Set<string>();
  constructor(readonly weights: ReadonlyMap<string, SafeTensor>) {}

  get(key: ParamKey | string): SafeTensor {
    const name = typeof key === 'string' ? key : paramName(key);
    const t = this.weights.get(name);
    if (!t) throw new BamError(`export: the checkpoint has no tensor '${name}'`, 'E_EXPORT', 'the checkpoint does not match its config; run bam inspect on it');
    this.used.add(name);
    return t;
  }

  has(key: ParamKey): boolean {
    return this.weights.has(paramName(key));
  }

  /** Names no layout tensor read (a layout that forgot one would silently drop weights). */
  unused(): string[] {
    return [...this.weights.keys()].filter((n) => !this.used.has(n));
  }
}

const f32 = (t: SafeTensor): Float32Array => (t.data instanceof Float32Array ? t.data : Float32Array.from(t.data));

/** Builds the tensor list of one layout. */
class Planner {
  readonly tensors: PlannedTensor[] = [];
  constructor(readonly src: BamTensors) {}

  /** A vector or the embedding, as stored. */
  copy(name: string, key: ParamKey): void {
    const t = this.src.get(key);
    this.tensors.push({ name, shape: [...t.shape], data: () => f32(t) });
  }

  /** bam's [in, out] matrix as PyTorch's Linear weight [out, in]. */
  linear(name: string, key: ParamKey): void {
    const t = this.src.get(key);
    const [rows, cols] = t.shape;
    this.tensors.push({ name, shape: [cols, rows], data: () => transposeRows(f32(t), rows, cols) });
  }

  zeros(name: string, shape: number[]): void {
    this.tensors.push({ name, shape, data: () => new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  }

  /** A tensor computed from several bam tensors (marks them used). */
  derived(name: string, shape: number[], keys: ParamKey[], fn: (ts: Float32Array[]) => Float32Array): void {
    const ts = keys.map((k) => this.src.get(k));
    this.tensors.push({ name, shape, data: () => fn(ts.map(f32)) });
  }
}

function refuse(format: ExportFormat, ok: boolean, message: string, hint = 'export it with --format bam-hf, which writes every bam model'): void {
  if (!ok) throw new ExportError(format, message, hint);
}

/** Fields every Hugging Face layout shares. */
function hfCommon(c: ModelConfig): Record<string, unknown> {
  return {
    vocab_size: c.vocabSize,
    hidden_size: c.dModel,
    intermediate_size: c.dFF,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    max_position_embeddings: c.maxSeqLen,
    initializer_range: c.initStd,
    tie_word_embeddings: c.tieEmbeddings,
    torch_dtype: 'float32',
  };
}

/** Checks shared by the Llama-family layouts (llama, mixtral, qwen2-moe): sequential RMSNorm SwiGLU with dense attention. */
function checkLlamaFamily(format: ExportFormat, c: ModelConfig): void {
  refuse(format, c.block === 'sequential', `block is '${c.block}'; the Llama family's blocks are sequential (attention, then the MLP on the updated residual)`);
  refuse(format, (c.norm ?? 'rms') === 'rms', `norm is '${c.norm}'; the Llama family uses RMSNorm`);
  refuse(format, (c.mlp ?? 'swiglu') === 'swiglu', `mlp is '${c.mlp}'; the Llama family uses SwiGLU`, c.mlp ? 'export it with --format hf-gpt-neox (dense) or bam-hf' : undefined);
  refuse(format, ropeDims(c) === headDim(c), `rotaryFraction is ${c.rotaryFraction}; the Llama family rotates whole heads`);
  refuse(format, c.attention.kind === 'dense', `attention is a mixture of ${c.attention.kind === 'moa' ? c.attention.numExperts : 0} experts (BAM); no Hugging Face layout has attention experts`);
  refuse(format, !c.routing.perExample, 'routing.perExample is set; Hugging Face layouts route each token');
}

/** The Llama-family parts outside the MLP: embedding, norms, attention, final norm, head. */
function llamaBody(p: Planner, c: ModelConfig, opts: { zeroQkvBias?: boolean } = {}): void {
  const { nHeads: H, nKvHeads: Hkv } = c;
  const Dh = headDim(c);
  p.copy('model.embed_tokens.weight', { part: 'embed' });
  for (let layer = 0; layer < c.nLayers; layer++) {
    const hp = `model.layers.${layer}`;
    p.copy(`${hp}.input_layernorm.weight`, { part: 'norm', layer, weight: 'norm1' });
    p.copy(`${hp}.post_attention_layernorm.weight`, { part: 'norm', layer, weight: 'norm2' });
    for (const [w, n] of [['wq', 'q'], ['wk', 'k'], ['wv', 'v'], ['wo', 'o']] as const) p.linear(`${hp}.self_attn.${n}_proj.weight`, { part: 'attn', layer, weight: w });
    if (c.qkvBias) for (const [w, n] of [['bq', 'q'], ['bk', 'k'], ['bv', 'v']] as const) p.copy(`${hp}.self_attn.${n}_proj.bias`, { part: 'attn', layer, weight: w });
    else if (opts.zeroQkvBias) for (const [n, width] of [['q', H * Dh], ['k', Hkv * Dh], ['v', Hkv * Dh]] as const) p.zeros(`${hp}.self_attn.${n}_proj.bias`, [width]);
    if (c.attnOutBias) p.copy(`${hp}.self_attn.o_proj.bias`, { part: 'attn', layer, weight: 'bo' });
  }
  p.copy('model.norm.weight', { part: 'final_norm' });
  if (!c.tieEmbeddings) p.linear('lm_head.weight', { part: 'lm_head' });
}

function llamaFamilyConfig(c: ModelConfig): Record<string, unknown> {
  return { ...hfCommon(c), num_key_value_heads: c.nKvHeads, head_dim: headDim(c), rms_norm_eps: c.normEps, rope_theta: c.ropeBase, rope_scaling: null, hidden_act: 'silu' };
}

function hfLlama(c: ModelConfig, p: Planner): ExportPlan {
  const format = 'hf-llama';
  checkLlamaFamily(format, c);
  refuse(format, c.ffn.kind === 'dense', `ffn is a mixture of ${c.ffn.kind === 'moe' ? c.ffn.numExperts : 0} experts`, 'export a BTX mixture with --format hf-mixtral or hf-qwen2-moe');
  // Qwen2 is Llama with q/k/v biases and no output bias; Llama's attention_bias puts a bias on all four.
  const qwen2 = !!c.qkvBias && !c.attnOutBias;
  refuse(format, !c.attnOutBias || !!c.qkvBias, 'attnOutBias without qkvBias has no Llama-family layout');
  refuse(format, !(qwen2 && c.ffnBias), 'q/k/v biases without an output bias (Qwen2) and MLP biases have no Llama-family layout');
  llamaBody(p, c);
  for (let layer = 0; layer < c.nLayers; layer++) {
    const hp = `model.layers.${layer}.mlp`;
    for (const [w, n] of [['w_gate', 'gate'], ['w_up', 'up'], ['w_down', 'down']] as const) p.linear(`${hp}.${n}_proj.weight`, { part: 'ffn', layer, weight: w });
    if (c.ffnBias) for (const [w, n] of [['b_gate', 'gate'], ['b_up', 'up'], ['b_down', 'down']] as const) p.copy(`${hp}.${n}_proj.bias`, { part: 'ffn', layer, weight: w });
  }
  const config = qwen2
    ? { architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', ...llamaFamilyConfig(c), use_sliding_window: false, sliding_window: null }
    : { architectures: ['LlamaForCausalLM'], model_type: 'llama', ...llamaFamilyConfig(c), attention_bias: !!c.qkvBias, mlp_bias: !!c.ffnBias };
  return { config, tensors: p.tensors };
}

function hfGptNeox(c: ModelConfig, p: Planner): ExportPlan {
  const format = 'hf-gpt-neox';
  refuse(format, c.norm === 'layernorm', `norm is '${c.norm ?? 'rms'}'; GPT-NeoX uses LayerNorm with a bias`);
  refuse(format, c.mlp === 'gelu' || c.mlp === 'gelu-tanh', `mlp is '${c.mlp ?? 'swiglu'}'; GPT-NeoX's MLP is GeLU`);
  refuse(format, !!c.ffnBias, "ffnBias is off; GPT-NeoX's MLP always has biases");
  refuse(format, !!c.qkvBias === !!c.attnOutBias, 'qkvBias and attnOutBias differ; GPT-NeoX biases all attention projections or none (attention_bias)');
  refuse(format, c.nKvHeads === c.nHeads, `nKvHeads (${c.nKvHeads}) differs from nHeads (${c.nHeads}); GPT-NeoX has no grouped-query attention`);
  refuse(format, c.attention.kind === 'dense' && c.ffn.kind === 'dense', 'the model is a mixture; GPT-NeoX is a dense layout');
  const D = c.dModel;
  const Dh = headDim(c);
  const parallel = c.block === 'parallel';
  const separate = c.parallelNorms === 'separate';
  p.copy('gpt_neox.embed_in.weight', { part: 'embed' });
  // Row (h·3 + j)·Dh + d of the fused projection is output h·Dh + d of W_j (q, k, v).
  const fusedRow = (r: number) => {
    const h = Math.floor(r / (3 * Dh));
    const j = Math.floor((r % (3 * Dh)) / Dh);
    return { j, col: h * Dh + (r % Dh) };
  };
  for (let layer = 0; layer < c.nLayers; layer++) {
    const hp = `gpt_neox.layers.${layer}`;
    // A parallel block with one shared norm writes it as both of GPT-NeoX's norms (same function).
    const n1 = parallel && !separate ? 'norm' : 'norm1';
    const n2 = parallel && !separate ? 'norm' : 'norm2';
    for (const [hfn, w] of [['input_layernorm', n1], ['post_attention_layernorm', n2]] as const) {
      p.copy(`${hp}.${hfn}.weight`, { part: 'norm', layer, weight: w });
      p.copy(`${hp}.${hfn}.bias`, { part: 'norm', layer, weight: w, bias: true });
    }
    const qkv = (['wq', 'wk', 'wv'] as const).map((weight) => ({ part: 'attn', layer, weight }) as ParamKey);
    p.derived(`${hp}.attention.query_key_value.weight`, [3 * D, D], qkv, (ws) => {
      const out = new Float32Array(3 * D * D);
      for (let r = 0; r < 3 * D; r++) {
        const { j, col } = fusedRow(r);
        for (let i = 0; i < D; i++) out[r * D + i] = ws[j][i * D + col];
      }
      return out;
    });
    if (c.qkvBias) {
      const b = (['bq', 'bk', 'bv'] as const).map((weight) => ({ part: 'attn', layer, weight }) as ParamKey);
      p.derived(`${hp}.attention.query_key_value.bias`, [3 * D], b, (bs) => Float32Array.from({ length: 3 * D }, (_, r) => bs[fusedRow(r).j][fusedRow(r).col]));
    }
    p.linear(`${hp}.attention.dense.weight`, { part: 'attn', layer, weight: 'wo' });
    if (c.attnOutBias) p.copy(`${hp}.attention.dense.bias`, { part: 'attn', layer, weight: 'bo' });
    p.linear(`${hp}.mlp.dense_h_to_4h.weight`, { part: 'ffn', layer, weight: 'w_up' });
    p.copy(`${hp}.mlp.dense_h_to_4h.bias`, { part: 'ffn', layer, weight: 'b_up' });
    p.linear(`${hp}.mlp.dense_4h_to_h.weight`, { part: 'ffn', layer, weight: 'w_down' });
    p.copy(`${hp}.mlp.dense_4h_to_h.bias`, { part: 'ffn', layer, weight: 'b_down' });
  }
  p.copy('gpt_neox.final_layer_norm.weight', { part: 'final_norm' });
  p.copy('gpt_neox.final_layer_norm.bias', { part: 'final_norm', bias: true });
  if (!c.tieEmbeddings) p.linear('embed_out.weight', { part: 'lm_head' });
  const config = {
    architectures: ['GPTNeoXForCausalLM'],
    model_type: 'gpt_neox',
    ...hfCommon(c),
    rotary_pct: ropeDims(c) / Dh,
    rotary_emb_base: c.ropeBase,
    rope_theta: c.ropeBase,
    layer_norm_eps: c.normEps,
    use_parallel_residual: parallel,
    hidden_act: c.mlp === 'gelu' ? 'gelu' : 'gelu_new',
    attention_bias: !!c.qkvBias,
  };
  return { config, tensors: p.tensors };
}

/** The FFN router of `layer` as a gate Linear [E, D] (a shared router is written into every layer). */
function routerKey(c: ModelConfig, layer: number, of: 'ffn' | 'attn'): ParamKey {
  return { part: 'router', of, layer: c.routing.shareAcrossLayers ? undefined : layer };
}

/** A BTX-family mixture's checks and FFN router: top-k FFN experts over dense attention. */
function checkBtx(format: ExportFormat, c: ModelConfig): { E: number; k: number; normalize: 'before' | 'after' } {
  checkLlamaFamily(format, c);
  refuse(format, c.ffn.kind === 'moe', 'the model is dense (ffn.kind "dense")', 'export a dense model with --format hf-llama');
  if (c.ffn.kind !== 'moe') throw new Error('unreachable');
  const r = c.ffn.router;
  refuse(format, r.kind === 'topk', `the FFN router is '${r.kind}'; ${format} routes by top-k over a learned gate`);
  if (r.kind !== 'topk') throw new Error('unreachable');
  refuse(format, !c.ffnBias, 'ffnBias is on; the experts of Mixtral and Qwen2-MoE have no biases');
  refuse(format, !c.attnOutBias, 'attnOutBias is on; Mixtral and Qwen2-MoE have no attention output bias');
  // Straight-through differs from 'after' only in its training gradient: the exported forward is 'after'.
  return { E: c.ffn.numExperts, k: r.k, normalize: r.normalize === 'before' ? 'before' : 'after' };
}

function hfMixtral(c: ModelConfig, p: Planner): ExportPlan {
  const format = 'hf-mixtral';
  const { E, k, normalize } = checkBtx(format, c);
  if (normalize === 'before') {
    throw new ExportError(
      format,
      `the FFN router is top-${k} with normalize 'before' (softmax over all experts, then top-k, no renormalisation: the BAM paper's routing), which Mixtral's layout cannot express: Mixtral renormalises the top-k gates`,
      'export it with --format hf-qwen2-moe (written with norm_topk_prob: false), or train the mixture with ffn.router.normalize "after"',
    );
  }
  refuse(format, !c.qkvBias, 'qkvBias is on; Mixtral has no attention biases', 'export it with --format hf-qwen2-moe (Qwen2 has q/k/v biases) or bam-hf');
  llamaBody(p, c);
  for (let layer = 0; layer < c.nLayers; layer++) {
    const hp = `model.layers.${layer}.block_sparse_moe`;
    p.linear(`${hp}.gate.weight`, routerKey(c, layer, 'ffn'));
    for (let e = 0; e < E; e++) {
      // Mixtral's w1 is the gate projection, w3 the up projection, w2 the down projection.
      for (const [w, n] of [['w_gate', 'w1'], ['w_up', 'w3'], ['w_down', 'w2']] as const) p.linear(`${hp}.experts.${e}.${n}.weight`, { part: 'ffn', layer, expert: e, weight: w });
    }
  }
  const config = {
    architectures: ['MixtralForCausalLM'],
    model_type: 'mixtral',
    ...llamaFamilyConfig(c),
    num_local_experts: E,
    num_experts_per_tok: k,
    router_aux_loss_coef: c.aux.loadBalance,
    output_router_logits: false,
    sliding_window: null,
  };
  return { config, tensors: p.tensors };
}

function hfQwen2Moe(c: ModelConfig, p: Planner): ExportPlan {
  const format = 'hf-qwen2-moe';
  const { E, k, normalize } = checkBtx(format, c);
  const D = c.dModel;
  llamaBody(p, c, { zeroQkvBias: true });
  for (let layer = 0; layer < c.nLayers; layer++) {
    const hp = `model.layers.${layer}.mlp`;
    p.linear(`${hp}.gate.weight`, routerKey(c, layer, 'ffn'));
    for (let e = 0; e < E; e++) {
      for (const [w, n] of [['w_gate', 'gate'], ['w_up', 'up'], ['w_down', 'down']] as const) p.linear(`${hp}.experts.${e}.${n}_proj.weight`, { part: 'ffn', layer, expert: e, weight: w });
    }
    // No shared expert: width 0, so its output and its sigmoid-gated contribution are zero.
    p.zeros(`${hp}.shared_expert.gate_proj.weight`, [0, D]);
    p.zeros(`${hp}.shared_expert.up_proj.weight`, [0, D]);
    p.zeros(`${hp}.shared_expert.down_proj.weight`, [D, 0]);
    p.zeros(`${hp}.shared_expert_gate.weight`, [1, D]);
  }
  const config = {
    architectures: ['Qwen2MoeForCausalLM'],
    model_type: 'qwen2_moe',
    ...llamaFamilyConfig(c),
    num_experts: E,
    num_experts_per_tok: k,
    moe_intermediate_size: c.dFF,
    shared_expert_intermediate_size: 0,
    norm_topk_prob: normalize === 'after',
    decoder_sparse_step: 1,
    mlp_only_layers: [],
    router_aux_loss_coef: c.aux.loadBalance,
    output_router_logits: false,
    use_sliding_window: false,
    sliding_window: null,
  };
  return { config, tensors: p.tensors };
}

/**
 * bam-hf: bam's own architecture under Hugging Face-style names (docs/export.md lists them), read
 * by python/bam_hf.py. `config.json` holds `model_type: "bam"` and `bam_config`, the model config
 * exactly as bam parsed it.
 */
function bamHf(c: ModelConfig, p: Planner): ExportPlan {
  const format = 'bam-hf';
  refuse(format, !c.routing.perExample, 'routing.perExample is set; bam-hf routes each token', 'retrain without perExample routing');
  if (c.ffn.kind === 'moe') {
    refuse(format, c.ffn.router.kind === 'topk', `the FFN router is '${c.ffn.router.kind}'; bam-hf writes top-k routers (expert-choice and hash routing depend on the batch or the token ids)`, 'train the mixture with a topk FFN router');
  }
  const norm = (name: string, key: Extract<ParamKey, { part: 'norm' | 'final_norm' }>) => {
    p.copy(`${name}.weight`, key);
    if (c.norm === 'layernorm') p.copy(`${name}.bias`, { ...key, bias: true });
  };
  p.copy('model.embed_tokens.weight', { part: 'embed' });
  const attnNames = [['wq', 'q'], ['wk', 'k'], ['wv', 'v'], ['wo', 'o']] as const;
  const ffnNames = [['w_gate', 'gate'], ['w_up', 'up'], ['w_down', 'down']] as const;
  const ffnBiasNames = [['b_gate', 'gate'], ['b_up', 'up'], ['b_down', 'down']] as const;
  for (let layer = 0; layer < c.nLayers; layer++) {
    const hp = `model.layers.${layer}`;
    if (c.block === 'parallel' && c.parallelNorms !== 'separate') norm(`${hp}.input_layernorm`, { part: 'norm', layer, weight: 'norm' });
    else {
      norm(`${hp}.input_layernorm`, { part: 'norm', layer, weight: 'norm1' });
      norm(`${hp}.post_attention_layernorm`, { part: 'norm', layer, weight: 'norm2' });
    }
    const a = `${hp}.self_attn`;
    if (c.attention.kind === 'dense') {
      for (const [w, n] of attnNames) p.linear(`${a}.${n}_proj.weight`, { part: 'attn', layer, weight: w });
      if (c.qkvBias) for (const [w, n] of [['bq', 'q'], ['bk', 'k'], ['bv', 'v']] as const) p.copy(`${a}.${n}_proj.bias`, { part: 'attn', layer, weight: w });
      if (c.attnOutBias) p.copy(`${a}.o_proj.bias`, { part: 'attn', layer, weight: 'bo' });
    } else {
      const kvShared = c.attention.kvShared;
      if (kvShared) for (const [w, n] of attnNames.slice(1, 3)) p.linear(`${a}.${n}_proj.weight`, { part: 'attn', layer, weight: w });
      for (let e = 0; e < c.attention.numExperts; e++) {
        for (const [w, n] of attnNames) if (!kvShared || w === 'wq' || w === 'wo') p.linear(`${a}.experts.${e}.${n}_proj.weight`, { part: 'attn', layer, expert: e, weight: w });
      }
      if (!c.routing.tieAttentionToFfn) p.linear(`${a}.router.weight`, routerKey(c, layer, 'attn'));
    }
    const m = `${hp}.mlp`;
    const ffn = (prefix: string, expert?: number) => {
      for (const [w, n] of ffnNames) if (w !== 'w_gate' || (c.mlp ?? 'swiglu') === 'swiglu') p.linear(`${prefix}.${n}_proj.weight`, { part: 'ffn', layer, expert, weight: w });
      if (c.ffnBias) for (const [w, n] of ffnBiasNames) if (w !== 'b_gate' || (c.mlp ?? 'swiglu') === 'swiglu') p.copy(`${prefix}.${n}_proj.bias`, { part: 'ffn', layer, expert, weight: w });
    };
    if (c.ffn.kind === 'dense') ffn(m);
    else {
      for (let e = 0; e < c.ffn.numExperts; e++) ffn(`${m}.experts.${e}`, e);
      p.linear(`${m}.router.weight`, routerKey(c, layer, 'ffn'));
    }
  }
  norm('model.norm', { part: 'final_norm' });
  if (!c.tieEmbeddings) p.linear('lm_head.weight', { part: 'lm_head' });
  const config = {
    architectures: ['BamForCausalLM'],
    model_type: 'bam',
    bam_hf_version: 1,
    ...hfCommon(c),
    num_key_value_heads: c.nKvHeads,
    head_dim: headDim(c),
    rope_theta: c.ropeBase,
    rotary_dim: ropeDims(c),
    norm_eps: c.normEps,
    norm: c.norm ?? 'rms',
    mlp: c.mlp ?? 'swiglu',
    block: c.block,
    parallel_norms: c.block === 'parallel' ? (c.parallelNorms ?? 'shared') : null,
    qkv_bias: !!c.qkvBias,
    attn_out_bias: !!c.attnOutBias,
    ffn_bias: !!c.ffnBias,
    attention:
      c.attention.kind === 'dense'
        ? { kind: 'dense' }
        : { kind: 'moa', num_experts: c.attention.numExperts, kv_shared: c.attention.kvShared, router: c.attention.router, tied_to_ffn_router: c.routing.tieAttentionToFfn },
    ffn: c.ffn.kind === 'dense' ? { kind: 'dense' } : { kind: 'moe', num_experts: c.ffn.numExperts, router: c.ffn.router },
    bam_config: c,
  };
  return { config, tensors: p.tensors };
}

const LAYOUTS: Record<ExportFormat, (c: ModelConfig, p: Planner) => ExportPlan> = {
  'hf-llama': hfLlama,
  'hf-gpt-neox': hfGptNeox,
  'hf-mixtral': hfMixtral,
  'hf-qwen2-moe': hfQwen2Moe,
  'bam-hf': bamHf,
};

/**
 * The export plan of a model in `format`: config.json and the tensors. Throws `ExportError` when
 * the format cannot express the model, and a BamError if the layout left one of the checkpoint's
 * tensors unwritten (a layout bug would otherwise drop weights silently).
 */
export function planExport(format: ExportFormat, config: ModelConfig, weights: ReadonlyMap<string, SafeTensor>): ExportPlan {
  const src = new BamTensors(weights);
  const plan = LAYOUTS[format](config, new Planner(src));
  const unused = src.unused();
  if (unused.length) throw new BamError(`export --format ${format}: the layout does not write tensor '${unused[0]}'${unused.length > 1 ? ` (and ${unused.length - 1} more)` : ''}`, 'E_EXPORT', 'export with --format bam-hf');
  return plan;
}
