/**
 * Scoring throughput, bam beside the PyTorch peer, in ONE process run: scored tokens/s of the
 * harness's two scoring calls — `loglikelihoodRolling` (perplexity tasks) and `loglikelihood`
 * (choice tasks) — over the same documents, from the same weights, in the same batches. bam runs
 * the real LanguageModel over a checkpoint (@bam/plugins `loadLanguageModel`) in this thread; the
 * peer (benchmarks/peers/torch_peer.py `score`) scores the sequences that LanguageModel hands to
 * `scoreTokens`, batched the same way (lib/scoring.ts). Variants, kinds and engines are
 * interleaved round by round; each cell is the median (min–max) over rounds.
 *
 *   npx tsx benchmarks/score.ts [--preset tiny] [--variants dense,btx,bam-full,bam-kv-shared]
 *       [--kinds rolling,loglikelihood] [--rounds 3] [--docs 16] [--chars 2000] [--batch-size 8]
 *       [--peer-threads 2] [--peer-blas-threads 1] [--no-peer] [--json]
 *
 * Text: the first `docs` held-out Moby-Dick test documents cut to `chars` characters; each gives
 * one rolling request (all its tokens, in disjoint windows of maxSeqLen) and 4 loglikelihood
 * requests (the text cut at 1/5 … 4/5, the next 48 characters as continuation). Tokens/s counts
 * scored tokens (a rolling request's text tokens, a loglikelihood request's continuation tokens),
 * the same count for both engines. Model loading, Python start-up and torch import are outside the
 * timing; each engine has one untimed warm-up pass per variant and kind. The last column is the
 * largest |bam − peer| difference of a request's log-prob: the two engines computed the same thing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BamError, createModel, disposeModel, domainTestDocs, saveCheckpoint, selectBackend, type ModelConfig } from '@bam/core';
import type { LanguageModel } from '@bam/eval';
import { loadLanguageModel } from '@bam/plugins';
import { BENCH_OPTIONS, benchmarkArgs, machineInfo, machineLine, markdownTable, median, parseVariants, spread, tokenizerFor, variantOf, type Variant } from './lib/common.ts';
import { peerInfo } from './lib/peer.ts';
import { peerScores, requestSequences, scoringRequests, type ScoringKind } from './lib/scoring.ts';

const KINDS: readonly ScoringKind[] = ['rolling', 'loglikelihood'];

const { values, variants, kinds } = benchmarkArgs(
  'score.ts',
  'Scored tokens/s of loglikelihoodRolling and loglikelihood per variant: bam\'s LanguageModel and the PyTorch peer on the same documents and batches, interleaved in one process run.',
  {
    preset: BENCH_OPTIONS.preset,
    variants: BENCH_OPTIONS.variants,
    kinds: { kind: 'string', arg: 'LIST', default: KINDS.join(','), help: `comma-separated scoring calls, of ${KINDS.join(', ')}` },
    rounds: BENCH_OPTIONS.rounds,
    docs: { kind: 'int', min: 1, default: 16, help: 'held-out Moby-Dick test documents to score' },
    chars: { kind: 'int', min: 1, default: 2000, help: 'characters each document is cut to' },
    'batch-size': BENCH_OPTIONS['batch-size'],
    'no-peer': { kind: 'flag', help: 'leave out the PyTorch peer' },
    'peer-threads': { kind: 'int', min: 1, default: 2, help: "the peer's torch.set_num_threads" },
    'peer-blas-threads': { kind: 'int', min: 1, default: 1, help: "the peer's OPENBLAS_NUM_THREADS" },
    json: BENCH_OPTIONS.json,
  },
  (v) => {
    const ks = v.kinds.split(',').map((s) => s.trim()).filter(Boolean);
    for (const k of ks) {
      if (!(KINDS as readonly string[]).includes(k)) throw new BamError(`unknown scoring kind '${k}'`, 'E_BENCH', `use some of: ${KINDS.join(', ')}`);
    }
    return { values: v, variants: parseVariants(v.variants), kinds: ks as ScoringKind[] };
  },
);
const log = (s: string) => {
  if (!values.json) console.error(s);
};
await selectBackend({ prefer: 'wasm', log: () => {} });
const { rounds, 'batch-size': batchSize } = values;
const info = values['no-peer'] ? null : peerInfo();
if (info && !info.ok) log(`PyTorch peer skipped: ${info.error}`);
const usePeer = info?.ok === true;
const engines = ['bam', ...(usePeer ? ['torch'] : [])];
const texts = domainTestDocs('ood')
  .slice(0, values.docs)
  .map((d) => d.text.slice(0, values.chars));
const requests = scoringRequests(texts);

const machineStart = machineInfo();
log(machineLine(machineStart));
const dir = mkdtempSync(join(tmpdir(), 'bam-bench-score-'));
const configs = new Map<Variant, ModelConfig>(variants.map((v) => [v, variantOf(values.preset, v)]));
const lms = new Map<Variant, LanguageModel>();

/** Scores every request of a kind with bam's LanguageModel: log-probs, scored tokens, seconds and CPU-seconds. */
async function bamPass(lm: LanguageModel, kind: ScoringKind): Promise<{ logprobs: number[]; tokens: number; seconds: number; cpu: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const results = kind === 'rolling' ? await lm.loglikelihoodRolling(requests.rolling) : await lm.loglikelihood(requests.loglikelihood);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { logprobs: results.map((r) => r.logprob), tokens: results.reduce((a, r) => a + r.tokens, 0), seconds, cpu: (cpu.user + cpu.system) / 1e6 };
}

