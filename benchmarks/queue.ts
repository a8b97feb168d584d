/**
 * Queue mode's cost and speed-up (issue 14, docs/distributed.md), through the real CLI on a private
 * Redis (tools/test/redis.ts; needs `redis-server`):
 * - overhead per job: a sweep of `--jobs` empty jobs (benchmarks/lib/empty-plugin.ts) run locally
 *   on one worker thread and on the queue with one `bam worker` of one thread; the time per job is
 *   the span of the journal's `finishedAt` stamps over the jobs (process start-up, which varies by
 *   seconds on a loaded machine, is outside it), and the queue's overhead is the difference. The
 *   coordinator reads job states every 500 ms, which blurs each end of the queue's span by up to that;
 * - speed-up: a smoke-sized sweep (the smoke preset's seed and code and law experts on four tasks
 *   with small limits, its artifacts built beforehand, so the timed runs are its 12 evaluations)
 *   locally (one worker thread per core) and on the queue with 1, 2 and 4 `bam worker` processes
 *   of one thread each.
 * Every run is a fresh `bam` process (wall time of the coordinating `bam sweep`), with its own Redis
 * database; the cases are interleaved round by round.
 *
 *   npx tsx benchmarks/queue.ts [--rounds 2] [--workers 1,2,4] [--jobs 1000] [--json]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultWorkers } from '@bam/utils';
import { startRedis } from '../tools/test/redis.ts';
import { BENCH_OPTIONS, benchmarkArgs, intList, machineInfo, machineLine, markdownTable, median, spread } from './lib/common.ts';

const { values, workerCounts } = benchmarkArgs(
  'queue.ts',
  'Queue overhead per job (empty jobs) and the speed-up of a smoke-sized sweep with 1, 2, 4 bam worker processes against local mode, through the real CLI on a private Redis.',
  {
    rounds: { ...BENCH_OPTIONS.rounds, default: 2 },
    workers: { ...BENCH_OPTIONS.workers, default: '1,2,4', help: 'comma-separated numbers of bam worker processes (one thread each)' },
    jobs: { kind: 'int', min: 2, default: 1000, help: 'empty jobs of the overhead sweeps' },
    json: BENCH_OPTIONS.json,
  },
  (v) => ({ values: v, workerCounts: intList(v.workers, 'workers') }),
);
const log = (s: string): void => {
  if (!values.json) console.error(s);
};
if (spawnSync('redis-server', ['--version']).status !== 0) {
  console.error('queue.ts: redis-server is not installed — apt-get install -y redis-server');
  process.exit(2);
}

const BAM = fileURLToPath(new URL('../packages/cli/bin/bam.mjs', import.meta.url));
const WORK = mkdtempSync(join(tmpdir(), 'bam-bench-queue-'));
mkdirSync(join(WORK, 'redis'));
const redis = await startRedis(join(WORK, 'redis'));
let db = 0;

function config(name: string, body: Record<string, unknown>): string {
  const file = join(WORK, `${name}.json`);
  writeFileSync(file, JSON.stringify({ name, ...body }));
  return file;
}
const emptyConfig = (n: number): string =>
  config(`empty-${n}`, {
    seeds: Array.from({ length: n }, (_, i) => i),
    plugins: [fileURLToPath(new URL('./lib/empty-plugin.ts', import.meta.url))],
    variants: [{ id: 'empty' }],
    tasks: [{ id: 'empty' }],
    bootstrapIters: 0,
  });
const SMOKE = config('smoke', {
  seeds: [0],
  artifactsDir: join(WORK, 'artifacts'),
  variants: ['seed', 'code', 'law'].map((model) => ({ id: 'dense', name: model, options: { preset: 'smoke', model } })),
  tasks: [
    { id: 'ppl-general', options: { limit: 4, maxChars: 400 } },
    { id: 'ppl-code', options: { limit: 4, maxChars: 400 } },
    { id: 'arithmetic', options: { limit: 12 } },
    { id: 'wordnet-cloze', options: { limit: 12 } },
  ],
  bootstrapIters: 100,
});

function start(args: string[]): ChildProcess {
  return spawn(process.execPath, [BAM, ...args], { cwd: WORK, env: { ...process.env, BAM_BACKEND: 'wasm' }, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Runs `bam ARGS` to the end; its wall seconds (throws with its output when it fails). */
