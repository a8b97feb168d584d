/**
 * Command-line parsing for `bam`'s commands: one declaration per command gives both the parser and
 * the option list of its `--help` (with defaults), so the two cannot drift apart. Every bad command
 * line becomes a one-line `UsageError` naming the option and what it accepts — never Node's
 * `ERR_PARSE_ARGS_*`. Integer options take decimal digits only: `1e3` or `2.5` given to one is an
 * error, not a silently different number.
 */
import { BamError } from './errors.ts';
import { nearestMatch, editDistance } from './text.ts';

/** Fields every option kind shares. */
interface OptionBase {
  /** One line (or several, joined by `\n`) for `--help`. */
  help: string;
  /** The value's placeholder in `--help`, e.g. `DIR` (default `VALUE`; unused for flags). */
  arg?: string;
  /** Shown as the default in `--help` when the command computes it (e.g. "5% of --steps"). */
  defaultText?: string;
  /** The command refuses to run without it. */
  required?: boolean;
}

/** `--name`: true when given, false otherwise; `--name=...` is an error. */
export interface FlagOption {
  kind: 'flag';
  help: string;
}

/** `--name TEXT`, optionally one of `choices`, or repeatable (`multiple`) into a list. */
export interface StringOption extends OptionBase {
  kind: 'string';
  default?: string;
  choices?: readonly string[];
  multiple?: boolean;
}

/** `--name N`: an integer written in decimal digits, at least `min` (and at most `max`). */
export interface IntOption extends OptionBase {
  kind: 'int';
  default?: number;
  min?: number;
  max?: number;
}

/** `--name X`: a finite number in any JavaScript notation (`3e-4`), at least `min`. */
export interface NumberOption extends OptionBase {
  kind: 'number';
  default?: number;
  min?: number;
}

/** One option of a command; its flag is `--<key>`. */
export type OptionSpec = FlagOption | StringOption | IntOption | NumberOption;

/** What a command line may hold besides options. */
export interface PositionalSpec {
  /** Placeholder in messages and help, e.g. `CKPT`. */
  name: string;
  /** What it is, for messages: "a checkpoint directory". */
  help: string;
  min: number;
  max: number;
}

/** The declaration of one command's command line. */
export interface CommandLineSpec<O extends Record<string, OptionSpec>> {
  /** The command as typed, e.g. `bam train`: prefixes `see ... --help` in errors. */
  command: string;
  options: O;
  positionals?: PositionalSpec;
}

/** The parsed value of one option. */
export type OptionValue<S extends OptionSpec> = S extends FlagOption
  ? boolean
  : S extends { kind: 'string'; multiple: true }
    ? string[]
    : S extends { required: true } | { default: string | number }
      ? S extends StringOption ? string : number
      : S extends StringOption ? string | undefined : number | undefined;

/** A parsed command line: option values by their flag name, and the positional arguments. */
export interface ParsedArgs<O extends Record<string, OptionSpec>> {
  values: { [K in keyof O]: OptionValue<O[K]> };
  positionals: string[];
}

/** A bad command line: one line naming the option and what it accepts (exit code 2). */
export class UsageError extends BamError {
  constructor(command: string, problem: string) {
    super(`${problem} (see ${command} --help)`, 'E_USAGE');
  }
}

const INTEGER = /^[+-]?\d+$/;

/**
 * Parses `argv` by `spec`; throws one `UsageError` listing (on one line) everything the spec does
 * not accept.
 */
export function parseCommandLine<const O extends Record<string, OptionSpec>>(spec: CommandLineSpec<O>, argv: readonly string[]): ParsedArgs<O> {
  const problems: string[] = [];
  const fail = (problem: string): undefined => {
    problems.push(problem);
    return undefined;
  };
  const names = Object.keys(spec.options);
  const raw = new Map<string, string[]>();
  const flags = new Set<string>();
  const positionals: string[] = [];
  // Options already reported as given without a value are not reported as missing too.
  const valueless = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!token.startsWith('-') || token === '-' || /^-\d/.test(token)) {
      positionals.push(token);
      continue;
    }
    const eq = token.indexOf('=');
    const flag = eq > 0 ? token.slice(0, eq) : token;
    const name = flag.startsWith('--') ? flag.slice(2) : undefined;
    const opt = name !== undefined && Object.hasOwn(spec.options, name) ? spec.options[name] : undefined;
    if (!opt || name === undefined) {
      fail(unknownOption(flag, names));
      continue;
    }
    const key = name;
    if (opt.kind === 'flag') {
      if (eq > 0) fail(`option --${key} takes no value, got '${token}' (give --${key} alone to turn it on)`);
      else flags.add(key);
      continue;
    }
    let value: string;
    if (eq > 0) {
      value = token.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      // A following option (but not a negative number) means the value was left out.
      if (next === undefined || (next.startsWith('--') && next !== '--') || (next.startsWith('-') && !/^-\d/.test(next) && next !== '-')) {
        fail(`option --${key} needs a value (--${key} ${placeholder(opt)})`);
        valueless.add(key);
        continue;
      }
      value = next;
      i++;
    }
    if (value === '') {
      fail(`option --${key} needs a value (--${key} ${placeholder(opt)}), got an empty one`);
      valueless.add(key);
      continue;
    }
    raw.set(key, [...(raw.get(key) ?? []), value]);
  }

  const values: Record<string, unknown> = {};
  for (const [key, opt] of Object.entries(spec.options)) {
    if (opt.kind === 'flag') {
      values[key] = flags.has(key);
      continue;
    }
    const given = raw.get(key);
    if (!given) {
      if (opt.required && !valueless.has(key)) fail(`option --${key} is required (--${key} ${placeholder(opt)}: ${firstLine(opt.help)})`);
      values[key] = opt.kind === 'string' && opt.multiple ? [] : opt.default;
      continue;
    }
    const parsed = given.map((v) => parseValue(key, opt, v, fail));
    // A repeated single-valued option keeps its last value, as most CLIs do.
    values[key] = opt.kind === 'string' && opt.multiple ? parsed : parsed[parsed.length - 1];
  }

  const pos = spec.positionals ?? { name: '', help: '', min: 0, max: 0 };
  if (positionals.length > pos.max) {
    const extra = positionals.slice(pos.max);
    fail(pos.max === 0 ? `unexpected argument${extra.length > 1 ? 's' : ''} '${extra.join(' ')}' (${spec.command} takes options only)` : `unexpected extra argument${extra.length > 1 ? 's' : ''} '${extra.join(' ')}' after ${pos.name}`);
  }
  if (positionals.length < pos.min) fail(`${pos.name}: required: ${pos.help}`);
  if (problems.length > 0) throw new UsageError(spec.command, problems.join('; '));
  return { values: values as ParsedArgs<O>['values'], positionals };
}

