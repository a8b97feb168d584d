/**
 * Generation latency with the BAM paper's protocol (16 new tokens after a 256-token prompt, mean
 * of 10 runs after a warm-up run; the paper's Latency paragraph) for btx, bam-full and
 * bam-kv-shared (dense beside them), as ratios to btx next to the paper's (1.28× and 1.24×), and
 * the KV-cache bytes each keeps per token. Greedy decoding with core's `generate`
 * (KV cache, batch 1). Variants are interleaved run by run in one process.
 *
 *   npx tsx benchmarks/generate.ts [--preset tiny] [--variants dense,btx,bam-full,bam-kv-shared]
 *       [--runs 10] [--prompt 256] [--new 16] [--json]
 *
 * The preset's maxSeqLen is raised to prompt + new (RoPE needs no weights for it). Besides the
 * whole `generate` call, the prefill (one cached `forward` over the prompt) and the decode steps
 * (one cached `forward` per new token) are timed on their own, and the cache is measured from its
 * tensors after the prefill (`kvCacheBytes` / positions) next to the config formula
 * (`kvCacheBytesPerToken`).
 */
import * as tf from '@tensorflow/tfjs';
import {
  createKvCache,
  createModel,
  disposeKvCache,
  disposeModel,
  domainTestDocs,
  forward,
  generate,
  kvCacheBytes,
  kvCacheBytesPerToken,
  selectBackend,
  type BamModel,
} from '@bam/core';
import { BENCH_OPTIONS, benchmarkArgs, machineInfo, machineLine, markdownTable, median, parseVariants, spread, tokenizerFor, variantOf, type Variant } from './lib/common.ts';

const { values, variants } = benchmarkArgs(
  'generate.ts',
  "Generation latency with the paper's protocol (greedy, KV cache, batch 1) per variant: whole call, prefill, per-token decode, and KV-cache bytes per token.",
  {
    preset: BENCH_OPTIONS.preset,
    variants: BENCH_OPTIONS.variants,
    runs: { ...BENCH_OPTIONS.runs, default: 10 },
    prompt: { kind: 'int', min: 1, default: 256, help: 'prompt tokens (held-out Moby-Dick text)' },
    new: { kind: 'int', min: 1, default: 16, help: 'new tokens generated after the prompt' },
    json: BENCH_OPTIONS.json,
  },
  (v) => ({ values: v, variants: parseVariants(v.variants) }),
);
const log = (s: string) => {
  if (!values.json) console.error(s);
};
await selectBackend({ prefer: 'wasm', log: () => {} });
const { runs, prompt: P, new: NEW } = values;
const machineStart = machineInfo();
log(machineLine(machineStart));

const models = new Map<Variant, BamModel>(variants.map((v) => [v, createModel(variantOf(values.preset, v, { maxSeqLen: P + NEW }), 0)]));
const tokenizer = tokenizerFor(models.get(variants[0])!.config);
const text = domainTestDocs('ood').map((d) => d.text).join('\n');
const prompt = Array.from(tokenizer.encode(text)).slice(0, P);
if (prompt.length < P) throw new Error(`the held-out text has only ${prompt.length} tokens, fewer than --prompt ${P}`);

interface Timing {
  total: number;
  prefill: number;
  decode: number; // ms per new token
}

/** One generate call, then the same work split into prefill and decode steps by hand. */
async function once(model: BamModel): Promise<Timing & { bytesPerToken: number; tokens: number[] }> {
  const t0 = performance.now();
  const g = await generate(model, prompt, { maxNewTokens: NEW, batchSize: 1 });
  const total = performance.now() - t0;
  if (!g.cached) throw new Error('generate did not use the KV cache');
  const cache = createKvCache(model.config, 1);
  try {
    const t1 = performance.now();
    const input = tf.tensor2d(prompt, [1, P], 'int32');
    const r = forward(model, input, { cache });
    await r.logits.data();
    tf.dispose([input, r.logits, r.aux.loadBalance, r.aux.zLoss]);
    const prefill = performance.now() - t1;
    const bytesPerToken = kvCacheBytes(cache) / cache.length;
    const t2 = performance.now();
    for (let i = 0; i < NEW - 1; i++) {
      const next = tf.tensor2d([g.tokens[i]], [1, 1], 'int32');
      const r = forward(model, next, { cache });
      await r.logits.data();
      tf.dispose([next, r.logits, r.aux.loadBalance, r.aux.zLoss]);
    }
    const decode = (performance.now() - t2) / Math.max(1, NEW - 1);
    return { total, prefill, decode, bytesPerToken, tokens: g.tokens };
  } finally {
    disposeKvCache(cache);
  }
}

