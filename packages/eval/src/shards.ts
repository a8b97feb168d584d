/**
 * Splitting a task's documents across jobs (issue 14, as OpenCompass's size partitioner does), so
 * one long task is not the straggler of a many-worker sweep.
 *
 * Plan: a job whose task has `shards: K` (or, with the sweep's `shardDocs: N`, more than N
 * documents) is replaced in the work list by K shard jobs. Each is a normal job with its own key
 * (the unsplit job's key, shard index and document range hashed), so the pool or a queue runs it
 * like any other; the unsplit job stays in the plan as the row its shards make up. The shard's
 * worker still builds all of the task's documents (distractors or few-shot examples drawn from
 * the whole set stay the same) and scores only `[start, end)`.
 *
 * Record: each shard's documents go to docs.jsonl under the shard's key with their index in the
 * whole set. Once every shard of a job is ok, their documents are merged in document order and
 * aggregated once, with the task's own aggregation, under the unsplit job's key: its journal line,
 * results rows and documents are then exactly those of the unsplit run. Because the merged record
 * has the unsplit key, a job finished unsplit is done for a sharded config and vice versa, and
 * changing the number of shards reruns only the documents not yet merged.
 */
import { configHash, appendDurable } from '@bam/utils';
import { silentLogger, type PluginContext } from './api/context.ts';
import { collectDocuments, parseOptions } from './evaluate.ts';
import { aggregateScores } from './metrics.ts';
import { readJsonl, type DocRecord, type JobPlan, type JobRecord, type ShardRange } from './results.ts';
import type { ResolvedEntry, SweepConfig } from './config.ts';
import type { PluginRegistry } from './registry.ts';

/**
 * How many shards a task of `docs` documents runs as: its own `shards`, else ⌈docs / shardDocs⌉,
 * else 1; never more than `docs` (a shard holds at least one document).
 */
export function shardCount(docs: number, shards: number | undefined, shardDocs: number | undefined): number {
  const wanted = shards ?? (shardDocs ? Math.ceil(docs / shardDocs) : 1);
  return Math.max(1, Math.min(wanted, docs));
}

/** `[start, end)` of each of `count` shards of `total` documents: contiguous, sizes differing by at most one. */
export function shardRanges(total: number, count: number): Array<[number, number]> {
  return Array.from({ length: count }, (_, i) => [Math.floor((i * total) / count), Math.floor(((i + 1) * total) / count)]);
}

/** The shard jobs of `job`, whose task has `total` documents, split `count` ways (just `job` when count is 1). */
export function shardsOf(job: JobPlan, total: number, count: number): JobPlan[] {
  if (count <= 1) return [job];
  return shardRanges(total, count).map(([start, end], index) => {
    const shard: ShardRange = { of: job.key, index, count, start, end, total };
    return { ...job, key: configHash({ of: job.key, shard: [index, count], documents: [start, end], total }), shard };
  });
}

/** Whether a task entry (or the sweep) asks for a split. */
function wantsSplit(config: SweepConfig, ti: number): boolean {
  const shards = config.tasks[ti].shards;
  return shards !== undefined ? shards > 1 : config.shardDocs !== undefined;
}

/**
 * The work list: the distinct jobs of `plan`, each split job replaced by its shards, in plan
 * order. Counts the documents (after `limit`) of every task that asks for a split, once per
 * (task, seed), by asking the task for them on this thread.
 */
export async function splitJobs(
  distinct: Iterable<JobPlan>,
  config: SweepConfig,
  tasks: readonly ResolvedEntry[],
  registry: PluginRegistry,
  artifactsDir: string,
): Promise<JobPlan[]> {
  const counts = new Map<string, Promise<number>>();
  const count = (ti: number, seed: number): Promise<number> => {
    const k = `${ti}\u0000${seed}`;
    let n = counts.get(k);
    if (!n) {
      const task = registry.task(tasks[ti].id);
      const opts = parseOptions(task.options, tasks[ti].rawOptions, `options of task '${task.id}'`);
      const ctx: PluginContext = { artifactsDir, seed, ...(config.seedKind === 'mixture' ? { seedKind: config.seedKind } : {}), logger: silentLogger };
      n = collectDocuments(task, opts, ctx, config.tasks[ti].limit ?? config.limit).then((d) => d.length);
      counts.set(k, n);
    }
    return n;
  };
  const work: JobPlan[] = [];
  for (const job of distinct) {
    const ti = job.order[2];
    if (!wantsSplit(config, ti)) {
      work.push(job);
      continue;
    }
    const total = await count(ti, job.seed);
    // A task with no documents is not split: its one job fails saying so, as unsplit.
    work.push(...(total === 0 ? [job] : shardsOf(job, total, shardCount(total, config.tasks[ti].shards, config.shardDocs))));
  }
  return work;
}

