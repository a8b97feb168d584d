import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ResultsError, runSweep } from '../src/index.ts';
import { FOLDER_LOCK } from '../src/folder-lock.ts';
import { FAKE_PLUGINS, readCsv, sink, tmp, quietSweep as quiet } from './helpers.ts';

/** One fake variant × two tasks × `seeds`: 2 × seeds jobs; `delayMs` holds each job in create(). */
function config(seeds: number[], delayMs = 0, name = 'guard'): Record<string, unknown> {
  return {
    name,
    seeds,
    plugins: [FAKE_PLUGINS],
    bootstrapIters: 50,
    variants: [{ id: 'fake', options: { delayMs } }],
    tasks: [{ id: 'fake-mc' }, { id: 'fake-ppl' }],
  };
}

/** Journal lines per job key (a job that ran twice has two). */
function journalCounts(out: string): number[] {
  const counts = new Map<string, number>();
  for (const line of readFileSync(join(out, 'jobs.jsonl'), 'utf8').split('\n').filter(Boolean)) {
    const key = (JSON.parse(line) as { key: string }).key;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts.values()];
}

async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition never came true');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('one owner per results folder', () => {
  it('refuses a second sweep on a folder in use, naming the holder, and runs no job twice', async () => {
    const out = join(tmp(), 'out');
    const first = runSweep(config([0, 1], 300), quiet({ outDir: out, workers: 1 }));
    await until(() => existsSync(join(out, FOLDER_LOCK)));
    const err = await runSweep(config([0, 1], 300), quiet({ outDir: out, workers: 1, resume: true })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResultsError);
    expect((err as ResultsError).message.split('\n')[0]).toBe(`${out} is in use by another sweep (pid ${process.pid} on host ${hostname()} since ${JSON.parse(readFileSync(join(out, FOLDER_LOCK), 'utf8')).acquiredAt})`);
    expect((err as ResultsError).hint).toContain('--wait');
    expect(await first).toMatchObject({ complete: true, ran: 4 });
    expect(journalCounts(out)).toEqual([1, 1, 1, 1]);
    expect(existsSync(join(out, FOLDER_LOCK))).toBe(false); // released at the end
  });

  it('with wait, queues behind the running sweep and then finds every job done', async () => {
    const out = join(tmp(), 'out');
    const first = runSweep(config([0, 1], 300), quiet({ outDir: out, workers: 1 }));
    await until(() => existsSync(join(out, FOLDER_LOCK)));
    const progress = sink();
    const second = await runSweep(config([0, 1], 300), { outDir: out, workers: 1, resume: true, wait: true, progress, print: false, quiet: true });
    expect(await first).toMatchObject({ ran: 4 });
    expect(second).toMatchObject({ complete: true, ran: 0, skipped: 4 });
    expect(progress.text).toMatch(/waiting for the lock .*sweep\.lock: held by pid \d+/);
    expect(journalCounts(out)).toEqual([1, 1, 1, 1]);
  });

  it('takes over the lock of a sweep that died (a dead pid) and says so', async () => {
    const out = join(tmp(), 'out');
    await runSweep(config([0]), quiet({ outDir: out, workers: 1 }));
    const now = new Date().toISOString();
    // pid 2^22 + 1 is above Linux's pid_max, so no process has it.
    const dead = { format: 'bam-lock', host: hostname(), pid: 4_194_305, threadId: 0, processStart: null, token: 'dead', acquiredAt: now, heartbeatAt: now, leaseMs: 60_000 };
    writeFileSync(join(out, FOLDER_LOCK), JSON.stringify(dead));
    const progress = sink();
    const s = await runSweep(config([0]), { outDir: out, workers: 1, resume: true, progress, print: false, quiet: true });
    expect(s).toMatchObject({ complete: true, ran: 0, skipped: 2 });
    expect(progress.text).toContain('taking over the lock');
    expect(progress.text).toContain('pid 4194305 is not running');
  });
});

