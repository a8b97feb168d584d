/**
 * The base of every error a user can act on. Each package keeps its own subclasses (core's
 * ConfigError, CheckpointError, ...; eval's PluginError, ResultsError, ...); they all share this
 * shape, so the CLI prints any of them as one line plus its hint.
 */

/** An error a user can act on: a stable `code` (`E_...`) and a `hint` that says what to fix. */
export class BamError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly hint?: string,
  ) {
    super(hint ? `${message}\n  hint: ${hint}` : message);
    this.name = new.target.name;
  }
}

/** One problem in a config or a command line: where it is (dotted path or flag) and what is wrong. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** The first line of an error's message (or of its string form), for one-line reasons in logs. */
export function errorLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}
