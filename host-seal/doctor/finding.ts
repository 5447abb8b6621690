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

/** The first line of a tool's output that says something (masked and cut only when printed: see `shown`). */
export const firstLine = (text: string) => (text.split('\n').find((l) => l.trim()) ?? '').trim().slice(0, 4096);

/**
 * Every run of token characters (letters, digits, `_`, `-`) that looks random as `<redacted>`: one with a piece
 * (between `-` and `_`) of 16 or more letters and digits, both. A name made of words (copilot-bridge-stack,
 * mattermost-admin-bot) is not one; a GitHub or 1Password token, a hash, is.
 */
const maskShapes = (text: string) =>
  text.replace(/[A-Za-z0-9_-]{16,}/g, (run) =>
    run.split(/[-_]/).some((piece) => piece.length >= 16 && /[0-9]/.test(piece) && /[A-Za-z]/.test(piece))
      ? '<redacted>'
      : run,
  );

/**
 * A finding as printed: every value doctor unsealed masked whole (`mask`), then every long token-like run masked
 * by its shape (a value doctor never unsealed, a GitHub token in a label or a compose error quoted), and only then
 * cut to one line, so no cut leaves a part of a value unmasked.
 */
export function shown(f: Finding, mask: (text: string) => string): Finding {
  const clean = (text: string) => {
    const masked = maskShapes(mask(text));
    return masked.length > 300 ? `${masked.slice(0, 300)}...` : masked;
  };
  return { ...f, detail: clean(f.detail), ...(f.fix === undefined ? {} : { fix: clean(f.fix) }) };
}
