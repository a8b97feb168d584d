/**
 * Before/after of a whole training step across commits: `train()` tokens/s and tokens per
 * CPU-second of this checkout and of another one (e.g. an older commit unpacked with
 * `git archive <commit> | tar -x -C DIR`, with a node_modules whose @bam/* links point into DIR),
 * measured in alternating fresh processes (lib/train-once.ts, copied into the other checkout).
 *
 *   npx tsx benchmarks/compare-trees.ts --other DIR [--label-other before] [--variants dense,bam-full]
 *       [--rounds 3] [--steps 8] [--preset tiny]
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BamError } from '@bam/core';
import { BENCH_OPTIONS, benchmarkArgs, machineInfo, machineLine, markdownTable, median, parseVariants, spread } from './lib/common.ts';

const { values, variants } = benchmarkArgs(
  'compare-trees.ts',
  "Before/after of a whole training step: this checkout against another one, train() tokens/s and tokens per CPU-second in alternating fresh processes.",
  {
    other: { kind: 'string', arg: 'DIR', required: true, help: 'the other bam checkout (git archive <commit> | tar -x -C DIR, node_modules linked; see benchmarks/README.md)' },
    'label-other': { kind: 'string', arg: 'LABEL', default: 'other', help: "the other checkout's name in the tables" },
    variants: { ...BENCH_OPTIONS.variants, default: 'dense,bam-full' },
    rounds: BENCH_OPTIONS.rounds,
    steps: { ...BENCH_OPTIONS.steps, default: 8, help: 'training steps per run (after a 2-step warm-up)' },
    preset: BENCH_OPTIONS.preset,
  },
  (v) => {
    if (!existsSync(join(v.other, 'packages/core/src/index.ts'))) {
      throw new BamError(`--other must name a bam checkout (got '${v.other}')`, 'E_BENCH', 'unpack a commit with git archive <commit> | tar -x -C DIR and link its node_modules (see benchmarks/README.md)');
    }
    return { values: v, variants: parseVariants(v.variants) };
  },
);
const here = fileURLToPath(new URL('..', import.meta.url));
const script = 'benchmarks/lib/train-once.ts';
mkdirSync(join(values.other, 'benchmarks/lib'), { recursive: true });
copyFileSync(join(here, script), join(values.other, script));
const trees: Array<[string, string]> = [['this checkout', here], [values['label-other'], values.other]];
const { rounds } = values;
const m0 = machineInfo();
console.error(machineLine(m0));
const res = new Map<string, Array<{ tps: number; perCpu: number }>>();
for (let r = 0; r < rounds; r++) {
  for (const v of variants) {
    for (const [label, dir] of trees) {
      const p = spawnSync('npx', ['tsx', script, values.preset, v, String(values.steps), '8'], { cwd: dir, encoding: 'utf8' });
      const line = p.stdout.trim().split('\n').pop() ?? '';
      if (p.status !== 0 || !line.startsWith('{')) throw new BamError(`train-once failed in ${dir}: ${p.stderr.slice(-1500)}`, 'E_BENCH');
      const x = JSON.parse(line) as { tps: number; perCpu: number };
      res.set(`${v}|${label}`, [...(res.get(`${v}|${label}`) ?? []), x]);
      console.error(`round ${r + 1}/${rounds} ${v.padEnd(14)} ${label.padEnd(14)} ${Math.round(x.tps)} tokens/s, ${Math.round(x.perCpu)} tokens/CPU-s`);
    }
  }
}
const m1 = machineInfo();
console.log(`\n${machineLine(m0)} (end: ${m1.loadAverage.join(' / ')})`);
console.log(`preset ${values.preset}, batch 8, ${values.steps} steps per run, ${rounds} rounds, alternating processes\n`);
const [a, b] = trees.map(([l]) => l);
console.log(
  markdownTable(
    ['variant', `${b} tokens/s`, `${a} tokens/s`, 'speed-up', `${b} tokens/CPU-s`, `${a} tokens/CPU-s`, 'per CPU-s'],
    variants.map((v) => {
      const [x, y] = [res.get(`${v}|${b}`)!, res.get(`${v}|${a}`)!];
      return [
        v,
        spread(x.map((r) => r.tps)),
        spread(y.map((r) => r.tps)),
        `${(median(y.map((r) => r.tps)) / median(x.map((r) => r.tps))).toFixed(2)}×`,
        spread(x.map((r) => r.perCpu)),
        spread(y.map((r) => r.perCpu)),
        `${(median(y.map((r) => r.perCpu)) / median(x.map((r) => r.perCpu))).toFixed(2)}×`,
      ];
    }),
  ),
);
