import { mkdtempSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureWritableDir, ensureWritableFile, fileSystemErrorLine, formatOptions, parseCommandLine, PathError, UsageError, type CommandLineSpec, type OptionSpec } from '../src/index.ts';

const spec = {
  command: 'bam demo',
  options: {
    config: { kind: 'string', arg: 'FILE', required: true, help: 'the config' },
    workers: { kind: 'int', min: 1, help: 'worker threads', defaultText: 'one per core' },
    steps: { kind: 'int', min: 1, max: 1000, default: 200, help: 'optimizer steps' },
    seed: { kind: 'int', min: 0, default: 0, help: 'seed' },
    lr: { kind: 'number', min: 0, default: 1e-3, help: 'peak learning rate' },
    backend: { kind: 'string', choices: ['wasm', 'cpu'], help: 'backend' },
    domain: { kind: 'string', multiple: true, help: 'domains' },
    quiet: { kind: 'flag', help: 'no progress' },
  },
  positionals: { name: 'DIR', help: 'a results folder', min: 0, max: 1 },
} as const satisfies CommandLineSpec<Record<string, OptionSpec>>;

function problem(argv: string[]): string {
  try {
    parseCommandLine(spec, argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).code).toBe('E_USAGE');
    expect((err as Error).message).not.toContain('\n');
    return (err as Error).message;
  }
  throw new Error(`accepted: ${argv.join(' ')}`);
}

describe('command-line parsing', () => {
  it('parses values, defaults, flags, repeated options and positionals into typed values', () => {
    const { values, positionals } = parseCommandLine(spec, ['--config', 'c.json', '--workers=3', '--lr', '3e-4', '--domain', 'law', '--domain', 'code', '--quiet', 'out', '--seed', '-0']);
    expect(values).toEqual({ config: 'c.json', workers: 3, steps: 200, seed: -0, lr: 3e-4, backend: undefined, domain: ['law', 'code'], quiet: true });
    expect(positionals).toEqual(['out']);
    const none = parseCommandLine(spec, ['--config', 'c.json']).values;
    expect([none.workers, none.quiet, none.domain]).toEqual([undefined, false, []]);
    expect(parseCommandLine(spec, ['--config', 'a', '--', '--quiet']).positionals).toEqual(['--quiet']);
  });

  it('names an unknown option or a short one, with the valid options and a near match', () => {
    expect(problem(['--config', 'c', '--foo'])).toBe("unknown option '--foo'; options: --config, --workers, --steps, --seed, --lr, --backend, --domain, --quiet (see bam demo --help)");
    expect(problem(['--config', 'c', '-w', '2'])).toMatch(/^unknown option '-w'; options: --config,/);
    expect(problem(['--config', 'c', '--worker', '2'])).toMatch(/^unknown option '--worker'; did you mean --workers\? options:/);
  });

  it('refuses a missing value, a value given to a flag, and a missing required option', () => {
    expect(problem(['--config'])).toBe('option --config needs a value (--config FILE) (see bam demo --help)');
    expect(problem(['--config', '--quiet'])).toBe('option --config needs a value (--config FILE) (see bam demo --help)');
    expect(problem(['--config', 'c', '--quiet=yes'])).toBe("option --quiet takes no value, got '--quiet=yes' (give --quiet alone to turn it on) (see bam demo --help)");
    expect(problem([])).toBe('option --config is required (--config FILE: the config) (see bam demo --help)');
    expect(problem(['--config='])).toMatch(/^option --config needs a value \(--config FILE\), got an empty one/);
  });

  it('takes integers in decimal digits only, within their range', () => {
    expect(problem(['--config', 'c', '--workers', '-1'])).toBe("--workers must be a whole number >= 1, got '-1' (see bam demo --help)");
    expect(problem(['--config', 'c', '--seed', '-5'])).toBe("--seed must be a whole number >= 0, got '-5' (see bam demo --help)");
    expect(problem(['--config', 'c', '--workers', '1e3'])).toBe("--workers must be a whole number >= 1 written in digits, got '1e3' (see bam demo --help)");
    expect(problem(['--config', 'c', '--workers', '2.5'])).toMatch(/written in digits, got '2.5'/);
    expect(problem(['--config', 'c', '--workers', 'two'])).toMatch(/written in digits, got 'two'/);
    expect(problem(['--config', 'c', '--steps', '1001'])).toBe("--steps must be a whole number from 1 to 1000, got '1001' (see bam demo --help)");
    expect(problem(['--config', 'c', '--workers', '99999999999999999999'])).toMatch(/written in digits/);
    expect(parseCommandLine(spec, ['--config', 'c', '--workers', '+7']).values.workers).toBe(7);
  });

  it('takes numbers in any notation, finite and within range', () => {
    expect(parseCommandLine(spec, ['--config', 'c', '--lr', '1e-3']).values.lr).toBe(0.001);
    expect(problem(['--config', 'c', '--lr', '-1e-3'])).toBe("--lr must be a number >= 0, got '-1e-3' (see bam demo --help)");
    expect(problem(['--config', 'c', '--lr', 'Infinity'])).toMatch(/--lr must be a number >= 0, got 'Infinity'/);
  });

  it('checks choices and positional counts, and reports every problem on one line', () => {
    expect(problem(['--config', 'c', '--backend', 'wsam'])).toBe("--backend must be one of wasm, cpu; got 'wsam' (did you mean 'wasm'?) (see bam demo --help)");
    expect(problem(['--config', 'c', 'a', 'b'])).toBe("unexpected extra argument 'b' after DIR (see bam demo --help)");
    expect(problem(['--workers', 'two', '--foo'])).toMatch(/^unknown option '--foo'; .*; option --config is required .*; --workers must be a whole number >= 1 written in digits, got 'two'/);
  });

  it('lists every option with its placeholder, help and default for --help', () => {
    expect(formatOptions(spec.options).split('\n')).toEqual([
      '  --config FILE    the config (required)',
      '  --workers N      worker threads (default: one per core)',
      '  --steps N        optimizer steps (default: 200)',
      '  --seed N         seed (default: 0)',
      '  --lr X           peak learning rate (default: 0.001)',
      '  --backend VALUE  backend',
      '  --domain VALUE   domains (repeatable)',
      '  --quiet          no progress',
    ]);
  });
});

