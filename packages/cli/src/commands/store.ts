/**
 * `bam store verify|gc ARTIFACTS`: checks every artifact of an artifacts directory (the --out of
 * `bam upcycle`) against its DONE.json, or prunes what no run will use: unfinished and damaged
 * artifacts, copies moved aside as damaged, stale build locks and stray files. The checks are the
 * store's own (packages/upcycle/src/store.ts), the same a run makes before reusing an artifact.
 */
import { gcStore, scanStore, type StoreEntry } from '@bam/upcycle';
import { UsageError, type CommandLineSpec, type OptionSpec } from '@bam/utils';
import { defineCommand } from '../command.ts';

const spec = {
  command: 'bam store',
  options: {
    quick: { kind: 'flag', help: 'verify: hash only files changed since DONE.json was written (what a run checks)' },
    yes: { kind: 'flag', help: 'gc: delete what it lists (without it, gc deletes nothing)' },
    verify: { kind: 'flag', help: 'gc: hash every file to find damaged artifacts (without it: sizes and changed files)' },
    json: { kind: 'flag', help: 'print the entries as JSON' },
  },
  positionals: { name: 'ACTION ARTIFACTS', help: "'verify ARTIFACTS' or 'gc ARTIFACTS'", min: 0, max: 2 },
} as const satisfies CommandLineSpec<Record<string, OptionSpec>>;

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

function describe(e: StoreEntry): string {
  const what = e.kind === 'artifact' ? `${e.status} artifact` : e.kind === 'damaged-aside' ? 'moved aside as damaged' : e.kind === 'lock' ? 'stale lock' : 'stray file';
  return `${e.path}  (${what}${e.reason ? `: ${e.reason}` : ''}, ${size(e.bytes)})`;
}

export const command = defineCommand({
  name: 'store',
  summary: 'verify an artifacts directory against its DONE.json records, or prune what no run will use',
  spec,
  usage: {
    usage: `bam store verify ARTIFACTS [--quick] [--json]
       bam store gc ARTIFACTS [--yes] [--verify] [--json]`,
    description: `verify  checks every artifact: DONE.json present and for its folder, the checkpoint's content
        hash the one DONE.json records, every output file there with its recorded size and
        sha256. Prints each artifact as ok, damaged (and why), unfinished (an interrupted build,
        resumable) or building (its lock held by a live process); exits 1 if any is damaged.
gc      lists what no run will use, with the space it takes: unfinished and damaged artifacts,
        folders moved aside as <hash>.damaged-<time>, stale locks, stray files. Deletes nothing
        unless --yes. Artifacts being built (lock held by a live process) are kept.

example: bam store verify artifacts && bam store gc artifacts --yes`,
  },
  async run({ values, positionals }) {
    const [action, dir] = positionals;
    if ((action !== 'verify' && action !== 'gc') || !dir) {
      throw new UsageError(spec.command, `expected 'verify ARTIFACTS' or 'gc ARTIFACTS', got '${positionals.join(' ')}'`);
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
});
