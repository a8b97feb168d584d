/**
 * `bam` — the command line. Finds every command in `./commands/`, prints help, dispatches,
 * and turns a BamError into its message and hint (exit 2) instead of a stack trace.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Command } from './command.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** Loads every command module in `commands/`, sorted by name. */
export async function loadCommands(): Promise<Command[]> {
  const dir = join(here, 'commands');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  const cmds: Command[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(dir, f)).href)) as { command?: Command };
    if (mod.command) cmds.push(mod.command);
  }
  return cmds.sort((a, b) => a.name.localeCompare(b.name));
}

function help(cmds: Command[]): string {
  const w = Math.max(...cmds.map((c) => c.name.length), 4);
  return [
    'bam — upcycle dense language models into mixtures of experts, and measure them',
    '',
    'usage: bam <command> [options]     (bam <command> --help for its options)',
    '',
    'commands:',
    ...cmds.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
  ].join('\n');
}

/** Runs the CLI on `argv` (without `node` and the script); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const cmds = await loadCommands();
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help(cmds));
    return name ? 0 : 1;
  }
  const cmd = cmds.find((c) => c.name === name);
  if (!cmd) {
    console.error(`bam: unknown command '${name}'. Known commands: ${cmds.map((c) => c.name).join(', ')}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.usage);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    const e = err as Error & { code?: string };
    if (typeof e?.code === 'string' && e.code.startsWith('E_')) {
      console.error(`bam ${name}: ${e.message}`);
      return 2;
    }
    throw err;
  }
}

const isEntry = process.argv[1] && /bam(\.mjs)?$|main\.ts$/.test(process.argv[1]);
if (isEntry) {
  process.exitCode = await main(process.argv.slice(2));
}
