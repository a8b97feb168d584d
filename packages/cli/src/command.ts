/**
 * One `bam` sub-command. Each lives in its own file under `commands/`, declares its options with
 * @bam/utils' `parseCommandLine` (so `--help` lists them with their defaults), and is one line of
 * the `COMMANDS` table in `main.ts`.
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
