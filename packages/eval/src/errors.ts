/**
 * Errors of @bam/eval: subclasses of @bam/utils' `BamError` (a stable `code` starting with `E_`,
 * a `hint` that says what to fix), so the CLI prints them the same way as core's.
 */
import { BamError, type ConfigIssue } from '@bam/utils';

export { BamError, type ConfigIssue };

/** A plugin file or object is malformed; names the file (or `defineTask`) and the field. */
export class PluginError extends BamError {
  constructor(
    readonly file: string,
    readonly field: string | undefined,
    readonly detail: string,
    hint?: string,
  ) {
    super(`plugin ${file}${field ? ` (field '${field}')` : ''}: ${detail}`, 'E_PLUGIN', hint);
  }
}

/** No plugin with this id is registered; lists the known ids and the nearest one. */
export class UnknownPluginError extends BamError {
  constructor(
    readonly kind: 'task' | 'variant',
    readonly id: string,
    readonly known: readonly string[],
    readonly nearest: string | undefined,
  ) {
    super(
      unknownIdMessage(kind, id, known, nearest),
      'E_UNKNOWN_PLUGIN',
      `load the plugin that defines '${id}': add its file path or package name to "plugins" in the sweep config`,
    );
  }
}

/** The sentence used by UnknownPluginError and by sweep-config issues for an unknown id. */
export function unknownIdMessage(kind: string, id: string, known: readonly string[], nearest: string | undefined): string {
  const list = known.length ? `known ${kind}s: ${known.join(', ')}` : `no ${kind}s are registered`;
  return `unknown ${kind} '${id}'; ${list}${nearest ? `; did you mean '${nearest}'?` : ''}`;
}

/** A sweep config or plugin options failed validation; lists every bad field. */
export class SweepConfigError extends BamError {
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

/** A task or model broke the plugin contract at run time (wrong response count, bad metric value, ...). */
export class ContractError extends BamError {
  constructor(message: string, hint?: string) {
    super(message, 'E_CONTRACT', hint);
  }
}

/** A results folder cannot be used (journal from another run without --resume, missing files, ...). */
export class ResultsError extends BamError {
  constructor(message: string, hint?: string) {
    super(message, 'E_RESULTS', hint);
  }
}

/** Turns zod issues into ConfigIssues, with `prefix` prepended to each path. */
export function issuesFromZod(
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>,
  prefix = '',
): ConfigIssue[] {
  return issues.map((i) => ({
    path: [prefix, ...i.path.map(String)].filter((s) => s !== '').join('.'),
    message: i.message,
  }));
}
