import { formatHelp, parseCommandLine, type CommandLineSpec, type OptionSpec, type ParsedArgs } from '@bam/utils';

/**
 * One `bam` sub-command. Each lives in its own file under `commands/`, is declared once with
 * `defineCommand` (so `--help` lists its options with their defaults), and is one line of the
 * `COMMANDS` table in `main.ts`.
 */
export interface Command {
  /** The word after `bam`, e.g. `train`. */
  name: string;
  /** One line for `bam --help`. */
  summary: string;
  /** Full help text for `bam <name> --help` (usually `formatHelp` of the command's options). */
  usage: string;
  /** Runs the command; returns the process exit code. */
  run(argv: string[]): Promise<number>;
}

/** The pieces of a `--help` text; the option list between them is generated from the spec. */
export interface HelpText {
  /** The usage line(s) after `usage: `, e.g. `bam inspect CKPT [--json]`. */
  usage: string;
  /** What the command does (and its exit codes). */
  description: string;
  /** Text after the option list, e.g. `example: bam data --json`. */
  epilogue?: string;
}

/** A command as its file declares it: its command line, help, and what it does with the parsed arguments. */
export interface CommandDefinition<O extends Record<string, OptionSpec>> {
  name: string;
  summary: string;
  spec: CommandLineSpec<O>;
  /** The full help text, or its pieces (`formatHelp` of them with the spec's options). */
  usage: string | HelpText;
  /** Runs on the parsed command line (and the raw `argv`, e.g. to echo it); returns the process exit code. */
  run(args: ParsedArgs<O> & { argv: string[] }): Promise<number>;
}

/**
 * Makes a `Command` from its definition: `run` gets `argv` parsed by the spec (a bad command line
 * is a `UsageError` before `run` starts), with the option values typed from the spec.
 */
export function defineCommand<const O extends Record<string, OptionSpec>>(def: CommandDefinition<O>): Command {
  const { usage: help, spec } = def;
  const usage =
    typeof help === 'string'
      ? help
      : `${formatHelp(help.usage, help.description, spec.options)}${help.epilogue === undefined ? '' : `\n\n${help.epilogue}`}`;
  return {
    name: def.name,
    summary: def.summary,
    usage,
    async run(argv) {
      return def.run({ ...parseCommandLine(spec, argv), argv });
    },
  };
}