describe('output paths', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bam-utils-paths-'));
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');

  it('accepts a writable or creatable output folder and leaves nothing behind', () => {
    const before = readdirSync(dir).sort();
    ensureWritableDir(join(dir, 'new', 'out'), '--out');
    ensureWritableDir(dir, '--out');
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it('names the path and the reason when a folder cannot be written', () => {
    expect(() => ensureWritableDir(file, '--out')).toThrow(new PathError('--out', file, 'is a file, not a folder'));
    expect(() => ensureWritableDir(join(file, 'sub', 'out'), '--out')).toThrow(`--out ${join(file, 'sub', 'out')}: not writable: ${file} is a file, not a folder (ENOTDIR)`);
  });

  it('refuses an output file that is a folder or lies under a file', () => {
    mkdirSync(join(dir, 'folder'));
    expect(() => ensureWritableFile(join(dir, 'folder'), '--out')).toThrow(`--out ${join(dir, 'folder')}: is a folder, not a file`);
    expect(() => ensureWritableFile(join(file, 'r.html'), '--out')).toThrow(`--out ${join(file, 'r.html')}: its folder is not writable: ${file} is a file, not a folder (ENOTDIR)`);
    const before = readdirSync(dir).sort();
    ensureWritableFile(join(dir, 'deep', 'r.html'), '--out');
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it('words a Node file-system error in one line, and nothing else', () => {
    const err = Object.assign(new Error("EISDIR: illegal operation on a directory, read"), { code: 'EISDIR', syscall: 'read', path: '/x/model.safetensors' });
    expect(fileSystemErrorLine(err)).toBe('cannot read /x/model.safetensors: is a folder, not a file (EISDIR)');
    expect(fileSystemErrorLine(new Error('plain'))).toBeUndefined();
  });
});
