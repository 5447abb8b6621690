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

/**
 * The first line of a tool's output that says something, cut to fit one line of the report. What a tool quotes
 * may be a value doctor never unsealed (a GitHub token in a compose file, with the 1Password source): every long
 * token-like run is masked by its shape first, then the line is cut, so no cut leaves a part of one unmasked.
 */
export const firstLine = (text: string) =>
  maskShapes((text.split('\n').find((l) => l.trim()) ?? '').trim()).slice(0, 200);

/** Every run of 20 or more token characters (letters, digits, `_`, `-`) as `<redacted>`. */
export const maskShapes = (text: string) => text.replace(/[A-Za-z0-9_-]{20,}/g, '<redacted>');
