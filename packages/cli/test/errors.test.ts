import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesHash } from '@bam/utils';
import { describeError, loadCommands } from '../src/main.ts';

// Every bad command line of issue 18 (and the checkpoint checks of issue 19), run through the real
// `bam` binary: exit 2, one line naming the option or path, no stack trace, no Node parse error,
// no minified TF.js source.

const work = mkdtempSync(join(tmpdir(), 'bam-cli-errors-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function bamAsync(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['packages/cli/bin/bam.mjs', ...args], { env: { ...process.env, BAM_BACKEND: 'wasm', BAM_DEBUG: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs every command line, two at a time (the machine has two cores). */
async function runAll(lines: Record<string, string[]>): Promise<Record<string, Run>> {
  const names = Object.keys(lines);
  const out: Record<string, Run> = {};
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const name = names[next++];
      out[name] = await bamAsync(lines[name]);
    }
  };
  await Promise.all([worker(), worker()]);
  return out;
}

/** Asserts bam's one-line error: exit 2, one `bam <cmd>:` line containing `needle`, nothing raw. */
function expectOneLineError(r: Run, command: string, needle: string): void {
  const lines = r.stderr.trimEnd().split('\n');
  // The only other lines bam may print first are its own progress/backend notes.
  const errors = lines.filter((l) => l.startsWith(`bam ${command}:`));
  expect(errors, r.stderr).toHaveLength(1);
  expect(errors[0]).toContain(needle);
  expect(lines.every((l) => l.startsWith('bam ')), r.stderr).toBe(true);
  expect(r.stderr).not.toContain('    at ');
  expect(r.stderr).not.toContain('ERR_PARSE_ARGS');
  expect(r.stderr).not.toMatch(/function\(|=>\{|var [a-zA-Z_$]+=/);
  expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(600);
  expect(r.code, r.stderr).toBe(2);
}

const file = join(work, 'a-file');
const folder = join(work, 'a-folder');
const ckpt = join(work, 'dense', 'step-00000002');

/** A copy of the trained checkpoint, changed by `edit`. */
function variantOf(name: string, edit: (dir: string) => void): string {
  const dir = join(work, name);
  cpSync(ckpt, dir, { recursive: true });
  edit(dir);
  return dir;
}

/** Rewrites checkpoint.json's record of model.safetensors after its bytes changed, so only the new check can catch it. */
function rehash(dir: string): void {
  const manifestPath = join(dir, 'checkpoint.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const hash = bytesHash(readFileSync(join(dir, 'model.safetensors')));
  manifest.files['model.safetensors'].sha256 = hash;
  manifest.contentHash = hash;
  writeFileSync(manifestPath, JSON.stringify(manifest));
}

let nanTensor = '';
let results: Record<string, Run> = {};

beforeAll(async () => {
  writeFileSync(file, 'not a folder');
  mkdirSync(folder);
  const trained = spawnSync(
    process.execPath,
    ['packages/cli/bin/bam.mjs', 'train', '--preset', 'smoke', '--domain', 'law', '--out', join(work, 'dense'), '--steps', '2', '--batch-size', '2', '--seq-len', '16', '--json'],
    { encoding: 'utf8', env: { ...process.env, BAM_BACKEND: 'wasm' } },
  );
  expect(trained.status, trained.stderr).toBe(0);

  const folderWeights = variantOf('eisdir', (dir) => {
    rmSync(join(dir, 'model.safetensors'));
    mkdirSync(join(dir, 'model.safetensors'));
  });
  const trainEisdir = join(work, 'train-eisdir');
  mkdirSync(trainEisdir);
  cpSync(folderWeights, join(trainEisdir, 'step-00000002'), { recursive: true });
  const bigTokenizer = variantOf('tokenizer-4096', (dir) => {
    const manifestPath = join(dir, 'checkpoint.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    manifest.tokenizer = { id: 'gpt2-trunc-4096', vocabSize: 4096 };
    writeFileSync(manifestPath, JSON.stringify(manifest));
  });
  const nanWeights = variantOf('nan', (dir) => {
    // safetensors: an 8-byte little-endian header length, the JSON header, then the tensor bytes.
    const path = join(dir, 'model.safetensors');
    const bytes = readFileSync(path);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
    const [name, entry] = Object.entries(header).find(([k, t]) => k !== '__metadata__' && t.dtype === 'F32')!;
    nanTensor = name;
    bytes.writeFloatLE(Number.NaN, 8 + headerLength + entry.data_offsets[0] + 4);
    writeFileSync(path, bytes);
    rehash(dir);
  });

  results = await runAll({
    // Argument parsing (the eight cases, and an unknown option for every command).
    ...Object.fromEntries(
      ['train', 'upcycle', 'seed', 'branch', 'experts', 'mix', 'train-mixture', 'sweep', 'data', 'flops', 'inspect', 'report', 'compare', 'import', 'export', 'new-task', 'store', 'worker', 'queue'].map((c) => [`foo:${c}`, [c, '--foo']]),
    ),
    shortW: ['sweep', '-w', '2'],
    configNoValue: ['sweep', '--config'],
    quietYes: ['sweep', '--config', 'x.json', '--quiet=yes'],
    workersNegative: ['upcycle', '--preset', 'smoke', '--out', join(work, 'u'), '--workers', '-1'],
    maxJobsNegative: ['sweep', '--config', 'x.json', '--max-jobs', '-3'],
    stepsNegative: ['train', '--preset', 'smoke', '--domain', 'law', '--out', join(work, 't'), '--steps', '-1'],
    seedNegative: ['train', '--preset', 'smoke', '--domain', 'law', '--out', join(work, 't'), '--seed', '-5'],
    maxJobs1e3: ['sweep', '--config', 'x.json', '--max-jobs', '1e3'],
    waitYes: ['sweep', '--config', 'x.json', '--wait=yes'],
    exportBadFormat: ['export', ckpt, '--format', 'onnx', '--out', join(work, 'e')],
    exportNoCkpt: ['export', '--format', 'hf-llama', '--out', join(work, 'e')],
    trainInitAndPreset: ['train', '--init', ckpt, '--preset', 'smoke', '--domain', 'law', '--out', join(work, 't')],
    trainInitTokenizer: ['train', '--init', ckpt, '--tokenizer', 'byte', '--domain', 'law', '--out', join(work, 't')],
    // Unusable output paths, found before any work starts.
    trainOutSys: ['train', '--preset', 'smoke', '--domain', 'law', '--out', '/sys/bam-cannot-write'],
    trainOutUnderFile: ['train', '--preset', 'smoke', '--domain', 'law', '--out', join(file, 'out')],
    upcycleOutFile: ['upcycle', '--preset', 'smoke', '--out', file],
    seedOutSys: ['seed', '--preset', 'smoke', '--out', '/sys/bam-cannot-write'],
    sweepOutUnderFile: ['sweep', '--config', 'x.json', '--out', join(file, 'results')],
    mixOutUnderFile: ['mix', '--recipe', 'btx', '--from', `${ckpt},${ckpt}`, '--out', join(file, 'mix')],
    reportOutFolder: ['report', join(work, 'no-results'), '--out', folder],
    importOutFile: ['import', join(work, 'no-model'), '--out', file],
    exportOutFile: ['export', ckpt, '--format', 'hf-llama', '--out', file],
    storeBadAction: ['store', 'check', work],
    newTaskNoName: ['new-task'],
    // Weights that are a folder.
    inspectEisdir: ['inspect', folderWeights],
    trainEisdir: ['train', '--preset', 'smoke', '--domain', 'law', '--out', trainEisdir, '--steps', '4', '--batch-size', '2', '--seq-len', '16', '--json'],
    mixEisdir: ['mix', '--recipe', 'btx', '--from', `${folderWeights},${ckpt}`, '--out', join(work, 'm1')],
    // What loading refuses, inspect and mix refuse too.
    inspectTokenizer: ['inspect', bigTokenizer],
    inspectNan: ['inspect', nanWeights],
    mixNan: ['mix', '--recipe', 'btx', '--from', `${nanWeights},${ckpt}`, '--out', join(work, 'm2')],
    trainInitNan: ['train', '--init', nanWeights, '--domain', 'law', '--out', join(work, 't3')],
    inspectGood: ['inspect', ckpt, '--json'],
    version: ['--version'],
  });
}, 600_000);

describe('bam on bad command lines', () => {
  it('refuses an unknown option in every command, listing the valid ones', () => {
    for (const [name, r] of Object.entries(results).filter(([n]) => n.startsWith('foo:'))) {
      const command = name.slice(4);
      expectOneLineError(r, command, "unknown option '--foo'; options: --");
    }
    expect(results['foo:train'].stderr).toContain('--preset, --init, --domain, --mix, --out, --steps');
  });

  it('refuses short options, missing values, values given to flags, and bad or non-digit numbers', () => {
    expectOneLineError(results.shortW, 'sweep', "unknown option '-w'");
    expectOneLineError(results.configNoValue, 'sweep', 'option --config needs a value (--config FILE)');
    expectOneLineError(results.quietYes, 'sweep', "option --quiet takes no value, got '--quiet=yes'");
    expectOneLineError(results.workersNegative, 'upcycle', "--workers must be a whole number >= 1, got '-1'");
    expectOneLineError(results.maxJobsNegative, 'sweep', "--max-jobs must be a whole number >= 1, got '-3'");
    expectOneLineError(results.stepsNegative, 'train', "--steps must be a whole number >= 1, got '-1'");
    expectOneLineError(results.seedNegative, 'train', "--seed must be a whole number >= 0, got '-5'");
    expectOneLineError(results.maxJobs1e3, 'sweep', "--max-jobs must be a whole number >= 1 written in digits, got '1e3'");
    expectOneLineError(results.storeBadAction, 'store', `expected 'verify ARTIFACTS' or 'gc ARTIFACTS', got 'check ${work}'`);
    expectOneLineError(results.newTaskNoName, 'new-task', 'NAME: required: the task id, e.g. bam new-task my-task');
    expectOneLineError(results.waitYes, 'sweep', "option --wait takes no value, got '--wait=yes'");
    expectOneLineError(results.exportBadFormat, 'export', "--format must be one of hf-llama, hf-gpt-neox, hf-mixtral, hf-qwen2-moe, bam-hf; got 'onnx'");
    expectOneLineError(results.exportNoCkpt, 'export', 'CKPT: required: the checkpoint directory to export');
    expectOneLineError(results.trainInitAndPreset, 'train', '--preset/--init: give exactly one of --preset P or --init CKPT');
    expectOneLineError(results.trainInitTokenizer, 'train', '--tokenizer does not apply with --init');
  });

  it('names an unwritable or invalid output path and the reason before doing any work', () => {
    expectOneLineError(results.trainOutSys, 'train', '--out /sys/bam-cannot-write: not writable:');
    expectOneLineError(results.trainOutUnderFile, 'train', `--out ${join(file, 'out')}: not writable: ${file} is a file, not a folder (ENOTDIR)`);
    expectOneLineError(results.upcycleOutFile, 'upcycle', `--out ${file}: is a file, not a folder`);
    expectOneLineError(results.seedOutSys, 'seed', '--out /sys/bam-cannot-write: not writable:');
    expectOneLineError(results.sweepOutUnderFile, 'sweep', `--out ${join(file, 'results')}: not writable: ${file} is a file, not a folder (ENOTDIR)`);
    expectOneLineError(results.mixOutUnderFile, 'mix', `--out ${join(file, 'mix')}: not writable: ${file} is a file, not a folder (ENOTDIR)`);
    expectOneLineError(results.reportOutFolder, 'report', `--out ${folder}: is a folder, not a file`);
    expectOneLineError(results.importOutFile, 'import', `--out ${file}: is a file, not a folder`);
    expectOneLineError(results.exportOutFile, 'export', `--out ${file}: is a file, not a folder`);
    // Nothing started: no backend line, no training output.
    for (const r of [results.trainOutSys, results.trainOutUnderFile, results.upcycleOutFile, results.seedOutSys]) expect(r.stderr).not.toContain('bam backend:');
  });

  it('names a model.safetensors that is a folder in inspect, train and mix', () => {
    const weights = join(work, 'eisdir', 'model.safetensors');
    expectOneLineError(results.inspectEisdir, 'inspect', `checkpoint ${weights}: is a folder, not a file`);
    expectOneLineError(results.trainEisdir, 'train', `checkpoint ${join(work, 'train-eisdir', 'step-00000002', 'model.safetensors')}: is a folder, not a file`);
    expectOneLineError(results.mixEisdir, 'mix', `checkpoint ${weights}: is a folder, not a file`);
  });

  it('bam inspect runs the checks loading makes: a tokenizer larger than the vocabulary and NaN weights fail', () => {
    expectOneLineError(results.inspectTokenizer, 'inspect', "tokenizer 'gpt2-trunc-4096' has 4096 ids but the model config only 256");
    expectOneLineError(results.inspectNan, 'inspect', `checkpoint ${join(work, 'nan', 'model.safetensors')}: tensor '${nanTensor}' holds 1 non-finite value (first: NaN at index 1)`);
    const good = results.inspectGood;
    expect(good.code, good.stderr).toBe(0);
    expect(JSON.parse(good.stdout).tokenizer).toEqual({ id: 'byte-256', vocabSize: 256 });
  });

  it('bam mix refuses an expert with NaN weights before building anything', () => {
    expectOneLineError(results.mixNan, 'mix', `tensor '${nanTensor}' holds 1 non-finite value`);
    expect(results.mixNan.stderr).not.toContain('bam backend:');
  });

  it('bam train --init refuses a checkpoint with NaN weights before TF.js starts', () => {
    expectOneLineError(results.trainInitNan, 'train', `tensor '${nanTensor}' holds 1 non-finite value`);
    expect(results.trainInitNan.stderr).not.toContain('bam backend:');
  });

  it('bam --version prints the version', () => {
    expect(results.version.code).toBe(0);
    expect(results.version.stdout).toMatch(/^bam \d+\.\d+\.\d+ \(node v\d+/);
  });
});

describe('bam --help and unexpected errors', () => {
  it("every command's --help lists each option with its default, or says it is required", async () => {
    const commands = await loadCommands();
    expect(commands.map((c) => c.name)).toEqual(['branch', 'compare', 'data', 'experts', 'export', 'flops', 'import', 'inspect', 'mix', 'new-task', 'queue', 'report', 'seed', 'store', 'sweep', 'train', 'train-mixture', 'upcycle', 'worker']);
    for (const c of commands) {
      const options = c.usage.split('\noptions')[1];
      expect(options, c.name).toBeDefined();
      // Each entry: `  --name ARG  help ... (default: X)` or `(required)`; flags (`--json`) have no value and no default.
      const entries = options.split(/\n(?= {2}--)/).slice(1);
      expect(entries.length, c.name).toBeGreaterThan(0);
      for (const e of entries) {
        if (/^ {2}--[\w-]+ {2,}/.test(e)) continue;
        expect(e, `${c.name}: ${e}`).toMatch(/\((default: [^)]|required\))/);
      }
    }
  });

  it('prints an unexpected error as one line saying it is a bug, with the stack only under BAM_DEBUG=1', () => {
    const saved = process.env.BAM_DEBUG;
    try {
      delete process.env.BAM_DEBUG;
      const quiet = describeError('bam train', new TypeError("Cannot read properties of null (reading 'dispose')\nmore"));
      expect(quiet).toEqual({
        text: "bam train: Cannot read properties of null (reading 'dispose') — this is a bug in bam; please report it with the command you ran (BAM_DEBUG=1 shows the stack)",
        code: 1,
      });
      process.env.BAM_DEBUG = '1';
      expect(describeError('bam train', new TypeError('boom')).text).toMatch(/this is a bug in bam[^\n]*\nTypeError: boom\n {4}at /);
    } finally {
      if (saved === undefined) delete process.env.BAM_DEBUG;
      else process.env.BAM_DEBUG = saved;
    }
  });

  it('prints a file-system error as one line naming the path, exit code 2', () => {
    const err = Object.assign(new Error('EACCES: permission denied, open'), { code: 'EACCES', syscall: 'open', path: '/x/results.csv' });
    expect(describeError('bam sweep', err)).toEqual({ text: 'bam sweep: cannot open /x/results.csv: permission denied (EACCES)', code: 2 });
  });
});
