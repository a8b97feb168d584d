/**
 * The measuring loop behind benchmarks/train.ts, blocks.ts and scaling.ts: training tokens/s of
 * several model configs ("cases") on several engines, interleaved round by round in one process so
 * that load drift on a shared machine hits every cell alike.
 *
 * Engines: `bam ×1` is `train()` in this thread; `bam ×W` (W > 1) is data-parallel training on a
 * `DataParallelPool` of W worker threads, kept for the whole measurement (its threads warm up
 * once, in the warm-up round, as this thread does); `torch` is the PyTorch peer (benchmarks/peers/torch_peer.py) on the same
 * batches from the same initial weights. Every run starts from a fresh model (seed 0).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModel, DataParallelPool, disposeModel, saveCheckpoint, setOpsSettings, train, trainingFlops, type ModelConfig, type OpsSettings } from '@bam/core';
import { batchesFor, median, spread, tokenizerFor } from './common.ts';
import { runPeer } from './peer.ts';

/** One model config to measure, under a label for the tables. */
export interface TrainCase {
  label: string;
  config: ModelConfig;
  /** Ops settings in force while this case trains (bam ×1 only: replicas keep their defaults). */
  ops?: Partial<OpsSettings>;
}

/** Options of `measureTraining`. */
export interface MeasureOptions {
  /** `bam ×1`, `bam ×2`, ..., `torch`. */
  engines: string[];
  rounds: number;
  steps: number;
  batchSize: number;
  seqLen: number;
  /** torch.set_num_threads for the peer. */
  peerThreads?: number;
  /** OPENBLAS_NUM_THREADS for the peer (default 1, the protocol: torch's own threads, single-threaded BLAS). */
  peerBlasThreads?: number;
  log?: (line: string) => void;
}

/** One run: wall-clock tokens/s, and tokens per CPU-second (all threads of the engine's process). */
export interface Run {
  tps: number;
  perCpu: number;
}

/** The runs of every round, by case label then engine. */
export type Measurements = Map<string, Map<string, Run[]>>;

/** Training FLOPs per token of a case (3 × the paper's forward count at the batch's length). */
export function flopsPerToken(c: TrainCase, seqLen: number): number {
  return trainingFlops(c.config, 1, seqLen);
}

/**
 * Measures every case on every engine, `rounds` times, after one 2-step warm-up per case and bam
 * engine. The first case's vocabulary decides the batches (all cases must share it).
 */
