/**
 * `bam flops`: analytic forward FLOPs per token (per layer and whole model) and total / active
 * parameters of a model config, or of the mixture a merge recipe makes of it (Table 7 / Table 9 of
 * the BAM paper; formulas in packages/core/src/model/count.ts, mixture configs from upcycle's
 * recipes). Needs no tensor backend.
 */
import { readFileSync } from 'node:fs';
import { BamError, forwardFlops, loadPreset, paramCounts, parseModelConfig, trainingFlops, type ModelConfig } from '@bam/core';
import { recipeConfig, recipeIds } from '@bam/upcycle';
import { UsageError, type CommandLineSpec, type OptionSpec } from '@bam/utils';
import { defineCommand } from '../command.ts';

/** The rows of the paper's Table 7 (and `--variant all`): the dense model and the mixtures of its four recipes. */
const PAPER_VARIANTS = ['dense', 'btx', 'bam-full', 'bam-kv-shared', 'btx-top3-6'];
/** What `--variant` accepts: dense, any recipe id (btx-experts-M with its M), or all. */
const KNOWN_VARIANTS = ['dense', ...recipeIds().map((id) => (id === 'btx-experts-M' ? 'btx-experts-<M>' : id)), 'all'];

const spec = {
  command: 'bam flops',
  options: {
    preset: { kind: 'string', arg: 'NAME', defaultText: 'paper-small', help: 'a built-in model preset' },
    config: { kind: 'string', arg: 'FILE', defaultText: 'none: the preset', help: 'a model config JSON file instead of a preset' },
    variant: {
      kind: 'string',
      arg: 'V',
      defaultText: 'the config as it is',
      help: `the mixture a merge recipe makes of the (dense) config: dense or a recipe id\n(${recipeIds().join(', ')}),\nor all (${PAPER_VARIANTS.join(', ')}: the paper's Table 7)`,
    },
    experts: { kind: 'int', min: 1, defaultText: '4', help: 'dense models the recipe merges: the experts of btx and bam-*\n(btx-top3-6 always has 6 FFN experts)' },
    'top-k': { kind: 'int', arg: 'K', min: 1, defaultText: "the recipe's; 1, 3 for btx-top3-6", help: "the FFN router's top-k, softmax before top-k" },
    context: { kind: 'int', min: 1, defaultText: "the config's maxSeqLen", help: 'context length for the attention scores' },
    tokens: { kind: 'number', min: 0, defaultText: 'none', help: 'also print the training FLOPs (3 × forward) for N tokens' },
    json: { kind: 'flag', help: 'print JSON (one object, or an array for --variant all)' },
  },
} as const satisfies CommandLineSpec<Record<string, OptionSpec>>;

interface Row {
  variant: string;
  experts: number | null;
  topK: number | null;
  contextLength: number;
  perLayer: { attention: number; ffn: number; routers: number; total: number };
  layers: number;
  lmHead: number;
  perToken: number;
  params: { total: number; active: number };
  trainingFlops?: number;
}

function isRecipeId(id: string): boolean {
  return recipeIds().includes(id) || /^btx-experts-\d+$/.test(id);
}

/**
 * The config `variant` makes of `base`: dense attention and FFN for `dense`, else the mixture the
 * recipe of that id makes of `experts` dense models (default 4), its FFN router top-`topK` when
 * given (softmax before top-k, the paper's setting).
 */
function variantOf(base: ModelConfig, variant: string, source: string, o: { experts?: number; topK?: number }): ModelConfig {
  if (variant === 'dense') return parseModelConfig({ ...base, attention: { kind: 'dense' }, ffn: { kind: 'dense' } }, `${source} as dense`);
  const options = o.topK === undefined ? {} : { ffnRouter: { kind: 'topk', k: o.topK, normalize: 'before' } };
  return recipeConfig(variant, base, o.experts ?? 4, options);
}

