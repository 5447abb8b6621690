// One line of `doctor`: a check's verdict, what it saw, and for a failure
// (or a warning) the fix. A failure carries the exit status doctor ends with
// (the first failure's), from the project's sysexits table.
import { ExitCode, type ExitCodeValue, StackError } from '../../src/errors.js';

type Status = 'ok' | 'warn' | 'fail';

export interface Finding {
  check: string;
  status: Status;
  detail: string;
  fix?: string;
  exitCode?: ExitCodeValue;
}

export const ok = (check: string, detail: string): Finding => ({ check, status: 'ok', detail });
export const warn = (check: string, detail: string, fix: string): Finding => ({ check, status: 'warn', detail, fix });
export const fail = (check: string, detail: string, fix: string, exitCode: ExitCodeValue): Finding => ({
  check,
  status: 'fail',
  detail,
  fix,
  exitCode,
});

/** A StackError's one-line message as a failure (its own message already says what to do). */
export function failed(check: string, error: unknown): Finding {
  if (error instanceof StackError) return fail(check, error.message, 'see the message', error.exitCode);
  return fail(check, `unexpected error (${(error as Error).name})`, 'report this', ExitCode.software);
}

export function line(f: Finding): string {
  const fix = f.fix && f.status !== 'ok' && f.fix !== 'see the message' ? `; fix: ${f.fix}` : '';
  return `${f.status.padEnd(4)}  ${f.check}: ${f.detail}${fix}`;
}

/** The first line of a tool's output that says something, cut to fit one line of the report. */
export const firstLine = (text: string) => (text.split('\n').find((l) => l.trim()) ?? '').trim().slice(0, 200);
