// The shape of a 1Password service-account token: `ops_` followed by
// base64url-encoded JSON (about 850 characters). Checked before the token is
// used or sealed, so that a wrong file or a pasted note fails early. Errors
// describe what was expected, never what was found.
import { ExitCode, StackError } from '../errors.js';

const TOKEN_PATTERN = /^ops_[A-Za-z0-9_-]+={0,2}$/;
const MIN_LENGTH = 64;
const MAX_LENGTH = 8192;

const EXPECTED_TOKEN_SHAPE =
  "a 1Password service-account token: 'ops_' followed by base64url-encoded JSON, on one line";

/** Removes exactly one trailing newline (LF or CRLF), as files written by editors and `echo` have. */
export function trimOneNewline(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n')) return text.slice(0, -1);
  return text;
}

/** Throws a StackError with code `token-shape` unless `token` looks like a service-account token. */
export function assertTokenShape(token: string, step?: string): void {
  const fail = (why: string): never => {
    throw new StackError('token-shape', `${why}; expected ${EXPECTED_TOKEN_SHAPE}`, {
      step,
      exitCode: ExitCode.dataErr,
    });
  };
  if (token.length === 0) fail('the token is empty');
  if (/^\s/.test(token)) fail('the token starts with whitespace (a space, tab or line break); remove it');
  if (/\s$/.test(token)) fail('the token ends with whitespace (a space, tab or a second line break); remove it');
  if (/\s/.test(token))
    fail(
      'the token has whitespace inside it (a space or a line break: two lines, or a wrapped paste); pass it on one line',
    );
  if (!token.startsWith('ops_')) fail("the token does not start with 'ops_'");
  if (token.length < MIN_LENGTH || token.length > MAX_LENGTH) {
    fail(`the token has ${token.length} characters, outside ${MIN_LENGTH}..${MAX_LENGTH}`);
  }
  if (!TOKEN_PATTERN.test(token)) fail('the token has characters outside base64url after its prefix');
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token.slice(4), 'base64url').toString('utf8'));
  } catch {
    fail('the token body does not decode to JSON');
  }
  if (decoded === null || typeof decoded !== 'object' || Array.isArray(decoded)) {
    fail('the token body decodes to JSON that is not an object');
  }
}