export async function measureTraining(cases: TrainCase[], o: MeasureOptions): Promise<Measurements> {
  const log = o.log ?? (() => {});
  const { batchSize: B, seqLen: T, steps } = o;
  const batches = batchesFor(cases[0].config, B, T);
  const dir = mkdtempSync(join(tmpdir(), 'bam-bench-train-'));
  const lr = { peak: 1e-3, warmup: 1 };
  const out: Measurements = new Map(cases.map((c) => [c.label, new Map(o.engines.map((e) => [e, [] as Run[]]))]));
  const workersOf = (e: string) => Number(e.replace(/^bam ×/, ''));
  const pools = new Map(o.engines.filter((e) => e !== 'torch' && workersOf(e) > 1).map((e) => [workersOf(e), new DataParallelPool(workersOf(e))]));
  try {
    if (o.engines.includes('torch')) {
      // The peer trains on exactly these batches: steps × (inputs [B, T], targets [B, T]), int32.
      const data = new Int32Array(steps * 2 * B * T);
      for (let s = 0; s < steps; s++) {
        const b = batches.batch(s);
        data.set(b.inputs, s * 2 * B * T);
        data.set(b.targets, (s * 2 + 1) * B * T);
      }
      writeFileSync(join(dir, 'data.bin'), Buffer.from(data.buffer));
      for (const [i, c] of cases.entries()) {
        const model = createModel(c.config, 0);
        await saveCheckpoint(join(dir, `case-${i}`), { model, tokenizer: tokenizerFor(c.config) });
        disposeModel(model);
        writeFileSync(join(dir, `case-${i}.json`), JSON.stringify(c.config));
      }
    }
    const bamRun = async (c: TrainCase, workers: number, n: number): Promise<Run> => {
      const model = createModel(c.config, 0);
      const prev = c.ops ? setOpsSettings(c.ops) : undefined;
      try {
        if (workers === 1) {
          const cpu0 = process.cpuUsage();
          const s = await train({ model, batches, steps: n, lr, logEvery: n });
          const cpu = process.cpuUsage(cpu0);
          return { tps: s.tokensPerSecond, perCpu: (s.tokensSeen / (cpu.user + cpu.system)) * 1e6 };
        }
        if (c.ops) throw new Error(`case '${c.label}' sets ops settings, which data-parallel replicas do not take`);
        const s = await pools.get(workers)!.train({ model, batches, steps: n, lr });
        return { tps: s.tokensPerSecond, perCpu: s.tokensSeen / s.cpuSeconds };
      } finally {
        if (prev) setOpsSettings(prev);
        disposeModel(model);
      }
    };
    const torchRun = (i: number): Run => {
      const a = runPeer(['train', '--config', join(dir, `case-${i}.json`), '--data', join(dir, 'data.bin'), '--batch', String(B), '--seq-len', String(T), '--steps', String(steps), '--runs', '1', '--init', join(dir, `case-${i}`), '--threads', String(o.peerThreads ?? 2)], {
        env: { OPENBLAS_NUM_THREADS: String(o.peerBlasThreads ?? 1) },
      });
      return { tps: (a.tokensPerSecond as number[])[0], perCpu: (a.tokensPerCpuSecond as number[])[0] };
    };
    for (const c of cases) for (const e of o.engines) if (e !== 'torch') await bamRun(c, workersOf(e), 2);
    for (let r = 0; r < o.rounds; r++) {
      // Each round starts at the next case, so no case always runs in the same position: a run
      // right after another case was measured up to ~8% faster (blocks.ts, a fixed order).
      const order = cases.map((_, k) => (k + r) % cases.length);
      for (const i of order) {
        const c = cases[i];
        for (const e of o.engines) {
          const run = e === 'torch' ? torchRun(i) : await bamRun(c, workersOf(e), steps);
          out.get(c.label)!.get(e)!.push(run);
          log(`round ${r + 1}/${o.rounds} ${c.label.padEnd(24)} ${e.padEnd(7)} ${Math.round(run.tps)} tokens/s, ${Math.round(run.perCpu)} tokens/CPU-s`);
        }
      }
    }
  } finally {
    await Promise.all([...pools.values()].map((p) => p.dispose()));
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

/** Cells "median (min–max)" of tokens/s and of GFLOP/s for one case and engine. */
export function cells(m: Measurements, c: TrainCase, engine: string, seqLen: number): [string, string] {
  const xs = m.get(c.label)!.get(engine)!.map((r) => r.tps);
  const f = flopsPerToken(c, seqLen);
  return [spread(xs), spread(xs.map((x) => (x * f) / 1e9), 1)];
}

/** Cell "median (min–max)" of tokens per CPU-second for one case and engine. */
export function cpuCell(m: Measurements, c: TrainCase, engine: string): string {
  return spread(m.get(c.label)!.get(engine)!.map((r) => r.perCpu));
}

/** Median tokens/s (or tokens per CPU-second) of a case on an engine. */
export function medianOf(m: Measurements, label: string, engine: string, what: keyof Run = 'tps'): number {
  return median(m.get(label)!.get(engine)!.map((r) => r[what]));
}

/** The runs as plain numbers, for --json output. */
export function toJson(m: Measurements): Record<string, Record<string, Array<{ tps: number; perCpu: number }>>> {
  return Object.fromEntries([...m].map(([k, byEngine]) => [k, Object.fromEntries([...byEngine].map(([e, rs]) => [e, rs.map((r) => ({ tps: Math.round(r.tps), perCpu: Math.round(r.perCpu) }))]))]));
}
