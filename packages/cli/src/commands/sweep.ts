/**
 * `bam sweep`: runs a sweep config (variants × tasks × seeds) on a worker pool and writes
 * results.csv, docs.jsonl, jobs.jsonl and one wide table per headline metric. Loads the built-in
 * plugins of @bam/plugins when that package exports `builtinPlugins`, then the config's own
 * `plugins` (file paths relative to the config, or package names).
 */
import { register as registerCjs } from 'tsx/cjs/api';
import { runSweepFile, sharePackagesWithPlugins, sweepNextSteps } from '@bam/eval';
import { BACKEND_NAMES } from '@bam/core';
import { ensureWritableDir, type CommandLineSpec, type OptionSpec } from '@bam/utils';
import { defineCommand } from '../command.ts';
import { bamInvocation } from '../invocation.ts';
import { builtinSpecs, gpuPlacement } from '../placement.ts';

const spec = {
  command: 'bam sweep',
  options: {
    config: { kind: 'string', arg: 'FILE', required: true, help: 'sweep config (JSON); relative paths in it resolve against its folder' },
    out: { kind: 'string', arg: 'DIR', defaultText: 'the config\'s "outDir"', help: 'results folder' },
    workers: { kind: 'int', min: 1, defaultText: 'the config\'s "workers", else one per core', help: 'worker threads' },
    resume: { kind: 'flag', help: 'continue the sweep in DIR: run only jobs without an ok result\n(failed jobs run again); ends with the same results.csv' },
    force: { kind: 'flag', help: 'DIR holds rows this config lacks (another sweep), or any results\nwithout --resume: move them to DIR.previous-<time>/ and start afresh' },
    wait: { kind: 'flag', help: 'another sweep is running in DIR: wait for it instead of refusing' },
    'max-jobs': { kind: 'int', min: 1, defaultText: 'all', help: 'start at most N jobs in this run, then stop (resume later)' },
    quiet: { kind: 'flag', help: 'no progress lines, no plugin logs' },
    queue: { kind: 'string', arg: 'URL', defaultText: 'run here', help: 'queue mode: hand the jobs to `bam worker`s through Redis at\nredis://HOST:PORT[/DB]; results are still written here (docs/distributed.md)' },
    attempts: { kind: 'int', min: 1, default: 3, help: 'queue mode: attempts per job before it is a failed row' },
    backend: {
      kind: 'string',
      arg: 'B',
      choices: BACKEND_NAMES,
      defaultText: 'best available',
      help: `TF.js backend of every worker: ${BACKEND_NAMES.join(' | ')} (sets BAM_BACKEND).\nwebgpu runs one worker per GPU, each pinned to its adapter; software adapters\nonly with BAM_WEBGPU_ALLOW_SOFTWARE=1 (docs/gpu.md)`,
    },
  },
} as const satisfies CommandLineSpec<Record<string, OptionSpec>>;

export const command = defineCommand({
  name: 'sweep',
  summary: 'run variants × tasks × seeds on a worker pool; write results.csv and per-metric tables',
  spec,
  usage: {
    usage: 'bam sweep --config FILE [--out DIR] [--workers N] [--resume] [--force] [--wait] [--max-jobs N] [--backend B] [--queue URL [--attempts N]] [--quiet]',
    description: `Runs every job of the sweep config FILE (variants × tasks × seeds, × budgets for variants that
use them) on a pool of worker threads and writes to DIR (default: the config's "outDir"):
  results.csv          one row per variant × task × metric × seed, with stderr, n, status, ...
  table_<metric>.csv   variants × tasks (+ average) for each headline metric, each with its stderr
  compare_<metric>.csv every variant against compare.baseline, paired (see bam compare --help)
  docs.jsonl           per-document scores (re-aggregate without re-running models)
  jobs.jsonl           journal of finished jobs; sweep.json the job plan

Exit code: 0 when every job finished ok (or --max-jobs stopped early), 1 when some job
failed (its rows say why), 2 for a bad command line or config, 130 when interrupted (Ctrl-C;
finished jobs are kept, so --resume continues).`,
  },
  async run({ values }) {
    const { workers } = values;
    const maxJobs = values['max-jobs'];
    if (values.out !== undefined) ensureWritableDir(values.out, '--out');
    // Worker threads copy this environment when they start; variant setups read BAM_BACKEND.
    if (values.backend) process.env.BAM_BACKEND = values.backend;
    const placement = await gpuPlacement(process.env.BAM_BACKEND, workers, values.quiet);

    // Plugin files in CommonJS packages need tsx's require hook too (bin/bam.mjs registers the ESM one).
    registerCjs();
    // Variant files anywhere on disk import @bam/core as bam runs it, with nothing installed beside them.
    sharePackagesWithPlugins(['@bam/core'], import.meta.url);
    const controller = new AbortController();
    const onSigint = (): void => {
      process.stderr.write('bam sweep: interrupted; stopping (finished jobs are kept, --resume continues)\n');
      controller.abort();
    };
    process.once('SIGINT', onSigint);
    try {
      const summary = await runSweepFile(values.config, {
        outDir: values.out,
        ...placement,
        resume: values.resume,
        force: values.force,
        wait: values.wait,
        maxJobs,
        pluginSpecs: await builtinSpecs(),
        signal: controller.signal,
        progress: values.quiet ? false : process.stderr,
        quiet: values.quiet,
        ...(values.queue === undefined ? {} : { queue: values.queue, attempts: values.attempts }),
      });
      if (controller.signal.aborted) return 130;
      if (!values.quiet) process.stdout.write(`\n${sweepNextSteps({ outDir: summary.outDir, configPath: values.config, rows: summary.rows, bam: bamInvocation() })}\n`);
      return summary.failed > 0 ? 1 : 0;
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
});
