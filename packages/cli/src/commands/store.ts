/**
 * `bam store verify|gc ARTIFACTS`: checks every artifact of an artifacts directory (the --out of
 * `bam upcycle`) against its DONE.json, or prunes what no run will use: unfinished and damaged
 * artifacts, copies moved aside as damaged, stale build locks and stray files. The checks are the
 * store's own (packages/upcycle/src/store.ts), the same a run makes before reusing an artifact.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '@bam/core';
import { gcStore, scanStore, type StoreEntry } from '@bam/upcycle';
import type { Command } from '../command.ts';

const usage = `usage: bam store verify ARTIFACTS [--quick] [--json]
       bam store gc ARTIFACTS [--yes] [--verify] [--json]

verify  checks every artifact: DONE.json present and for its folder, the checkpoint's content
        hash the one DONE.json records, every output file there with its recorded size and
        sha256. Prints each artifact as ok, damaged (and why), unfinished (an interrupted build,
        resumable) or building (its lock held by a live process); exits 1 if any is damaged.
          --quick   hash only files changed since DONE.json was written (what a run checks)
gc      lists what no run will use, with the space it takes: unfinished and damaged artifacts,
        folders moved aside as <hash>.damaged-<time>, stale locks, stray files. Deletes nothing
        unless --yes. Artifacts being built (lock held by a live process) are kept.
          --yes     delete them
          --verify  hash every file to find damaged artifacts (default: sizes and changed files)
  --json  print the entries as JSON

example: bam store verify artifacts && bam store gc artifacts --yes`;

/** 1536 → "1.5 KiB" */
function size(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: { quick: { type: 'boolean', default: false }, yes: { type: 'boolean', default: false }, verify: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
    });
  } catch (err) {
    throw new ConfigError('bam store arguments', [{ path: '(arguments)', message: (err as Error).message }], 'see bam store --help');
  }
}

function describe(e: StoreEntry): string {
  const what = e.kind === 'artifact' ? `${e.status} artifact` : e.kind === 'damaged-aside' ? 'moved aside as damaged' : e.kind === 'lock' ? 'stale lock' : 'stray file';
  return `${e.path}  (${what}${e.reason ? `: ${e.reason}` : ''}, ${size(e.bytes)})`;
}

export const command: Command = {
  name: 'store',
  summary: 'verify an artifacts directory against its DONE.json records, or prune what no run will use',
  usage,
  async run(argv) {
    const { values, positionals } = parse(argv);
    const [action, dir, ...extra] = positionals;
    if ((action !== 'verify' && action !== 'gc') || !dir || extra.length > 0) {
      throw new ConfigError('bam store arguments', [{ path: '(arguments)', message: `expected 'verify ARTIFACTS' or 'gc ARTIFACTS', got '${positionals.join(' ')}'` }], 'see bam store --help');
    }
    if (action === 'verify') {
      const artifacts = scanStore(dir, { full: !values.quick }).filter((e) => e.kind === 'artifact');
      const damaged = artifacts.filter((e) => e.status === 'damaged').length;
      if (values.json) {
        console.log(JSON.stringify(artifacts, null, 2));
      } else {
        for (const e of artifacts) console.log(`${(e.status ?? '').padEnd(10)} ${e.path}${e.reason ? `  ${e.reason}` : ''}`);
        const counts = ['ok', 'damaged', 'unfinished', 'building'].map((s) => `${artifacts.filter((e) => e.status === s).length} ${s}`);
        console.log(`${artifacts.length} artifacts: ${counts.join(', ')}${damaged ? `; a run moves damaged ones aside and rebuilds them, or: bam store gc ${dir} --yes` : ''}`);
      }
      return damaged > 0 ? 1 : 0;
    }
    const gone = gcStore(dir, { full: values.verify, dryRun: !values.yes });
    const total = gone.reduce((s, e) => s + e.bytes, 0);
    if (values.json) {
      console.log(JSON.stringify({ deleted: values.yes, bytes: total, entries: gone }, null, 2));
    } else {
      for (const e of gone) console.log(`${values.yes ? 'deleted' : 'would delete'} ${describe(e)}`);
      console.log(
        gone.length === 0
          ? 'nothing to delete'
          : values.yes
            ? `freed ${size(total)} (${gone.length} entries)`
            : `would free ${size(total)} (${gone.length} entries); run again with --yes to delete them`,
      );
    }
    return 0;
  },
};
