/**
 * `bam new-task NAME`: starts a custom task in its own folder — the README's example task (ready
 * to edit), the `package.json` that makes it an ES module, and a sweep config that runs it on a
 * dense model — and prints the command that runs it. Nothing needs installing in that folder:
 * `bam sweep` lets plugin files import @bam/eval, zod and @bam/core as bam runs them.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { SweepConfigError, TASK_ID, exampleTaskSource } from '@bam/eval';
import { ensureWritableDir, UsageError, writeFileAtomic, type CommandLineSpec, type OptionSpec } from '@bam/utils';
import { defineCommand } from '../command.ts';
import { bamInvocation } from '../invocation.ts';

const spec = {
  command: 'bam new-task',
  options: {
    dir: { kind: 'string', arg: 'DIR', defaultText: './NAME', help: 'folder to write into (created if missing)' },
    preset: {
      kind: 'string',
      arg: 'P',
      default: 'tiny',
      help: "upcycle preset of the dense seed in sweep.json (tiny: the main job's seed, so a sweep\nrun from the repository root reuses its checkpoint; smoke builds one in seconds)",
    },
    force: { kind: 'flag', help: 'overwrite NAME.ts, package.json and sweep.json if they exist' },
  },
  positionals: { name: 'NAME', help: 'the task id, e.g. bam new-task my-task', min: 1, max: 1 },
} as const satisfies CommandLineSpec<Record<string, OptionSpec>>;

/** The sweep config that runs task `id` (file `id`.ts beside it) on the dense seed of `preset`. */
export function newTaskSweepConfig(id: string, preset: string): object {
  return {
    name: id,
    description: `Task ${id} (${id}.ts) on the dense seed of the ${preset} preset. Add variants (btx, bam-full, ...) to compare them; raise or drop "limit" for more documents.`,
    seeds: [0],
    plugins: [`./${id}.ts`],
    variants: [{ id: 'dense', name: 'seed', options: { preset, model: 'seed' } }],
    tasks: [{ id, options: { n: 50 }, limit: 20 }],
    outDir: './results',
  };
}

export const command = defineCommand({
  name: 'new-task',
  summary: 'write a ready-to-edit custom task, with a sweep config that runs it',
  spec,
  usage: {
    usage: 'bam new-task NAME [--dir DIR] [--preset P] [--force]',
    description: `Writes a custom task you can edit and run at once, in DIR (default: ./NAME):
  NAME.ts        the README's example task (four-way arithmetic choice), with id NAME
  package.json   { "type": "module" }, so NAME.ts loads as an ES module
  sweep.json     runs NAME on the dense seed of preset P (first 20 documents; results in DIR/results)
and prints the bam sweep command that runs it. NAME.ts may import @bam/eval, zod and @bam/core
without installing anything in DIR.

Exit code 0, or 2 for a bad NAME or when a file exists (without --force).`,
  },
  async run({ values, positionals }) {
    const name = positionals[0];
    if (!TASK_ID.test(name)) throw new UsageError(spec.command, `NAME: '${name}' is not a task id: use lower-case letters, digits and '-', starting with a letter`);
    const dir = resolve(values.dir ?? name);
    ensureWritableDir(dir, '--dir');
    const files: Array<[string, string]> = [
      [`${name}.ts`, exampleTaskSource(name)],
      ['package.json', `${JSON.stringify({ name, private: true, type: 'module' }, null, 2)}\n`],
      ['sweep.json', `${JSON.stringify(newTaskSweepConfig(name, values.preset), null, 2)}\n`],
    ];
    const taken = files.map(([f]) => join(dir, f)).filter((p) => existsSync(p));
    if (taken.length > 0 && !values.force) {
      throw new SweepConfigError('bam new-task', taken.map((p) => ({ path: p, message: 'exists' })), 'choose another NAME or --dir, or pass --force to overwrite');
    }
    mkdirSync(dir, { recursive: true });
    for (const [f, text] of files) writeFileAtomic(join(dir, f), text);

    const config = relative(process.cwd(), join(dir, 'sweep.json')) || 'sweep.json';
    console.log(
      [
        `wrote ${join(dir, `${name}.ts`)} (edit it), package.json and sweep.json`,
        'run it with:',
        `  ${bamInvocation()} sweep --config ${config}`,
        `results: ${join(dir, 'results')} (results.csv, table_<metric>.csv, report.html)`,
      ].join('\n'),
    );
    return 0;
  },
});
