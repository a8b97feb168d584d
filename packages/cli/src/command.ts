/**
 * One `bam` sub-command. Each lives in its own file under `commands/` and is found by
 * `main.ts`, so adding a command never edits a shared file.
 */
export interface Command {
  /** The word after `bam`, e.g. `train`. */
  name: string;
  /** One line for `bam --help`. */
  summary: string;
  /** Full help text for `bam <name> --help`. */
  usage: string;
  /** Runs the command; returns the process exit code. */
  run(argv: string[]): Promise<number>;
}
