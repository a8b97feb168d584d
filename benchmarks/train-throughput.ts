/**
 * Training throughput: tokens/s of `train` (forward + backward + AdamW, no evaluation or
 * checkpoint time) for a preset on one backend; median of several runs after one warm-up run.
 *
 *   npx tsx benchmarks/train-throughput.ts [--preset tiny] [--backend wasm] [--runs 3] [--steps 20]
 *                                          [--batch-size 8] [--seq-len 128] [--mix general] [--json]
 */
import { cpus } from 'node:os';
import {
  countParams,
  createBatchSource,
  createModel,
  createTokenizer,
  disposeModel,
  loadPreset,
  selectBackend,
  tokenizerSpecFromName,
  train,
  type BackendName,
} from '@bam/core';
import { BENCH_OPTIONS, benchmarkArgs } from './lib/common.ts';

const values = benchmarkArgs(
  'train-throughput.ts',
  'Training tokens/s of train() (forward + backward + AdamW) for one preset on one backend: median of several runs after a warm-up run.',
  {
    preset: BENCH_OPTIONS.preset,
    backend: { kind: 'string', arg: 'NAME', default: 'wasm', help: 'the tfjs backend bam prefers (selectBackend)' },
    runs: BENCH_OPTIONS.runs,
    steps: { ...BENCH_OPTIONS.steps, default: 20, help: 'training steps per timed run' },
    'batch-size': BENCH_OPTIONS['batch-size'],
    'seq-len': BENCH_OPTIONS['seq-len'],
    mix: { kind: 'string', arg: 'MIX', default: 'general', help: 'the data mix batches come from' },
    json: { ...BENCH_OPTIONS.json, help: 'print one JSON line instead of indented JSON' },
  },
);

const backend = await selectBackend({ prefer: values.backend as BackendName, log: () => {} });
const config = loadPreset(values.preset);
const tokenizer = createTokenizer(config.vocabSize === 256 ? { kind: 'byte' } : tokenizerSpecFromName(`gpt2-${config.vocabSize}`));
const { 'batch-size': batchSize, 'seq-len': seqLen, steps, runs } = values;
const batches = createBatchSource({ tokenizer, mix: values.mix, split: 'train', batchSize, seqLen, seed: 0 });

async function once(seed: number, n: number): Promise<number> {
  const model = createModel(config, seed);
  try {
    const s = await train({ model, batches, steps: n, lr: { peak: 1e-3, warmup: 1 }, logEvery: n, seed });
    return s.tokensPerSecond;
  } finally {
    disposeModel(model);
  }
}

await once(100, 2); // warm-up: wasm compilation, first allocations
const tps: number[] = [];
for (let r = 0; r < runs; r++) {
  tps.push(await once(r, steps));
  if (!values.json) console.error(`run ${r + 1}/${runs}: ${Math.round(tps[r])} tokens/s`);
}
const sorted = [...tps].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)];
const result = {
  benchmark: 'train-throughput',
  preset: values.preset,
  backend: backend.name,
  params: countParams(config),
  batchSize,
  seqLen,
  steps,
  runs: tps.map(Math.round),
  medianTokensPerSecond: Math.round(median),
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  date: new Date().toISOString(),
};
console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
