/**
 * `bam queue status --queue URL`: where the queue-mode sweeps on a Redis stand, from any machine
 * that reaches it — jobs queued / running (on which worker) / done / failed, the connected workers
 * and an ETA; the same line the coordinating `bam sweep --queue` prints.
 */
import { formatQueueStatus, readQueueStatus } from '@bam/eval';
import { UsageError, type CommandLineSpec, type OptionSpec } from '@bam/utils';
import { defineCommand } from '../command.ts';

const spec = {
  command: 'bam queue',
  options: {
    queue: { kind: 'string', arg: 'URL', required: true, help: 'the Redis of the sweep: redis://HOST:PORT[/DB]' },
    json: { kind: 'flag', help: 'print the status as JSON' },
  },
  positionals: { name: 'ACTION', help: "'status'", min: 1, max: 1 },
} as const satisfies CommandLineSpec<Record<string, OptionSpec>>;

export const command = defineCommand({
  name: 'queue',
  summary: 'show the jobs of queue-mode sweeps: queued, running (on which worker), done, failed, ETA',
  spec,
  usage: {
    usage: 'bam queue status --queue URL [--json]',
    description: `Prints the jobs on the queue at URL by state (done and failed jobs are kept a day), the
bam workers connected, each running job with its worker and for how long, and an ETA at the pace of
the last completed jobs. Exit code 2 when Redis cannot be reached at URL.`,
    epilogue: 'example: bam queue status --queue redis://10.0.0.5:6379/0',
  },
  async run({ values, positionals }) {
    if (positionals[0] !== 'status') throw new UsageError(spec.command, `unknown action '${positionals[0]}'; the one action is 'status'`);
    const status = await readQueueStatus(values.queue);
    process.stdout.write(`${values.json ? JSON.stringify(status, null, 2) : formatQueueStatus(status)}\n`);
    return 0;
  },
});
