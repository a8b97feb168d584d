/**
 * Errors a user can act on: core's subclasses of @bam/utils' `BamError`, each with a stable
 * `code` and a `hint` that says what to fix; `InvariantError` marks a bug in bam itself.
 */
import { BamError, errorLine, type ConfigIssue } from '@bam/utils';

export { BamError, errorLine, type ConfigIssue };

/** A config (model, training, sweep, ...) failed validation; lists every bad field. */
export class ConfigError extends BamError {
  constructor(
    readonly what: string,
    readonly issues: ConfigIssue[],
    hint?: string,
  ) {
    super(
      `invalid ${what}:\n${issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n')}`,
      'E_CONFIG',
      hint,
    );
  }
}

/** A tensor does not have the shape it must have; names the weight and both shapes. */
export class ShapeError extends BamError {
  constructor(
    readonly tensorName: string,
    readonly expected: readonly number[],
    readonly actual: readonly number[],
    where?: string,
  ) {
    super(
      `shape mismatch for '${tensorName}'${where ? ` in ${where}` : ''}: expected [${expected.join(', ')}], got [${actual.join(', ')}]`,
      'E_SHAPE',
    );
  }
}

/** A checkpoint file is missing, truncated, corrupt or does not match its config. */
export class CheckpointError extends BamError {
  constructor(
    readonly file: string,
    message: string,
    hint?: string,
  ) {
    super(`checkpoint ${file}: ${message}`, 'E_CHECKPOINT', hint);
  }
}

/** A data source or data file could not be read or is malformed. */
export class DataError extends BamError {
  constructor(message: string, hint?: string) {
    super(message, 'E_DATA', hint);
  }
}

/** Something that must always hold did not: this is a bug in bam, not the user's fault. */
export class InvariantError extends BamError {
  constructor(message: string) {
    super(`internal invariant violated: ${message}`, 'E_INVARIANT', 'this is a bug in bam; please report it with the command you ran');
  }
}

/** Turns zod issues into a ConfigError that names each bad field. */
export function configErrorFromZod(
  what: string,
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>,
  hint?: string,
): ConfigError {
  return new ConfigError(
    what,
    issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
    hint,
  );
}
