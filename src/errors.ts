/**
 * Named errors. Each carries the process exit code the CLI uses; the library never exits itself.
 * Exit codes: 2 bad input/usage, 3 target not reached within the guard, 1 internal error.
 */
export class AutopruneError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The same error (class, exit code, cause, stack frames) with another message: the API's wording of a CLI flag, or the
 * name of the model a build-meta error is about.
 */
export function withMessage(err: AutopruneError, message: string): AutopruneError {
  const Ctor = err.constructor as new (message: string, options?: { cause?: unknown }) => AutopruneError;
  const out = new Ctor(message, { cause: err.cause });
  // The original frames under this message: Node prints the stack of an uncaught error, message first.
  const frames = err.stack?.split('\n').filter((l) => /^\s+at /.test(l));
  if (frames?.length) out.stack = `${out.name}: ${message}\n${frames.join('\n')}`;
  return out;
}

/** Bad command-line usage or API options. */
export class UsageError extends AutopruneError {
  override readonly exitCode = 2;
}

/** Unusable data files: ragged rows, NaN cells, a single class, a shape that does not fit the model. */
export class DataError extends AutopruneError {
  override readonly exitCode = 2;
}

/** A model file that is missing, unreadable, or has a topology autoprune cannot handle. */
export class ModelError extends AutopruneError {
  override readonly exitCode = 2;
}

/** A policy file that is missing, corrupt, of an unknown kind, or trained on another feature schema. */
export class PolicyError extends AutopruneError {
  override readonly exitCode = 2;
}

export function exitCodeOf(err: unknown): number {
  return err instanceof AutopruneError ? err.exitCode : 1;
}

/** The run was interrupted (Ctrl-C / AbortSignal); the last accepted checkpoint is resumable. */
export class InterruptedError extends AutopruneError {
  override readonly exitCode = 130;
}

/** The InterruptedError for an aborted signal: its `cause` is `signal.reason` (an AbortError unless the caller gave one). */
export function abortedError(what: string, signal: AbortSignal | undefined): InterruptedError {
  const reason: unknown = signal?.reason;
  const why = reason instanceof Error && reason.name !== 'AbortError' ? `: ${reason.message}` : '';
  return new InterruptedError(`${what}${why}`, { cause: reason });
}
