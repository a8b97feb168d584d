/**
 * Evaluation throughput: scored tokens/s of `loglikelihoodRolling` (perplexity scoring) through
 * the real LanguageModel over a checkpoint (@bam/plugins `loadLanguageModel`), per variant, with
 * 1 and 2 piscina worker threads — the way the sweep runs jobs. Variants and worker counts are
 * interleaved round by round in one process run; each cell is the median (min–max) over rounds.
 *
 *   npx tsx benchmarks/eval.ts [--preset tiny] [--variants dense,btx,bam-full,bam-kv-shared]
 *       [--rounds 3] [--docs 16] [--chars 2000] [--chunk 1] [--batch-size 8] [--workers 1,2] [--json]
 *
 * Text: the first `docs` documents of the held-out Moby-Dick test split, each cut to `chars`
 * characters; each task scores `chunk` documents, tasks go to whichever worker is free. The
 * models are fresh (seed 0) checkpoints: throughput does not depend on what the weights learned.
 * Worker start-up and model loading happen in a warm-up pass before timing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { createModel, disposeModel, domainTestDocs, saveCheckpoint, selectBackend, type ModelConfig } from '@bam/core';
import { BENCH_OPTIONS, benchmarkArgs, intList, machineInfo, machineLine, markdownTable, median, parseVariants, spread, tokenizerFor, variantOf, type Variant } from './lib/common.ts';
import type { EvalReply, EvalTask } from './lib/eval-worker.ts';

const { values, variants, workerCounts } = benchmarkArgs(
  'eval.ts',
  'Scored tokens/s of loglikelihoodRolling through the real LanguageModel per variant, with 1 and 2 piscina worker threads, interleaved in one process run.',
  {
    preset: BENCH_OPTIONS.preset,
    variants: BENCH_OPTIONS.variants,
    rounds: BENCH_OPTIONS.rounds,
    docs: { kind: 'int', min: 1, default: 16, help: 'held-out Moby-Dick test documents to score' },
    chars: { kind: 'int', min: 1, default: 2000, help: 'characters each document is cut to' },
    chunk: { kind: 'int', min: 1, default: 1, help: 'documents per worker task' },
    'batch-size': BENCH_OPTIONS['batch-size'],
    workers: { ...BENCH_OPTIONS.workers, default: '1,2', help: 'comma-separated piscina worker-thread counts' },
    json: BENCH_OPTIONS.json,
  },
  (v) => ({ values: v, variants: parseVariants(v.variants), workerCounts: intList(v.workers, 'workers') }),
);
const log = (s: string) => {
  if (!values.json) console.error(s);
};
await selectBackend({ prefer: 'wasm', log: () => {} });
const { rounds, chunk, 'batch-size': batchSize } = values;
const texts = domainTestDocs('ood')
  .slice(0, values.docs)
  .map((d) => d.text.slice(0, values.chars));

const machineStart = machineInfo();
log(machineLine(machineStart));
const dir = mkdtempSync(join(tmpdir(), 'bam-bench-eval-'));
const configs = new Map<Variant, ModelConfig>(variants.map((v) => [v, variantOf(values.preset, v)]));
for (const [v, config] of configs) {
  const model = createModel(config, 0);
  await saveCheckpoint(join(dir, v), { model, tokenizer: tokenizerFor(config) });
  disposeModel(model);
}

const pools = new Map(
  workerCounts.map((w) => [
    w,
    new Piscina<EvalTask, EvalReply>({
      filename: new URL('./lib/eval-worker.mjs', import.meta.url).href,
      minThreads: w,
      maxThreads: w,
      concurrentTasksPerWorker: 1,
      idleTimeout: 600_000,
      atomics: 'disabled',
    }),
  ]),
);

/**
 * Scores every text on a pool, `chunk` texts per task; returns scored tokens/s, tokens per
 * CPU-second of the whole process (the worker threads included) and the tokens.
 */
