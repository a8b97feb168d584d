/**
 * A hand-written results folder shaped like the paper's small-scale sweep: the perplexities of
 * docs/paper.md's Table 1 (seed, three dense experts, BTX, BAM expert-KV / shared-KV in DM and CM)
 * on five perplexity tasks, three downstream tasks, routing-analysis rows, one failed job and
 * training logs. Everything else (stderrs, accuracies, routing shares) comes from a seeded
 * generator, so the tests compare the report against these rows, not against constants.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { entropyRatioMetricName, resultsCsv, routingMetricName, type ResultRow } from '../../src/index.ts';

/** Table 1 of the paper: general, code, law, math (the average is the report's to compute). */
export const PAPER_TABLE_1: ReadonlyArray<{ variant: string; budget: string; ppl: [number, number, number, number] }> = [
  { variant: 'seed', budget: '', ppl: [23.98, 8.62, 8.92, 14.12] },
  { variant: 'code-expert', budget: '', ppl: [39.5, 3.71, 10.83, 8.77] },
  { variant: 'law-expert', budget: '', ppl: [87.82, 23.45, 7.53, 30.79] },
  { variant: 'math-expert', budget: '', ppl: [57.61, 6.78, 10.43, 5.67] },
  { variant: 'btx', budget: '', ppl: [26.72, 3.78, 6.63, 5.77] },
  { variant: 'bam-full', budget: 'data-matched', ppl: [24.02, 3.45, 6.04, 5.31] },
  { variant: 'bam-full', budget: 'compute-matched', ppl: [24.84, 3.53, 6.21, 5.43] },
  { variant: 'bam-kv-shared', budget: 'data-matched', ppl: [25.67, 3.64, 6.39, 5.57] },
  { variant: 'bam-kv-shared', budget: 'compute-matched', ppl: [26.0, 3.72, 6.5, 5.63] },
];

export const PPL_TASKS = ['ppl-general', 'ppl-code', 'ppl-law', 'ppl-math'] as const;
export const DOWNSTREAM_TASKS = ['wordnet-definition', 'license-id', 'arithmetic'] as const;
export const ROUTING_TASKS = ['routing-code', 'routing-law', 'routing-math'] as const;
export const LAYERS = 2;
export const EXPERTS = 4;
/** The job that fails: bam-kv-shared CM on the out-of-domain perplexity task. */
export const FAILED = { variant: 'bam-kv-shared', budget: 'compute-matched', task: 'ppl-ood', error: 'worker exited with code 7 while running the job' };

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** The rows of the fixture's results.csv, in the sweep's order (variant, budget, task, metric). */
export function fixtureRows(): ResultRow[] {
  const rand = lcg(7);
  const entropy = lcg(11); // its own stream, so the other rows keep their values
  const rows: ResultRow[] = [];
  let job = 0;
  const push = (variant: string, budget: string, task: string, metrics: Record<string, [number, number]>, fail?: string): void => {
    const hash = `job${String(job++).padStart(3, '0')}`;
    for (const [metric, [value, stderr]] of Object.entries(metrics)) {
      rows.push({
        variant, task, metric, budget,
        value: fail ? null : value,
        stderr: fail ? null : stderr,
        n: fail ? null : 200,
        seed: 0,
        task_version: '1',
        config_hash: hash,
        backend: fail ? '' : 'wasm',
        package_version: '0.1.0',
        status: fail ? 'failed' : 'ok',
        error: fail ?? '',
        duration_s: 1.5,
      });
    }
  };
  for (const v of PAPER_TABLE_1) {
    PPL_TASKS.forEach((task, d) => {
      const ppl = v.ppl[d];
      push(v.variant, v.budget, task, { token_perplexity: [ppl, ppl * (0.01 + 0.02 * rand())], bits_per_byte: [Math.log2(ppl) / 4, 0.01 * rand()] });
    });
    const ood = 30 + 20 * rand();
    const failed = v.variant === FAILED.variant && v.budget === FAILED.budget;
    push(v.variant, v.budget, 'ppl-ood', { token_perplexity: [ood, 0.5 + rand()], bits_per_byte: [Math.log2(ood) / 4, 0.01] }, failed ? FAILED.error : undefined);
    for (const task of DOWNSTREAM_TASKS) {
      const acc = 0.25 + 0.6 * rand();
      push(v.variant, v.budget, task, { acc: [acc, Math.sqrt((acc * (1 - acc)) / 200)], acc_norm: [acc - 0.05 + 0.1 * rand(), 0.03] });
    }
    if (v.variant.startsWith('b')) {
      for (const task of ROUTING_TASKS) {
        const metrics: Record<string, [number, number]> = {};
        const kinds = v.variant === 'btx' ? (['ffn_share'] as const) : (['ffn_share', 'attn_weight'] as const);
        for (const kind of kinds) {
          for (let l = 0; l < LAYERS; l++) {
            const w = Array.from({ length: EXPERTS }, () => 0.2 + rand());
            const s = w.reduce((a, b) => a + b, 0);
            w.forEach((x, e) => (metrics[routingMetricName(kind, l, e)] = [x / s, 0]));
            metrics[entropyRatioMetricName(kind === 'ffn_share' ? 'ffn' : 'attn', l)] = [0.5 + 0.4 * entropy(), 0];
          }
        }
        push(v.variant, v.budget, task, metrics);
      }
    }
  }
  return rows;
}

/** Writes the fixture folder (results.csv, training logs) into `dir`; returns its rows. */
export function writeFixture(dir: string, opts: { training?: boolean } = {}): ResultRow[] {
  mkdirSync(dir, { recursive: true });
  const rows = fixtureRows();
  writeFileSync(join(dir, 'results.csv'), resultsCsv(rows));
  if (opts.training !== false) writeTrainingLogs(dir);
  return rows;
}

/** Loss curves that fall like 1/√step: seed and code-expert logs in training/, the mixture's via training_logs.json. */
export function writeTrainingLogs(dir: string): void {
  const curve = (start: number, steps: number, every: number, withEval: boolean): string => {
    const lines: string[] = [];
    for (let step = every; step <= steps; step += every) {
      lines.push(JSON.stringify({ kind: 'train', step, lr: 1e-3, loss: start / Math.sqrt(step / every), nll: start / Math.sqrt(step / every), tokens: step * 64 }));
      if (withEval && step % (every * 4) === 0) lines.push(JSON.stringify({ kind: 'eval', step, valLoss: (start * 1.05) / Math.sqrt(step / every), batches: 2 }));
    }
    return `${lines.join('\n')}\n`;
  };
  mkdirSync(join(dir, 'training', 'code-expert'), { recursive: true });
  writeFileSync(join(dir, 'training', 'seed.jsonl'), curve(8, 400, 10, true));
  writeFileSync(join(dir, 'training', 'code-expert', 'train.jsonl'), curve(5, 200, 10, true));
  mkdirSync(join(dir, 'logs'), { recursive: true });
  writeFileSync(join(dir, 'logs', 'mix.jsonl'), `not json\n${curve(4, 100, 5, false)}`);
  writeFileSync(join(dir, 'training_logs.json'), JSON.stringify({ 'bam-full mixture': 'logs/mix.jsonl' }));
}
