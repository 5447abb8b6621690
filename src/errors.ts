// One error type for the whole toolkit: a stable code that callers can match,
// a sysexits exit status that the program's edge maps to, a one-line message
// that says what was wrong and what to do, and the original failure as cause.
// Messages never carry a secret value: they name variables, paths and JSON
// paths, never what was found there.

/** Exit statuses, after sysexits(3). Documented in docs/exit-codes.md. */
export const ExitCode = {
  ok: 0,
  /** `verify` found a leak. */
  leak: 1,
  /** `status`: a container of the stack not running or unhealthy, or none exists. */
  unhealthy: 1,
  usage: 64,
  dataErr: 65,
  noInput: 66,
  unavailable: 69,
  software: 70,
  cantCreate: 73,
  ioErr: 74,
  /** Busy: another command holds a lock; retry later. */
  tempFail: 75,
  noPerm: 77,
  config: 78,
  /** Interrupted by the user (Ctrl-C), as shells report SIGINT. */
  interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface StackErrorOptions {
  /** The step or command that failed, printed before the message. */
  step?: string | undefined;
  exitCode: ExitCodeValue;
  cause?: unknown;
}

export class StackError extends Error {
  override readonly name = 'StackError';
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  readonly step: string | undefined;

  constructor(code: string, message: string, options: StackErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.exitCode = options.exitCode;
    this.step = options.step;
  }

  /** The single line a person sees: `step: message`. */
  oneLine(): string {
    const text = this.message.replace(/\s*\n\s*/g, ' ');
    return this.step ? `${this.step}: ${text}` : text;
  }
}

/**
 * One step's way to fail: `const fail = failAt('read-token', ExitCode.noInput)`, then
 * `fail('token-missing', 'what was wrong; what to do')` throws a StackError of that step.
 */
export function failAt(step: string | undefined, defaultExit: ExitCodeValue) {
  return (code: string, message: string, exitCode: ExitCodeValue = defaultExit, cause?: unknown): never => {
    throw new StackError(code, message, { step, exitCode, cause });
  };
}

/** Whether `error` is a StackError (with `code`, when given). */
export function isStackError(error: unknown, code?: string): error is StackError {
  return error instanceof StackError && (code === undefined || error.code === code);
}

/** Whether `error` is a system error with one of `codes` (ENOENT, EACCES...). */
export function hasErrno(error: unknown, ...codes: string[]): boolean {
  const code = errnoCode(error);
  return code !== undefined && codes.includes(code);
}

/** A system error's code (ENOENT, EACCES...), if it has one. */
export function errnoCode(error: unknown): string | undefined {
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}