const timings = new Map<Variant, Timing[]>(variants.map((v) => [v, []]));
const measuredBytes = new Map<Variant, number>();
try {
  for (const v of variants) await once(models.get(v)!); // warm-up
  for (let r = 0; r < runs; r++) {
    for (const v of variants) {
      const t = await once(models.get(v)!);
      timings.get(v)!.push(t);
      measuredBytes.set(v, t.bytesPerToken);
      log(`run ${r + 1}/${runs} ${v.padEnd(14)} ${t.total.toFixed(0)} ms (prefill ${t.prefill.toFixed(0)} ms, ${t.decode.toFixed(1)} ms/token)`);
    }
  }
} finally {
  for (const m of models.values()) disposeModel(m);
}

/**
 * The paper's latency ratios to BTX under this protocol (docs/paper.md, "Latency": BTX 4.81 s,
 * BAM expert-KV 6.17 s, BAM shared-KV 5.96 s; its hardware, 590M parameters), for the column beside ours.
 */
const PAPER_VS_BTX: Partial<Record<Variant, number>> = { btx: 1, 'bam-full': 6.17 / 4.81, 'bam-kv-shared': 5.96 / 4.81 };

const machineEnd = machineInfo();
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const ref = variants.includes('btx') ? 'btx' : variants[0];
const header = ['variant', 'latency mean (ms)', 'latency median (min–max)', `vs ${ref}`, ...(ref === 'btx' ? ['paper vs btx'] : []), 'prefill (ms)', 'decode (ms/token)', 'KV bytes/token (config)', 'KV bytes/token (measured)', `KV cache at ${P + NEW} tokens`];
const rows = variants.map((v) => {
  const ts = timings.get(v)!;
  const config = models.get(v)!.config;
  return [
    v,
    mean(ts.map((t) => t.total)).toFixed(0),
    spread(ts.map((t) => t.total)),
    `${(mean(ts.map((t) => t.total)) / mean(timings.get(ref)!.map((t) => t.total))).toFixed(2)}×`,
    ...(ref === 'btx' ? [PAPER_VS_BTX[v] === undefined ? '—' : `${PAPER_VS_BTX[v]!.toFixed(2)}×`] : []),
    spread(ts.map((t) => t.prefill)),
    spread(ts.map((t) => t.decode), 1),
    kvCacheBytesPerToken(config).toLocaleString('en-US'),
    measuredBytes.get(v)!.toLocaleString('en-US'),
    `${((kvCacheBytesPerToken(config) * (P + NEW)) / 1024).toFixed(0)} KiB`,
  ];
});
const summary = {
  benchmark: 'generate',
  preset: values.preset,
  prompt: P,
  newTokens: NEW,
  runs,
  reference: ref,
  results: Object.fromEntries(
    variants.map((v) => {
      const meanMs = mean(timings.get(v)!.map((t) => t.total));
      return [v, { meanMs, medianMs: median(timings.get(v)!.map((t) => t.total)), vsReference: meanMs / mean(timings.get(ref)!.map((t) => t.total)), paperVsBtx: PAPER_VS_BTX[v] ?? null, kvBytesPerToken: kvCacheBytesPerToken(models.get(v)!.config) }];
    }),
  ),
  machine: { ...machineStart, loadAverageEnd: machineEnd.loadAverage },
};
if (values.json) console.log(JSON.stringify(summary));
else {
  console.log(`\n${machineLine(machineStart)} (end: ${machineEnd.loadAverage.join(' / ')})`);
  console.log(`preset ${values.preset} (maxSeqLen ${P + NEW}), ${NEW} new tokens after a ${P}-token prompt, greedy, KV cache, batch 1, ${runs} runs\n`);
  console.log(markdownTable(header, rows));
}