function parseValue(key: string, opt: Exclude<OptionSpec, FlagOption>, v: string, fail: (problem: string) => undefined): string | number | undefined {
  if (opt.kind === 'string') {
    if (opt.choices && !opt.choices.includes(v)) {
      const near = nearestMatch(v, opt.choices);
      return fail(`--${key} must be one of ${opt.choices.join(', ')}; got '${v}'${near && editDistance(v, near) <= 2 ? ` (did you mean '${near}'?)` : ''}`);
    }
    return v;
  }
  if (opt.kind === 'int') {
    const n = INTEGER.test(v) ? Number(v) : NaN;
    const range = opt.max === undefined ? `>= ${opt.min ?? '-∞'}` : `from ${opt.min ?? '-∞'} to ${opt.max}`;
    if (!Number.isSafeInteger(n)) return fail(`--${key} must be a whole number ${range} written in digits, got '${v}'`);
    if ((opt.min !== undefined && n < opt.min) || (opt.max !== undefined && n > opt.max)) return fail(`--${key} must be a whole number ${range}, got '${v}'`);
    return n;
  }
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) return fail(`--${key} must be a number${opt.min === undefined ? '' : ` >= ${opt.min}`}, got '${v}'`);
  if (opt.min !== undefined && n < opt.min) return fail(`--${key} must be a number >= ${opt.min}, got '${v}'`);
  return n;
}

function unknownOption(flag: string, names: readonly string[]): string {
  const known = names.map((n) => `--${n}`);
  const bare = flag.replace(/^-+/, '');
  const near = nearestMatch(bare, names);
  const suggest = near && bare.length > 1 && editDistance(bare, near) <= Math.max(1, Math.floor(bare.length / 3)) ? `did you mean --${near}? ` : '';
  return `unknown option '${flag}'; ${suggest}options: ${known.join(', ')}`;
}

function placeholder(opt: OptionSpec): string {
  if (opt.kind === 'flag') return '';
  return opt.arg ?? (opt.kind === 'int' ? 'N' : opt.kind === 'number' ? 'X' : 'VALUE');
}

function firstLine(text: string): string {
  return text.split('\n')[0];
}

/**
 * The option list of `--help`: one entry per option with its placeholder, help text and default
 * (or "required"), aligned in two columns.
 */
export function formatOptions(options: Record<string, OptionSpec>): string {
  const entries = Object.entries(options).map(([key, opt]) => {
    const left = `--${key}${opt.kind === 'flag' ? '' : ` ${placeholder(opt)}`}`;
    let note = '';
    if (opt.kind !== 'flag') {
      const def = opt.defaultText ?? (opt.default === undefined ? undefined : String(opt.default));
      note = opt.required ? ' (required)' : def !== undefined ? ` (default: ${def})` : '';
      if (opt.kind === 'string' && opt.multiple) note += ' (repeatable)';
    }
    return { left, lines: `${opt.help}${note}`.split('\n') };
  });
  const width = Math.max(...entries.map((e) => e.left.length)) + 2;
  return entries
    .map((e) => e.lines.map((line, i) => `  ${(i === 0 ? e.left : '').padEnd(width)}${line}`).join('\n'))
    .join('\n');
}

/** The full `--help` text: the usage line(s), a description, and the generated option list. */
export function formatHelp(usage: string, description: string, options: Record<string, OptionSpec>): string {
  return `usage: ${usage}\n\n${description}\n\noptions:\n${formatOptions(options)}`;
}