async function evaluate(pool: Piscina<EvalTask, EvalReply>, v: Variant): Promise<{ tps: number; perCpu: number; tokens: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const tasks: Promise<EvalReply>[] = [];
  for (let i = 0; i < texts.length; i += chunk) tasks.push(pool.run({ checkpoint: join(dir, v), texts: texts.slice(i, i + chunk), batchSize }));
  const replies = await Promise.all(tasks);
  const tokens = replies.reduce((a, r) => a + r.tokens, 0);
  const cpu = process.cpuUsage(cpu0);
  return { tps: (tokens / (performance.now() - t0)) * 1000, perCpu: (tokens / (cpu.user + cpu.system)) * 1e6, tokens };
}

const results = new Map<string, number[]>();
const perCpu = new Map<string, number[]>();
const tokensOf = new Map<Variant, number>();
let workerMatmul = '';
try {
  // Warm-up: every worker of every pool loads every model (one small task per worker and variant).
  for (const [w, pool] of pools) {
    for (const v of variants) {
      const warm = await Promise.all(Array.from({ length: w }, () => pool.run({ checkpoint: join(dir, v), texts: [texts[0].slice(0, 200)], batchSize })));
      workerMatmul = warm[0].matmul;
    }
  }
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) {
      for (const [w, pool] of pools) {
        const e = await evaluate(pool, v);
        tokensOf.set(v, e.tokens);
        const key = `${v}|${w}`;
        results.set(key, [...(results.get(key) ?? []), e.tps]);
        perCpu.set(key, [...(perCpu.get(key) ?? []), e.perCpu]);
        log(`round ${r + 1}/${rounds} ${v.padEnd(14)} ${w} worker(s) ${Math.round(e.tps)} scored tokens/s, ${Math.round(e.perCpu)} per CPU-s`);
      }
    }
  }
} finally {
  await Promise.all([...pools.values()].map((p) => p.destroy()));
  rmSync(dir, { recursive: true, force: true });
}

const machineEnd = machineInfo();
const ws = (w: number) => `${w} worker${w > 1 ? 's' : ''}`;
const header = [
  'variant',
  'tokens scored',
  ...workerCounts.map((w) => `${ws(w)} tokens/s`),
  ...workerCounts.slice(1).map((w) => `${w} / ${workerCounts[0]}`),
  ...workerCounts.map((w) => `${ws(w)} tokens/CPU-s`),
];
const rows = variants.map((v) => [
  v,
  String(tokensOf.get(v)),
  ...workerCounts.map((w) => spread(results.get(`${v}|${w}`)!)),
  ...workerCounts.slice(1).map((w) => `${(median(results.get(`${v}|${w}`)!) / median(results.get(`${v}|${workerCounts[0]}`)!)).toFixed(2)}×`),
  ...workerCounts.map((w) => spread(perCpu.get(`${v}|${w}`)!)),
]);
const summary = {
  benchmark: 'eval',
  preset: values.preset,
  docs: texts.length,
  chunk,
  batchSize,
  rounds,
  results: Object.fromEntries([...results].map(([k, xs]) => [k, xs.map(Math.round)])),
  perCpuSecond: Object.fromEntries([...perCpu].map(([k, xs]) => [k, xs.map(Math.round)])),
  machine: { ...machineStart, loadAverageEnd: machineEnd.loadAverage },
  workerMatmul,
};
if (values.json) console.log(JSON.stringify(summary));
else {
  console.log(`\n${machineLine(machineStart)} (end: ${machineEnd.loadAverage.join(' / ')})`);
  console.log(`preset ${values.preset}, loglikelihoodRolling over ${texts.length} Moby-Dick test documents (${values.chars} chars each), ${chunk} per task, batch ${batchSize}, ${rounds} rounds; in each worker: ${workerMatmul}\n`);
  console.log(markdownTable(header, rows));
}