/** Whether work job `j` needs no run: its own record is ok, or (a shard) the job it is part of is merged. */
export function workDone(j: JobPlan, isOk: (key: string) => boolean): boolean {
  return isOk(j.key) || (j.shard !== undefined && isOk(j.shard.of));
}

/**
 * Record (shards): for every split job of `work` without an ok record whose shards all have
 * records, commits the merged result: the shards' documents in document order, aggregated once
 * (appended to docs.jsonl under the job's key, then its journal line), or a failed record naming
 * the first failed shard. Updates `records`; returns the keys it merged.
 */
export function mergeShards(work: readonly JobPlan[], records: Map<string, JobRecord>, files: { docs: string; journal: string }): string[] {
  const groups = new Map<string, JobPlan[]>();
  for (const j of work) if (j.shard) groups.set(j.shard.of, [...(groups.get(j.shard.of) ?? []), j]);
  const ready = [...groups].filter(([of, shards]) => records.get(of)?.status !== 'ok' && shards.every((s) => records.has(s.key)));
  if (ready.length === 0) return [];
  const wanted = new Set(ready.flatMap(([, shards]) => shards.map((s) => s.key)));
  const docsByKey = new Map<string, DocRecord[]>();
  for (const d of readJsonl<DocRecord>(files.docs).items) if (wanted.has(d.key)) docsByKey.set(d.key, [...(docsByKey.get(d.key) ?? []), d]);
  const merged: string[] = [];
  for (const [of, shards] of ready) {
    const recs = shards.map((s) => records.get(s.key) as JobRecord);
    const rec = mergedRecord(of, shards, recs, docsByKey, files.docs);
    const prev = records.get(of);
    // A failed merge already journaled with the same error is not journaled again on every resume.
    if (rec.status === 'failed' && prev?.status === 'failed' && prev.error === rec.error) continue;
    appendDurable(files.journal, `${JSON.stringify(rec)}\n`);
    records.set(of, rec);
    merged.push(of);
  }
  return merged;
}

/** The record of split job `of` from its shards' records (appending the merged documents when all are ok). */
function mergedRecord(of: string, shards: readonly JobPlan[], recs: readonly JobRecord[], docsByKey: ReadonlyMap<string, DocRecord[]>, docsPath: string): JobRecord {
  const job = shards[0];
  const first = recs[0];
  const base = {
    key: of,
    variant: job.variant,
    task: job.task,
    seed: job.seed,
    budget: job.budget,
    // The compute the job took, summed over its shards (they may have run at the same time).
    durationS: Math.round(recs.reduce((s, r) => s + (r.durationS ?? 0), 0) * 1000) / 1000,
    threadId: first.threadId,
    packageVersion: first.packageVersion,
    finishedAt: new Date().toISOString(),
    backend: first.backend,
    model: first.model,
    modelHash: first.modelHash,
  };
  const bad = recs.findIndex((r) => r.status !== 'ok');
  const failed = (error: string): JobRecord => ({ ...base, status: 'failed', error, n: null, values: {} });
  if (bad >= 0) {
    const s = shards[bad].shard as ShardRange;
    return failed(`shard ${s.index + 1}/${s.count} (documents ${s.start}–${s.end - 1}) failed: ${recs[bad].error}`);
  }
  const docs = shards.flatMap((s) => docsByKey.get(s.key) ?? []).sort((a, b) => a.doc - b.doc);
  const total = (job.shard as ShardRange).total;
  if (docs.length !== total || docs.some((d, i) => d.doc !== i)) {
    return failed(`its ${shards.length} shards hold ${docs.length} of its ${total} documents; rerun the sweep with --resume`);
  }
  try {
    const values = aggregateScores(job.metrics, docs.map((d) => d.scores), { seed: job.seed, bootstrapIters: job.bootstrapIters });
    appendDurable(docsPath, docs.map((d) => `${JSON.stringify({ key: of, doc: d.doc, id: d.id, scores: d.scores })}\n`).join(''));
    const logs = first.trainingLogs ? { trainingLogs: first.trainingLogs } : {};
    return { ...base, status: 'ok', error: '', n: total, values, ...logs };
  } catch (err) {
    return failed((err as Error).message);
  }
}
