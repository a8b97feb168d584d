/**
 * Tensor names as structured keys: the one place that turns a parameter's (layer, part, expert,
 * weight) into its checkpoint name and back. Names are the safetensors tensor names of
 * docs/internals.md, byte for byte — what checkpoints store, recipes copy by and the PyTorch peer
 * loads — so this module only gives them a type:
 *
 *   embed.weight                          { part: 'embed' }
 *   layers.{l}.{norm|norm1|norm2}.scale   { part: 'norm', layer, weight }
 *   layers.{l}.{norm|norm1|norm2}.bias    { part: 'norm', layer, weight, bias: true }   (LayerNorm)
 *   layers.{l}.attn.{wq|wk|wv|wo}         { part: 'attn', layer, weight }             (dense or shared K, V)
 *   layers.{l}.attn.{bq|bk|bv|bo}         { part: 'attn', layer, weight }             (biases of imported models)
 *   layers.{l}.attn.experts.{e}.{w}       { part: 'attn', layer, expert, weight }     (an attention expert)
 *   layers.{l}.ffn.{w_gate|w_up|w_down}   { part: 'ffn', layer, weight }             (and b_gate|b_up|b_down)
 *   layers.{l}.ffn.experts.{e}.{w}        { part: 'ffn', layer, expert, weight }      (an FFN expert)
 *   layers.{l}.{attn|ffn}.router          { part: 'router', layer, of }
 *   routers.{attn|ffn}                    { part: 'router', of }                      (shared by all layers)
 *   final_norm.scale / final_norm.bias    { part: 'final_norm' } / { part: 'final_norm', bias: true }
 *   lm_head.weight                        { part: 'lm_head' }
 */
import { BamError } from '../errors.ts';

/** The weights of an attention block (dense, one expert, or the K, V shared by all experts); biases only in imported models. */
export type AttnWeight = 'wq' | 'wk' | 'wv' | 'wo' | 'bq' | 'bk' | 'bv' | 'bo';
/** The weights of an FFN (dense or one expert): SwiGLU's three, the GeLU MLP's w_up and w_down, and their biases in imported models. */
export type FfnWeight = 'w_gate' | 'w_up' | 'w_down' | 'b_gate' | 'b_up' | 'b_down';
/** A layer's norms: `norm` in a parallel block, `norm1` (before attention) and `norm2` (before the FFN) in a sequential one. */
export type NormWeight = 'norm' | 'norm1' | 'norm2';

/** One parameter of a model, addressed by what it is rather than by its name. */
export type ParamKey =
  | { part: 'embed' }
  | { part: 'final_norm'; bias?: true }
  | { part: 'lm_head' }
  | { part: 'norm'; layer: number; weight: NormWeight; bias?: true }
  | { part: 'attn'; layer: number; expert?: number; weight: AttnWeight }
  | { part: 'ffn'; layer: number; expert?: number; weight: FfnWeight }
  /** A router's weight [D, E]: of the layer `layer`, or shared by all layers when `layer` is absent. */
  | { part: 'router'; layer?: number; of: 'attn' | 'ffn' };

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A key of a layer's own parameter without its layer (what a block asks its layer for). */
export type LayerParamKey = DistributiveOmit<Extract<ParamKey, { part: 'norm' | 'attn' | 'ffn' | 'router' }>, 'layer'>;

const ATTN_WEIGHTS: readonly string[] = ['wq', 'wk', 'wv', 'wo', 'bq', 'bk', 'bv', 'bo'] satisfies AttnWeight[];
const FFN_WEIGHTS: readonly string[] = ['w_gate', 'w_up', 'w_down', 'b_gate', 'b_up', 'b_down'] satisfies FfnWeight[];
const NORM_WEIGHTS: readonly string[] = ['norm', 'norm1', 'norm2'] satisfies NormWeight[];

