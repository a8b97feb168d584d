// @bam/utils: the leaf package that core, eval and the CLI share (in the spirit of vitest's
// @vitest/utils). It depends on nothing of bam's and nothing of TF.js.
export { BamError, errorLine, type ConfigIssue } from './errors.ts';
export { canonicalJson, configHash, bytesHash, fnv1a32 } from './hash.ts';
export { writeFileAtomic, appendDurable } from './files.ts';
export { mulberry32, fmix32, type Rng } from './rng.ts';
export { editDistance, nearestMatch } from './text.ts';
export { defaultWorkers } from './workers.ts';
export { acquireLock, describeHolder, inspectLock, processStartTime, staleReason, tryAcquireLock, LockAbortedError, LockTimeoutError, type HeldLock, type LockHolder, type LockOptions, type LockState } from './lock.ts';
export {
  parseCommandLine,
  formatOptions,
  formatHelp,
  UsageError,
  type CommandLineSpec,
  type OptionSpec,
  type PositionalSpec,
  type ParsedArgs,
  type OptionValue,
} from './args.ts';
export { ensureWritableDir, ensureWritableFile, fileSystemErrorLine, asFileSystemError, PathError } from './paths.ts';