async function timed(args: string[]): Promise<number> {
  const t0 = performance.now();
  const child = start(args);
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (err += s));
  const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  if (code !== 0) throw new Error(`bam ${args.join(' ')} exited with ${code}:\n${err.slice(-2000)}`);
  return (performance.now() - t0) / 1000;
}

/** Milliseconds per job between the first and the last job the sweep in `out` journaled. */
function msPerJob(out: string): number {
  const stamps = readFileSync(join(out, 'jobs.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => Date.parse((JSON.parse(l) as { finishedAt: string }).finishedAt));
  return (Math.max(...stamps) - Math.min(...stamps)) / (stamps.length - 1);
}

/** A sweep of `cfg` into `out`: locally with `threads` worker threads, or on the queue with `processes` bam workers of one thread. */
async function sweep(cfg: string, mode: { threads: number } | { processes: number }, out?: string): Promise<number> {
  // Each run its own database, so no run finds another's finished jobs.
  const run = ++db;
  const base = ['sweep', '--config', cfg, '--out', out ?? join(WORK, `out-${run}`), '--quiet'];
  if ('threads' in mode) return timed([...base, '--workers', String(mode.threads)]);
  if (run > 63) throw new Error('more runs than the private Redis has databases; lower --rounds');
  const url = redis.url(run);
  const workers = Array.from({ length: mode.processes }, () => start(['worker', '--queue', url, '--workers', '1', '--quiet']));
  try {
    return await timed([...base, '--queue', url]);
  } finally {
    await Promise.all(workers.map((w) => new Promise((res) => (w.once('exit', res), w.kill('SIGTERM')))));
  }
}

const machineStart = machineInfo();
log(machineLine(machineStart));
log('building the smoke sweep\'s artifacts (not timed) …');
await timed(['sweep', '--config', SMOKE, '--out', join(WORK, 'warm-up'), '--quiet']);

const perJob = { local: [] as number[], queue: [] as number[] };
const EMPTY = emptyConfig(values.jobs);
const speed = new Map<string, number[]>([['local', []], ...workerCounts.map((k) => [`queue ×${k}`, []] as [string, number[]])]);
const localThreads = defaultWorkers();
for (let r = 0; r < values.rounds; r++) {
  for (const mode of ['local', 'queue'] as const) {
    const out = join(WORK, `empty-${mode}-${r}`);
    await sweep(EMPTY, mode === 'local' ? { threads: 1 } : { processes: 1 }, out);
    perJob[mode].push(msPerJob(out));
  }
  speed.get('local')?.push(await sweep(SMOKE, { threads: localThreads }));
  for (const k of workerCounts) speed.get(`queue ×${k}`)?.push(await sweep(SMOKE, { processes: k }));
  log(`round ${r + 1}/${values.rounds} done`);
}
await redis.stop();
rmSync(WORK, { recursive: true, force: true });

const extra = perJob.queue.map((q, i) => q - perJob.local[i]);
const localS = median(speed.get('local') as number[]);
const machineEnd = machineInfo();
if (values.json) {
  console.log(JSON.stringify({ machineStart, machineEnd, jobs: values.jobs, perJobMs: perJob, extraMsPerJob: extra, speed: Object.fromEntries(speed), localThreads }));
} else {
  console.log(`\nTime per job (${values.jobs} empty jobs; span of the journal's finishedAt / (jobs − 1), ms; median (min–max) over ${values.rounds} round(s))`);
  console.log(markdownTable(['mode', 'ms per job', 'queue overhead (ms per job)'], [
    ['local, 1 worker thread', spread(perJob.local, 2), ''],
    ['queue, 1 bam worker of 1 thread', spread(perJob.queue, 2), spread(extra, 2)],
  ]));
  console.log(`\nSmoke-sized sweep, 12 evaluations on built artifacts (wall s of bam sweep; local = ${localThreads} worker thread(s))`);
  console.log(markdownTable(['mode', 'wall s', 'speed-up vs local'], [...speed].map(([mode, xs]) => [mode, spread(xs, 1), `${(localS / median(xs)).toFixed(2)}×`])));
  log(machineLine(machineEnd));
}
