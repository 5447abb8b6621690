// The one way the four programs end on a failure: a StackError's own line
// (which names what was wrong and what to do, never a value) and its exit
// status; anything else only by its name and exit 70, since an unexpected
// error's message could hold anything, a secret included.
import { ExitCode, type ExitCodeValue, isStackError } from './errors.js';

export interface Failure {
  /** The line to print after the program's name. */
  message: string;
  exitCode: ExitCodeValue;
}

export function failure(error: unknown): Failure {
  if (isStackError(error)) return { message: error.oneLine(), exitCode: error.exitCode };
  const name = error instanceof Error ? error.name : typeof error;
  return { message: `internal error (${name}); please report it`, exitCode: ExitCode.software };
}