describe('resuming with another config', () => {
  it('refuses, leaving every result file as it was', async () => {
    const out = join(tmp(), 'out');
    await runSweep(config([0, 1, 2]), quiet({ outDir: out, workers: 2 }));
    const before = Object.fromEntries(readdirSync(out).map((f) => [f, existsSync(join(out, f, 'index.html')) ? 'dir' : readFileSync(join(out, f), 'utf8')]));
    const err = await runSweep(config([0]), quiet({ outDir: out, workers: 1, resume: true })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResultsError);
    expect((err as ResultsError).message.split('\n')[0]).toBe(`${out}: its results come from another sweep config: 4 of its 6 jobs (e.g. fake × fake-mc · seed 1) are not in this config`);
    expect((err as ResultsError).hint).toContain('--force');
    const after = Object.fromEntries(readdirSync(out).map((f) => [f, existsSync(join(out, f, 'index.html')) ? 'dir' : readFileSync(join(out, f), 'utf8')]));
    expect(after).toEqual(before);
    expect(readCsv(join(out, 'results.csv'))).toHaveLength(3 * (2 + 3));
  });

  it('with force, moves the old results aside, says where, and starts afresh', async () => {
    const out = join(tmp(), 'out');
    await runSweep(config([0, 1, 2]), quiet({ outDir: out, workers: 2 }));
    const oldCsv = readFileSync(join(out, 'results.csv'), 'utf8');
    const progress = sink();
    const s = await runSweep(config([0], 0, 'other'), { outDir: out, workers: 1, resume: true, force: true, progress, print: false, quiet: true });
    expect(s).toMatchObject({ complete: true, ran: 2, skipped: 0 });
    const aside = /moved its results to (\S+)/.exec(progress.text)?.[1] as string;
    expect(dirname(aside)).toBe(dirname(out));
    expect(aside).toMatch(/out\.previous-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ$/);
    expect(readFileSync(join(aside, 'results.csv'), 'utf8')).toBe(oldCsv);
    expect(readdirSync(aside).filter((f) => f.startsWith('table_')).sort()).toEqual(['table_acc.csv', 'table_acc_norm.csv', 'table_bits_per_byte.csv', 'table_token_perplexity.csv', 'table_word_perplexity.csv']);
    expect(readCsv(join(out, 'results.csv'))).toHaveLength(2 + 3);
    expect(journalCounts(out)).toEqual([1, 1]);
  });

  it('continues when only run settings (workers, jobTimeout) changed', async () => {
    const out = join(tmp(), 'out');
    await runSweep(config([0, 1]), quiet({ outDir: out, workers: 2, maxJobs: 1 }));
    const s = await runSweep({ ...config([0, 1]), jobTimeout: 600, workers: 1 }, quiet({ outDir: out, resume: true }));
    expect(s).toMatchObject({ complete: true, ran: 3, skipped: 1 });
    expect(journalCounts(out)).toEqual([1, 1, 1, 1]);
  });

  it('continues a config that edits a variant’s options or adds a seed, rerunning only the changed jobs and saying so', async () => {
    const out = join(tmp(), 'out');
    await runSweep(config([0, 1]), quiet({ outDir: out, workers: 2 }));
    const progress = sink();
    const edited = { ...config([0, 1, 2]), variants: [{ id: 'fake', options: { bias: 1 } }] };
    const s = await runSweep(edited, { outDir: out, workers: 2, resume: true, progress, print: false, quiet: true });
    expect(s).toMatchObject({ complete: true, ran: 6, skipped: 0 });
    expect(progress.text).toContain('4 job(s) whose config changed run again; their new rows replace the old ones');
    expect(readCsv(join(out, 'results.csv'))).toHaveLength(3 * (2 + 3));
  });

  it('refuses a folder holding a sweep without resume, and with force starts afresh', async () => {
    const out = join(tmp(), 'out');
    await runSweep(config([0]), quiet({ outDir: out, workers: 1 }));
    await expect(runSweep(config([0]), quiet({ outDir: out, workers: 1 }))).rejects.toThrow(`${out}: it already holds a sweep (jobs.jsonl)`);
    const s = await runSweep(config([0]), quiet({ outDir: out, workers: 1, force: true }));
    expect(s).toMatchObject({ ran: 2, skipped: 0 });
    expect(readdirSync(dirname(out)).filter((f) => f.startsWith('out.previous-'))).toHaveLength(1);
  });
});
