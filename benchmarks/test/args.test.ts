/**
 * The benchmarks' command lines (lib/common.ts `benchmarkArgs` over @bam/utils' `parseCommandLine`):
 * documented command lines parse to the documented values, `--help` lists the defaults, and a bad
 * option ends the script with one line and exit code 2 before any measuring.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BENCH_OPTIONS, benchmarkArgs, intList, parseVariants } from '../lib/common.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs a benchmark script with `args` (only for command lines that stop before measuring). */
function script(name: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', `benchmarks/${name}`, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const TRAIN_LIKE = {
  preset: BENCH_OPTIONS.preset,
  variants: BENCH_OPTIONS.variants,
  rounds: BENCH_OPTIONS.rounds,
  steps: BENCH_OPTIONS.steps,
  workers: { ...BENCH_OPTIONS.workers, default: '1,2' },
  'no-peer': { kind: 'flag', help: 'leave out the PyTorch peer' },
  json: BENCH_OPTIONS.json,
} as const;

describe('benchmark command lines', () => {
  it('a documented command line parses to its values, with the shared defaults for the rest', () => {
    const argv = ['--variants', 'dense,bam-full', '--rounds', '5', '--no-peer', '--workers', '1,2,4'];
    const parsed = benchmarkArgs('train.ts', 'test', TRAIN_LIKE, (v) => ({ ...v, variantList: parseVariants(v.variants), workerList: intList(v.workers, 'workers') }), argv);
    expect(parsed).toEqual({
      preset: 'tiny',
      variants: 'dense,bam-full',
      rounds: 5,
      steps: 10,
      workers: '1,2,4',
      'no-peer': true,
      json: false,
      variantList: ['dense', 'bam-full'],
      workerList: [1, 2, 4],
    });
  });

  it('a script override of a shared default replaces only that default', () => {
    const parsed = benchmarkArgs('x.ts', 'test', { rounds: { ...BENCH_OPTIONS.rounds, default: 5 }, steps: BENCH_OPTIONS.steps }, undefined, []);
    expect(parsed).toEqual({ rounds: 5, steps: 10 });
  });

  it('--help lists every option with its default and exits 0', () => {
    const r = script('blocks.ts', ['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('usage: npx tsx benchmarks/blocks.ts [options]');
    expect(r.stdout).toMatch(/--variants LIST .*\(default: dense,bam-full\)/);
    expect(r.stdout).toMatch(/--rounds N .*\(default: 3\)/);
    expect(r.stdout).toMatch(/--json +print one JSON line/);
  });

  it('an unknown option is one line naming the nearest option, with exit code 2', () => {
    const r = script('blocks.ts', ['--round', '2']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^blocks\.ts: unknown option '--round'; did you mean --rounds\?/)]);
  });

  it('a non-decimal integer and an unknown variant are one-line errors, not stack traces', () => {
    const rounds = script('generate.ts', ['--runs', '1e3']);
    expect(rounds.status).toBe(2);
    expect(rounds.stderr.trim()).toBe("generate.ts: --runs must be a whole number >= 1 written in digits, got '1e3' (see npx tsx benchmarks/generate.ts --help)");
    const variant = script('profile.ts', ['--variants', 'dense,bam']);
    expect(variant.status).toBe(2);
    expect(variant.stderr.trim()).toBe("profile.ts: unknown variant 'bam' — use some of: dense, btx, bam-full, bam-kv-shared");
  });
});
