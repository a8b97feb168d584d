/**
 * GPU throughput on the webgpu backend (Dawn through npm `webgpu`): training tokens/s (`train`:
 * forward + backward + clipping + AdamW) and evaluation tokens/s (`evaluateLoss`: forward + NLL,
 * what a perplexity task costs) for the paper's variants, with the wasm backend as the baseline.
 * Prints one JSON line per measurement and, with `--append FILE`, appends a Markdown section to
 * it (benchmarks/RESULTS.md). `run.sh` in this folder runs it after the correctness suite.
 *
 *   npx tsx benchmarks/gpu/throughput.ts [--preset tiny] [--variants dense,btx,bam-full,bam-kv-shared]
 *       [--backends webgpu,wasm] [--steps 10] [--eval-steps 10] [--runs 3] [--batch-size 8]
 *       [--seq-len 128] [--allow-software] [--suite "vitest summary"] [--append benchmarks/RESULTS.md]
 *
 * Without `--allow-software` a software adapter (llvmpipe, lavapipe, SwiftShader) is refused:
 * the point is to measure the GPU, and a silent fallback would record CPU numbers as GPU ones.
 */
import { appendFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import {
  createBatchSource,
  createModel,
  createTokenizer,
  computeLoss,
  countParams,
  describeAdapter,
  disposeModel,
  evaluateLoss,
  loadPreset,
  selectBackend,
  takeWebGpuErrors,
  tokenizerSpecFromName,
  train,
  type BackendChoice,
  type BackendName,
} from '@bam/core';
import { BENCH_OPTIONS, benchmarkArgs, mixtureOf, parseVariants, type Variant } from '../lib/common.ts';

const { values, variants } = benchmarkArgs(
  'gpu/throughput.ts',
  'Training and evaluation tokens/s of the variants on the webgpu backend, with wasm as the baseline; one JSON line per measurement, and with --append a Markdown section.',
  {
    preset: BENCH_OPTIONS.preset,
    variants: BENCH_OPTIONS.variants,
    backends: { kind: 'string', arg: 'LIST', default: 'webgpu,wasm', help: 'comma-separated backends to measure' },
    steps: { ...BENCH_OPTIONS.steps, help: 'training steps per timed run' },
    'eval-steps': { kind: 'int', min: 1, default: 10, help: 'evaluateLoss batches per timed run' },
    runs: BENCH_OPTIONS.runs,
    'batch-size': BENCH_OPTIONS['batch-size'],
    'seq-len': BENCH_OPTIONS['seq-len'],
    'allow-software': { kind: 'flag', help: 'accept a software WebGPU adapter (llvmpipe, lavapipe, SwiftShader)' },
    suite: { kind: 'string', arg: 'TEXT', help: "the correctness suite's result, for the appended section" },
    append: { kind: 'string', arg: 'FILE', help: 'append a Markdown section to FILE (benchmarks/RESULTS.md)' },
  },
  (v) => ({ values: v, variants: parseVariants(v.variants) }),
);
const { steps, 'eval-steps': evalSteps, runs, 'batch-size': batchSize, 'seq-len': seqLen } = values;
const backends = values.backends.split(',') as BackendName[];

const base = loadPreset(values.preset);
const tokenizer = createTokenizer(base.vocabSize === 256 ? { kind: 'byte' } : tokenizerSpecFromName(`gpt2-${base.vocabSize}`));
const trainBatches = createBatchSource({ tokenizer, mix: 'general', split: 'train', batchSize, seqLen, seed: 0 });
const evalBatches = createBatchSource({ tokenizer, mix: 'general', split: 'validation', batchSize, seqLen, seed: 0 });

interface Row {
  backend: string;
  variant: string;
  params: number;
  trainTokensPerSecond: number[];
  evalTokensPerSecond: number[];
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(variant: Variant): Promise<Omit<Row, 'backend'>> {
  const config = mixtureOf(base, variant);
  const trainTps: number[] = [];
  const evalTps: number[] = [];
  for (let r = -1; r < runs; r++) {
    // Run −1 is the warm-up: shader compilation (webgpu) or wasm compilation, first allocations.
    const model = createModel(config, 100 + r);
    try {
      const s = await train({ model, batches: trainBatches, steps: r < 0 ? 2 : steps, lr: { peak: 1e-3, warmup: 1 }, logEvery: steps, seed: r + 1 });
      const t0 = performance.now();
      const n = r < 0 ? 1 : evalSteps;
      await evaluateLoss(model, evalBatches, n, computeLoss);
      const evalSeconds = (performance.now() - t0) / 1000;
      if (r >= 0) {
        trainTps.push(Math.round(s.tokensPerSecond));
        evalTps.push(Math.round((n * batchSize * seqLen) / evalSeconds));
      }
    } finally {
      disposeModel(model);
    }
  }
  return { variant, params: countParams(config).total, trainTokensPerSecond: trainTps, evalTokensPerSecond: evalTps };
}

const rows: Row[] = [];
const choices: BackendChoice[] = [];
for (const b of backends) {
  const env = b === 'webgpu' && values['allow-software'] ? { ...process.env, BAM_WEBGPU_ALLOW_SOFTWARE: '1' } : { ...process.env, BAM_WEBGPU_ALLOW_SOFTWARE: '' };
  const choice = await selectBackend({ prefer: b, env, log: (l) => console.error(l) });
  choices.push(choice);
  for (const v of variants) {
    takeWebGpuErrors();
    const row = { backend: b, ...(await measure(v)) };
    const errors = takeWebGpuErrors();
    if (errors.length) throw new Error(`${errors.length} GPU error(s) during ${b}/${v} (results would be wrong; nothing recorded): ${errors[0]}`);
    rows.push(row);
    console.log(JSON.stringify({ benchmark: 'gpu-throughput', preset: values.preset, batchSize, seqLen, steps, evalSteps, ...row, adapter: choice.adapter ?? null }));
  }
}

if (values.append) {
  const webgpu = choices.find((c) => c.name === 'webgpu');
  const lines = [
    '',
    `## GPU throughput — \`${values.preset}\` preset, ${backends.join(' vs ')} (gpu/throughput.ts)`,
    '',
    `Command: \`benchmarks/gpu/run.sh\` → \`npx tsx benchmarks/gpu/throughput.ts --preset ${values.preset} --variants ${variants.join(',')} --backends ${backends.join(',')} --steps ${steps} --eval-steps ${evalSteps} --runs ${runs} --batch-size ${batchSize} --seq-len ${seqLen}${values['allow-software'] ? ' --allow-software' : ''}\``,
    '',
    `- Date: ${new Date().toISOString().slice(0, 10)}. Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.versions.node}, tfjs 4.22.0.`,
    `- Adapter: ${webgpu?.adapter ? describeAdapter(webgpu.adapter) : 'none (webgpu not measured)'}.`,
    ...(values.suite ? [`- Correctness suite on this adapter (packages/core/test/webgpu, webgpu vs wasm): ${values.suite}.`] : []),
    `- Conditions: load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores at the end${webgpu?.adapter?.software ? '; the adapter is a software one, so the webgpu rows are CPU numbers (a check that the script runs), not GPU ones' : ''}.`,
    `- Batch ${batchSize} × ${seqLen} tokens, \`general\` split. Train: \`train()\` tokens/s over ${steps} steps (forward + backward + clipping + AdamW); eval: \`evaluateLoss\` over ${evalSteps} batches (forward + NLL). Median of ${runs} runs after a warm-up run; all runs in brackets.`,
    '',
    '| backend | variant | params | train tokens/s | eval tokens/s |',
    '|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.backend} | ${r.variant} | ${r.params.toLocaleString('en')} | **${median(r.trainTokensPerSecond).toLocaleString('en')}** (${r.trainTokensPerSecond.join(', ')}) | **${median(r.evalTokensPerSecond).toLocaleString('en')}** (${r.evalTokensPerSecond.join(', ')}) |`,
    ),
    '',
  ];
  appendFileSync(values.append, lines.join('\n'));
  console.error(`appended to ${values.append}`);
}