/** The tensor name of a key (the inverse of `parseParamName`). */
export function paramName(key: ParamKey): string {
  switch (key.part) {
    case 'embed':
      return 'embed.weight';
    case 'final_norm':
      return key.bias ? 'final_norm.bias' : 'final_norm.scale';
    case 'lm_head':
      return 'lm_head.weight';
    case 'norm':
      return `layers.${key.layer}.${key.weight}.${key.bias ? 'bias' : 'scale'}`;
    case 'attn':
    case 'ffn':
      return key.expert === undefined
        ? `layers.${key.layer}.${key.part}.${key.weight}`
        : `layers.${key.layer}.${key.part}.experts.${key.expert}.${key.weight}`;
    case 'router':
      return key.layer === undefined ? `routers.${key.of}` : `layers.${key.layer}.${key.of}.router`;
  }
}

const INDEX = '(0|[1-9]\\d*)';
const LAYER_NAME = new RegExp(`^layers\\.${INDEX}\\.(.+)$`);
const EXPERT_NAME = new RegExp(`^(attn|ffn)\\.experts\\.${INDEX}\\.(\\w+)$`);

/** The key of one name of a layer's own parameter, or null (`rest` is the name after `layers.{l}.`). */
function layerKey(layer: number, rest: string): ParamKey | null {
  const dot = rest.indexOf('.');
  const head = rest.slice(0, dot);
  const tail = rest.slice(dot + 1);
  if (NORM_WEIGHTS.includes(head) && tail === 'scale') return { part: 'norm', layer, weight: head as NormWeight };
  if (NORM_WEIGHTS.includes(head) && tail === 'bias') return { part: 'norm', layer, weight: head as NormWeight, bias: true };
  if (head === 'attn' || head === 'ffn') {
    if (tail === 'router') return { part: 'router', layer, of: head };
    const weights = head === 'attn' ? ATTN_WEIGHTS : FFN_WEIGHTS;
    if (weights.includes(tail)) return head === 'attn' ? { part: 'attn', layer, weight: tail as AttnWeight } : { part: 'ffn', layer, weight: tail as FfnWeight };
    const m = EXPERT_NAME.exec(rest);
    if (m && weights.includes(m[3])) {
      const expert = Number(m[2]);
      return head === 'attn' ? { part: 'attn', layer, expert, weight: m[3] as AttnWeight } : { part: 'ffn', layer, expert, weight: m[3] as FfnWeight };
    }
  }
  return null;
}

/**
 * The key of a tensor name (the inverse of `paramName`). A name that is not one of a bam model's
 * parameters throws a BamError (E_PARAM_NAME) naming it.
 */
export function parseParamName(name: string): ParamKey {
  let key: ParamKey | null = null;
  if (name === 'embed.weight') key = { part: 'embed' };
  else if (name === 'final_norm.scale') key = { part: 'final_norm' };
  else if (name === 'final_norm.bias') key = { part: 'final_norm', bias: true };
  else if (name === 'lm_head.weight') key = { part: 'lm_head' };
  else if (name === 'routers.attn' || name === 'routers.ffn') key = { part: 'router', of: name === 'routers.attn' ? 'attn' : 'ffn' };
  else {
    const m = LAYER_NAME.exec(name);
    if (m) key = layerKey(Number(m[1]), m[2]);
  }
  if (!key) {
    throw new BamError(
      `'${name}' is not a bam parameter name`,
      'E_PARAM_NAME',
      'parameters are named as in docs/internals.md, e.g. layers.0.attn.wq, layers.0.ffn.experts.1.w_up, layers.0.ffn.router',
    );
  }
  return key;
}

/** The key of one expert's own weight (an FFN or attention expert). */
export type ExpertParamKey = Extract<ParamKey, { part: 'attn' | 'ffn' }> & { expert: number };

/** Whether a key is an expert's own weight, which a mixture copies from one dense model (`{ ...key, expert: undefined }` names that model's). */
export function isExpertKey(key: ParamKey): key is ExpertParamKey {
  return (key.part === 'attn' || key.part === 'ffn') && key.expert !== undefined;
}