function rowFor(config: ModelConfig, label: string, context: number | undefined, tokens: number | undefined): Row {
  const f = forwardFlops(config, context);
  const p = paramCounts(config);
  const row: Row = {
    variant: label,
    experts: config.ffn.kind === 'moe' ? config.ffn.numExperts : config.attention.kind === 'moa' ? config.attention.numExperts : null,
    topK: config.ffn.kind === 'moe' && config.ffn.router.kind === 'topk' ? config.ffn.router.k : null,
    contextLength: f.contextLength,
    perLayer: f.perLayer,
    layers: f.layers,
    lmHead: f.lmHead,
    perToken: f.perToken,
    params: { total: p.total, active: p.active },
  };
  if (tokens !== undefined) row.trainingFlops = trainingFlops(config, tokens, context);
  return row;
}

export const command = defineCommand({
  name: 'flops',
  summary: 'forward FLOPs per token and total/active parameters of a config or paper variant',
  spec,
  usage: {
    usage: 'bam flops [--preset NAME | --config FILE] [--variant V] [--experts N] [--top-k K] [--context N] [--tokens N] [--json]',
    description: `Forward FLOPs per token (attention, FFN, routers per layer; whole model with the LM head) and
total/active parameters, by the BAM paper's Table 10 formulas.`,
    epilogue: 'example: bam flops --preset paper-small --variant bam-full --json',
  },
  async run({ values }) {
    if (values.preset && values.config) throw new UsageError(spec.command, 'give either --preset or --config, not both');
    let base: ModelConfig;
    let source: string;
    if (values.config) {
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(values.config, 'utf8'));
      } catch (err) {
        throw new BamError(`cannot read model config ${values.config}: ${(err as Error).message}`, 'E_CONFIG', 'pass a JSON model config file');
      }
      base = parseModelConfig(json, values.config);
      source = values.config;
    } else {
      source = values.preset ?? 'paper-small';
      base = loadPreset(source);
    }
    const { context, tokens, variant, experts } = values;
    const topK = values['top-k'];
    if (variant !== undefined && variant !== 'all' && variant !== 'dense' && !isRecipeId(variant)) {
      throw new UsageError(spec.command, `--variant: unknown variant '${variant}'; known: ${KNOWN_VARIANTS.join(', ')}`);
    }
    if (variant === undefined && (experts !== undefined || topK !== undefined)) {
      throw new UsageError(spec.command, '--experts/--top-k shape a --variant; add e.g. --variant btx');
    }
    const variants = variant === 'all' ? PAPER_VARIANTS : variant ? [variant] : [];
    const rows: Row[] = variants.length
      ? variants.map((v) => rowFor(variantOf(base, v, source, { experts, topK }), v, context, tokens))
      : [rowFor(base, 'as configured', context, tokens)];
    if (values.json) {
      console.log(JSON.stringify(values.variant === 'all' ? rows.map((r) => ({ source, ...r })) : { source, ...rows[0] }));
      return 0;
    }
    const n = (x: number) => Math.round(x).toLocaleString('en');
    const cols = ['variant', 'N', 'k', 'attention', 'FFN', 'routers', 'total/layer', 'model/token', 'params total', 'params active'];
    const table = rows.map((r) => [
      r.variant,
      r.experts === null ? '-' : String(r.experts),
      r.topK === null ? '-' : String(r.topK),
      n(r.perLayer.attention),
      n(r.perLayer.ffn),
      n(r.perLayer.routers),
      n(r.perLayer.total),
      n(r.perToken),
      n(r.params.total),
      n(r.params.active),
      ...(r.trainingFlops !== undefined ? [r.trainingFlops.toExponential(3)] : []),
    ]);
    if (tokens !== undefined) cols.push(`train FLOPs (${n(tokens)} tok)`);
    const widths = cols.map((c, i) => Math.max(c.length, ...table.map((row) => row[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    console.log(`forward FLOPs per token (${source}, context ${rows[0].contextLength}, ${rows[0].layers} layers)`);
    console.log(line(cols));
    for (const row of table) console.log(line(row));
    return 0;
  },
});
