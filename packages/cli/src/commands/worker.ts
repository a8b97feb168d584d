/**
 * `bam worker --queue URL`: runs the jobs of queue-mode sweeps (`bam sweep --queue URL`) on this
 * machine, on the same worker-thread pool and backend selection as a local sweep. Start one per
 * machine (docs/distributed.md). The first SIGINT/SIGTERM stops taking jobs and finishes the
 * running ones; a second exits at once (the running jobs go back to the queue after their lease).
 */
import { resolve } from 'node:path';
import { register as registerCjs } from 'tsx/cjs/api';
import { runQueueWorker, sharePackagesWithPlugins } from '@bam/eval';
import { BACKEND_NAMES } from '@bam/core';
import { defaultWorkers, ensureWritableDir, UsageError, type CommandLineSpec, type OptionSpec } from '@bam/utils';
import { defineCommand } from '../command.ts';
import { builtinSpecs, gpuPlacement } from '../placement.ts';

const spec = {
  command: 'bam worker',
  options: {
    queue: { kind: 'string', arg: 'URL', required: true, help: 'the Redis the coordinator uses: redis://HOST:PORT[/DB]' },
    workers: { kind: 'int', min: 1, defaultText: 'one per core', help: 'worker threads (jobs run at once)' },
    gpus: { kind: 'flag', help: 'one worker thread per GPU, each pinned to its adapter (the webgpu backend)' },
    backend: { kind: 'string', arg: 'B', choices: BACKEND_NAMES, defaultText: 'best available', help: `TF.js backend of every thread: ${BACKEND_NAMES.join(' | ')}` },
    'max-jobs': { kind: 'int', min: 1, defaultText: 'no limit', help: 'take at most N jobs, then stop (batch clusters)' },
    'idle-exit': { kind: 'number', min: 0, arg: 'S', defaultText: 'never', help: 'stop after S seconds with no job to run' },
    artifacts: { kind: 'string', arg: 'DIR', defaultText: "the coordinator's path", help: 'the shared artifact store as mounted on this machine' },
    lease: { kind: 'number', min: 1, arg: 'S', default: 30, help: "a job's lock lease: a dead worker's job is run elsewhere about S seconds later" },
    quiet: { kind: 'flag', help: 'no progress lines, no plugin logs' },
  },
} as const satisfies CommandLineSpec<Record<string, OptionSpec>>;

export const command = defineCommand({
  name: 'worker',
  summary: 'run the jobs of queue-mode sweeps (bam sweep --queue) on this machine',
  spec,
  usage: {
    usage: 'bam worker --queue URL [--workers N | --gpus] [--backend B] [--max-jobs N] [--idle-exit S] [--artifacts DIR] [--lease S] [--quiet]',
    description: `Takes jobs from the BullMQ queue in Redis at URL and runs them on a pool of worker threads,
as bam sweep does locally; the coordinating bam sweep --queue URL writes the results. Start one
per machine; all must see the artifact store (a shared folder, --artifacts where it is mounted
elsewhere) and the sweep config's plugin files. A job that fails is retried with backoff and, after
its attempts, is a failed row; the job of a worker that dies is run elsewhere after its lease.

Exit code: 0 when stopped (SIGINT/SIGTERM finishes running jobs first, a second one exits at
once; --max-jobs; --idle-exit), 2 for a bad command line or an unreachable queue.`,
    epilogue: 'example: bam worker --queue redis://10.0.0.5:6379/0 --workers 8 --idle-exit 300',
  },
  async run({ values }) {
    if (values.gpus && values.workers !== undefined) throw new UsageError(spec.command, '--gpus places one thread per GPU; give --workers N or --gpus, not both');
    if (values.gpus && values.backend && values.backend !== 'webgpu') throw new UsageError(spec.command, `--gpus runs on the webgpu backend, not --backend ${values.backend}`);
    if (values.artifacts !== undefined) ensureWritableDir(values.artifacts, '--artifacts');
    const backend = values.gpus ? 'webgpu' : values.backend;
    // Worker threads copy this environment when they start; variant setups read BAM_BACKEND.
    if (backend) process.env.BAM_BACKEND = backend;
    const placement = await gpuPlacement(process.env.BAM_BACKEND, values.workers, values.quiet, 'bam worker');
    registerCjs();
    sharePackagesWithPlugins(['@bam/core'], import.meta.url);

    const controller = new AbortController();
    const onSignal = (sig: NodeJS.Signals): void => {
      if (controller.signal.aborted) {
        process.stderr.write(`bam worker: ${sig} again; exiting now (running jobs are re-queued after their lease)\n`);
        process.exit(130);
      }
      controller.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const summary = await runQueueWorker({
        url: values.queue,
        workers: placement.workers ?? defaultWorkers(),
        workerResources: placement.workerResources,
        maxJobs: values['max-jobs'],
        idleExitS: values['idle-exit'],
        artifactsDir: values.artifacts === undefined ? undefined : resolve(values.artifacts),
        leaseS: values.lease,
        builtinSpecs: await builtinSpecs('bam worker'),
        quiet: values.quiet,
        signal: controller.signal,
        log: (line) => values.quiet || process.stderr.write(`[bam worker] ${line}\n`),
      });
      if (!values.quiet) process.stderr.write(`[bam worker] ${summary.name} stopped (${summary.reason}): ${summary.completed} job(s) done, ${summary.failed} failed\n`);
      return 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
});