const key = (v: Variant, k: ScoringKind, e: string) => `${v}|${k}|${e}`;
const tps = new Map<string, number[]>();
const perCpu = new Map<string, number[]>();
const tokensOf = new Map<string, number>();
const maxDiff = new Map<string, number>();
const push = (m: Map<string, number[]>, k: string, x: number) => m.set(k, [...(m.get(k) ?? []), x]);
try {
  for (const [v, config] of configs) {
    const model = createModel(config, 0);
    await saveCheckpoint(join(dir, v), { model, tokenizer: tokenizerFor(config) });
    disposeModel(model);
    const lm = loadLanguageModel(join(dir, v), { batchSize });
    lms.set(v, lm);
    for (const k of kinds) await bamPass(lm, k); // warm-up
  }
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) {
      const config = configs.get(v)!;
      for (const k of kinds) {
        const ours = await bamPass(lms.get(v)!, k);
        tokensOf.set(`${v}|${k}`, ours.tokens);
        push(tps, key(v, k, 'bam'), ours.tokens / ours.seconds);
        push(perCpu, key(v, k, 'bam'), ours.tokens / ours.cpu);
        let line = `round ${r + 1}/${rounds} ${v.padEnd(14)} ${k.padEnd(13)} bam ${Math.round(ours.tokens / ours.seconds)} tokens/s`;
        if (usePeer) {
          const seqs = requestSequences(k, requests, tokenizerFor(config), config.maxSeqLen);
          const peer = peerScores(join(dir, v), seqs, { batchSize, runs: 1, threads: values['peer-threads'], blasThreads: values['peer-blas-threads'] });
          if (peer.tokens !== ours.tokens) throw new Error(`${v} ${k}: the peer scored ${peer.tokens} tokens, bam ${ours.tokens}`);
          push(tps, key(v, k, 'torch'), peer.tokensPerSecond[0]);
          push(perCpu, key(v, k, 'torch'), peer.tokensPerCpuSecond[0]);
          const d = Math.max(...ours.logprobs.map((lp, i) => Math.abs(lp - peer.logprobs[i])));
          maxDiff.set(`${v}|${k}`, Math.max(maxDiff.get(`${v}|${k}`) ?? 0, d));
          line += `, torch ${Math.round(peer.tokensPerSecond[0])} tokens/s, max Δ logprob ${d.toExponential(1)}`;
        }
        log(line);
      }
    }
  }
} finally {
  for (const lm of lms.values()) lm.dispose();
  rmSync(dir, { recursive: true, force: true });
}

const machineEnd = machineInfo();
const ratio = (m: Map<string, number[]>, v: Variant, k: ScoringKind) => `${(median(m.get(key(v, k, 'bam'))!) / median(m.get(key(v, k, 'torch'))!)).toFixed(2)}×`;
const header = [
  'variant',
  'call',
  'tokens scored',
  ...engines.map((e) => `${e} tokens/s`),
  ...(usePeer ? ['bam / torch', 'max Δ logprob'] : []),
  ...engines.map((e) => `${e} tokens/CPU-s`),
  ...(usePeer ? ['bam / torch (CPU)'] : []),
];
const rows = variants.flatMap((v) =>
  kinds.map((k) => [
    v,
    k,
    String(tokensOf.get(`${v}|${k}`)),
    ...engines.map((e) => spread(tps.get(key(v, k, e))!)),
    ...(usePeer ? [ratio(tps, v, k), maxDiff.get(`${v}|${k}`)!.toExponential(1)] : []),
    ...engines.map((e) => spread(perCpu.get(key(v, k, e))!)),
    ...(usePeer ? [ratio(perCpu, v, k)] : []),
  ]),
);
if (values.json) {
  console.log(JSON.stringify({
    benchmark: 'score',
    preset: values.preset,
    docs: texts.length,
    chars: values.chars,
    batchSize,
    rounds,
    peer: usePeer && info?.ok ? { torch: info.torch, threads: values['peer-threads'], blasThreads: values['peer-blas-threads'] } : null,
    tokensPerSecond: Object.fromEntries([...tps].map(([k, xs]) => [k, xs.map(Math.round)])),
    tokensPerCpuSecond: Object.fromEntries([...perCpu].map(([k, xs]) => [k, xs.map(Math.round)])),
    maxAbsLogprobDiff: Object.fromEntries(maxDiff),
    machine: { ...machineStart, loadAverageEnd: machineEnd.loadAverage },
  }));
} else {
  console.log(`\n${machineLine(machineStart)} (end: ${machineEnd.loadAverage.join(' / ')})`);
  console.log(
    `preset ${values.preset}, ${texts.length} Moby-Dick test documents (${values.chars} chars): ${requests.rolling.length} rolling and ${requests.loglikelihood.length} loglikelihood requests, batch ${batchSize}, ${rounds} rounds` +
      `${usePeer && info?.ok ? `, torch ${info.torch} with ${values['peer-threads']} threads (OpenBLAS ${values['peer-blas-threads']})` : ''}\n`,
  );
  console.log(markdownTable(header, rows));
}
