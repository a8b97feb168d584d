/**
 * What every benchmark shares: its command-line options and their parsing (`BENCH_OPTIONS`,
 * `benchmarkArgs`), the machine and load description recorded beside each number,
 * median and spread of repeated runs, the paper's variants at a preset (made by upcycle's
 * recipes), the tokenizer and batch source of a preset, and a markdown table printer (RESULTS.md takes the tables as printed).
 */
import { cpus, loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import {
  BamError,
  blasStatus,
  computeLossAndGrads,
  createBatchSource,
  createTokenizer,
  loadPreset,
  parseModelConfig,
  tokenizerSpecFromName,
  type BamModel,
  type MixBatchSource,
  type ModelConfig,
  type ModelConfigInput,
  type Tokenizer,
} from '@bam/core';
import { recipeConfig } from '@bam/upcycle';
import { formatHelp, parseCommandLine, UsageError, type OptionSpec, type ParsedArgs } from '@bam/utils';

/** The paper's three mixtures and the dense seed, in the order tables list them. */
export const VARIANTS = ['dense', 'btx', 'bam-full', 'bam-kv-shared'] as const;
export type Variant = (typeof VARIANTS)[number];

/** Parses a comma-separated list of variants; an unknown one throws naming the known ones. */
export function parseVariants(list: string): Variant[] {
  const out = list.split(',').map((s) => s.trim()).filter(Boolean);
  for (const v of out) {
    if (!(VARIANTS as readonly string[]).includes(v)) throw new BamError(`unknown variant '${v}'`, 'E_BENCH', `use some of: ${VARIANTS.join(', ')}`);
  }
  return out as Variant[];
}

/**
 * A dense config as a variant: itself for `dense`, else the mixture upcycle's recipe of that id
 * makes of `experts` dense models (default 4; top-1 FFN routing, soft attention routing).
 */
export function mixtureOf(dense: ModelConfig, variant: Variant, experts = 4): ModelConfig {
  return variant === 'dense' ? dense : recipeConfig(variant, dense, experts);
}

/** A preset (made dense, with overrides) turned into a variant by `mixtureOf`. */
export function variantOf(preset: string, variant: Variant, overrides: Partial<ModelConfigInput> = {}, opts: { experts?: number } = {}): ModelConfig {
  const base = { ...loadPreset(preset), ...overrides } as Record<string, unknown>;
  delete base.attention;
  delete base.ffn;
  return mixtureOf(parseModelConfig(base, `preset ${preset}`), variant, opts.experts);
}

/** The tokenizer a preset's vocabulary implies: byte-level for 256, else GPT-2 truncated to V. */
export function tokenizerFor(config: ModelConfig): Tokenizer {
  return createTokenizer(config.vocabSize === 256 ? { kind: 'byte' } : tokenizerSpecFromName(`gpt2-${config.vocabSize}`));
}

/** Training batches of the `general` train split for a config (seed 0), as `bam train` makes them. */
export function batchesFor(config: ModelConfig, batchSize: number, seqLen: number, mix = 'general'): MixBatchSource {
  return createBatchSource({ tokenizer: tokenizerFor(config), mix, split: 'train', batchSize, seqLen, seed: 0 });
}

/**
 * One forward + backward (`computeLossAndGrads`) of a model on a fixed synthetic batch
 * [B, maxSeqLen] (token i is i·7919 mod V, each target the next id): timing kernels needs no real
 * text. `step` returns every tensor it makes, for the caller to dispose; `dispose` frees the batch.
 */
export function forwardBackwardStep(model: BamModel, batchSize: number): { step: () => tf.Tensor[]; dispose: () => void } {
  const { maxSeqLen: T, vocabSize: V } = model.config;
  const ids = Int32Array.from({ length: batchSize * T }, (_, i) => (i * 7919) % V);
  const inputs = tf.tensor2d(ids, [batchSize, T], 'int32');
  const targets = tf.tensor2d(ids.map((x) => (x + 1) % V), [batchSize, T], 'int32');
  return {
    step: () => {
      const r = computeLossAndGrads(model, inputs, targets);
      return [r.loss, r.nll, r.loadBalance, r.zLoss, ...r.grads.values()];
    },
    dispose: () => tf.dispose([inputs, targets]),
  };
}

/** Median (the lower middle for even counts) of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

/** "median (min–max)" with the given rounding, for tables. */
export function spread(xs: readonly number[], digits = 0): string {
  const f = (x: number) => x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return xs.length === 1 ? f(xs[0]) : `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
}

/** What the machine is and how loaded it was: goes beside every recorded number. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  node: string;
  tfjs: string;
  date: string;
  loadAverage: [number, number, number];
  /** What runs wasm's matrix products (OpenBLAS and its threads, or XNNPACK and why). */
  matmul: string;
}

const TFJS_VERSION: string = JSON.parse(readFileSync(new URL('../../node_modules/@tensorflow/tfjs/package.json', import.meta.url), 'utf8')).version;

/** The machine now (load average included). */
export function machineInfo(): MachineInfo {
  const la = loadavg();
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    tfjs: TFJS_VERSION,
    date: new Date().toISOString(),
    loadAverage: [la[0], la[1], la[2]].map((x) => Math.round(x * 100) / 100) as [number, number, number],
    matmul: blasStatus().detail,
  };
}

/** One line describing the machine, for the top of a benchmark's output. */
export function machineLine(m: MachineInfo = machineInfo()): string {
  return `${m.date.slice(0, 16)}Z · ${m.cpu} × ${m.cores} cores · Node ${m.node} · tfjs ${m.tfjs} · ${m.matmul} · load average ${m.loadAverage.join(' / ')}`;
}

/** A markdown table (header row, then rows), columns padded for reading in a terminal. */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/**
 * The options several benchmarks take, declared once: a script spreads the ones it takes into its
 * own declaration, overriding the default where its protocol differs (`{ ...BENCH_OPTIONS.rounds,
 * default: 5 }`).
 */
export const BENCH_OPTIONS = {
  preset: { kind: 'string', arg: 'NAME', default: 'tiny', help: 'model preset (packages/core presets) the variants are made from' },
  variants: { kind: 'string', arg: 'LIST', default: VARIANTS.join(','), help: `comma-separated variants, of ${VARIANTS.join(', ')}` },
  rounds: { kind: 'int', min: 1, default: 3, help: 'measuring rounds, all cases interleaved in each; a cell is the median (min–max) over rounds' },
  runs: { kind: 'int', min: 1, default: 3, help: 'timed runs after the warm-up run' },
  steps: { kind: 'int', min: 1, default: 10, help: 'training steps per timed run (after a 2-step warm-up)' },
  'batch-size': { kind: 'int', min: 1, default: 8, help: 'sequences per batch' },
  'seq-len': { kind: 'int', min: 1, default: 128, help: 'tokens per sequence' },
  workers: { kind: 'string', arg: 'LIST', default: '1', help: 'comma-separated worker-thread counts to measure (1: this thread)' },
  json: { kind: 'flag', help: 'print one JSON line instead of tables' },
} as const satisfies Record<string, OptionSpec>;

/**
 * Parses a benchmark's command line by its declaration (`parseCommandLine`): `--help` prints the
 * options with their defaults and exits 0; a bad option, or a bad value `derive` finds (an
 * unknown variant, a bad list), prints one line and exits 2, never a stack trace. `derive` turns
 * the values into what the script uses (default: the values themselves).
 */
export function benchmarkArgs<const O extends Record<string, OptionSpec>, R = ParsedArgs<O>['values']>(
  script: string,
  description: string,
  options: O,
  derive: (values: ParsedArgs<O>['values']) => R = (v) => v as R,
  argv: readonly string[] = process.argv.slice(2),
): R {
  const command = `npx tsx benchmarks/${script}`;
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(formatHelp(`${command} [options]`, description, options));
    process.exit(0);
  }
  try {
    return derive(parseCommandLine({ command, options }, argv).values);
  } catch (err) {
    if (!(err instanceof BamError)) throw err;
    // BamError keeps its hint on a second line; here it joins the message's one line.
    const hint = err instanceof UsageError || !err.hint ? '' : ` — ${err.hint}`;
    console.error(`${script}: ${err.message.split('\n')[0]}${hint}`);
    process.exit(2);
  }
}

/** A comma-separated list of positive integers (`--workers 1,2`), or a BamError naming the option. */
export function intList(value: string, name: string): number[] {
  return value.split(',').map((w) => intOption(w, name));
}

/** Parses a positive integer option, or throws naming it. */
export function intOption(value: string | undefined, name: string): number {
  const n = value !== undefined && /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new BamError(`--${name} must be a positive integer, got '${value}'`, 'E_BENCH');
  return n;
}
