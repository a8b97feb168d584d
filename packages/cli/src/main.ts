/**
 * `bam` — the command line. Dispatches to the commands of the table below, prints help and the
 * version, and turns every error into one line: a bam error (a `code` starting with `E_`) or an
 * unusable path exits 2; anything else is a bug in bam, shown with its stack only when BAM_DEBUG=1.
 */
import { readFileSync } from 'node:fs';
import { fileSystemErrorLine } from '@bam/utils';
import type { Command } from './command.ts';

type CommandModule = { command: Command };

/** Every command: its name and the module that defines it (loaded only when needed). */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  branch: () => import('./commands/branch.ts'),
  compare: () => import('./commands/compare.ts'),
  data: () => import('./commands/data.ts'),
  experts: () => import('./commands/experts.ts'),
  export: () => import('./commands/export.ts'),
  flops: () => import('./commands/flops.ts'),
  import: () => import('./commands/import.ts'),
  inspect: () => import('./commands/inspect.ts'),
  mix: () => import('./commands/mix.ts'),
  'new-task': () => import('./commands/new-task.ts'),
  queue: () => import('./commands/queue.ts'),
  report: () => import('./commands/report.ts'),
  seed: () => import('./commands/seed.ts'),
  store: () => import('./commands/store.ts'),
  sweep: () => import('./commands/sweep.ts'),
  train: () => import('./commands/train.ts'),
  'train-mixture': () => import('./commands/train-mixture.ts'),
  upcycle: () => import('./commands/upcycle.ts'),
  worker: () => import('./commands/worker.ts'),
};

/** bam's version (the CLI package's). */
export const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

/** Loads every command, sorted by name. */
export async function loadCommands(): Promise<Command[]> {
  const names = Object.keys(COMMANDS).sort();
  return Promise.all(names.map(async (n) => (await COMMANDS[n]()).command));
}

function help(cmds: Command[]): string {
  const w = Math.max(...cmds.map((c) => c.name.length), 4);
  return [
    'bam — upcycle dense language models into mixtures of experts, and measure them',
    '',
    'usage: bam <command> [options]     (bam <command> --help for its options and defaults)',
    '       bam --version',
    '',
    'commands:',
    ...cmds.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
  ].join('\n');
}

/** The error as bam prints it, and the exit code: 2 for the user's errors, 1 for bam's bugs. */
export function describeError(prefix: string, err: unknown): { text: string; code: number } {
  const e = err as Error & { code?: unknown; hint?: unknown };
  if (typeof e?.code === 'string' && e.code.startsWith('E_') && e.code !== 'E_INVARIANT') {
    // A one-line message keeps its hint on the same line; a list of issues keeps its layout.
    const hint = typeof e.hint === 'string' ? e.hint : undefined;
    const suffix = hint ? `\n  hint: ${hint}` : '';
    const base = suffix && e.message.endsWith(suffix) ? e.message.slice(0, -suffix.length) : e.message;
    return { text: `${prefix}: ${!base.includes('\n') && hint ? `${base} — ${hint}` : e.message}`, code: 2 };
  }
  const fsLine = fileSystemErrorLine(err);
  if (fsLine) return { text: `${prefix}: ${fsLine}`, code: 2 };
  const first = (e instanceof Error ? e.message : String(err)).split('\n')[0];
  const stack = process.env.BAM_DEBUG === '1' && e instanceof Error && e.stack ? `\n${e.stack}` : '';
  return {
    text: `${prefix}: ${first} — this is a bug in bam; please report it with the command you ran (BAM_DEBUG=1 shows the stack)${stack}`,
    code: 1,
  };
}

/** Runs the CLI on `argv` (without `node` and the script); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v' || name === 'version') {
    console.log(`bam ${VERSION} (node ${process.version})`);
    return 0;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help(await loadCommands()));
    return name ? 0 : 1;
  }
  if (!Object.hasOwn(COMMANDS, name)) {
    const hint = name.startsWith('-') ? 'give a command first' : 'see bam --help';
    console.error(`bam: unknown command '${name}'; commands: ${Object.keys(COMMANDS).sort().join(', ')} (${hint})`);
    return 2;
  }
  try {
    const { command } = await COMMANDS[name]();
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(command.usage);
      return 0;
    }
    return await command.run(rest);
  } catch (err) {
    const { text, code } = describeError(`bam ${name}`, err);
    console.error(text);
    return code;
  }
}

const isEntry = process.argv[1] && /bam(\.mjs)?$|main\.ts$/.test(process.argv[1]);
if (isEntry) {
  process.exitCode = await main(process.argv.slice(2));
}
