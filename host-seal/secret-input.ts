// Where the token and the optional TPM auth value come from: the token from
// stdin when it is a pipe, else a hidden prompt; never from argv. An auth value
// from --auth-file FILE, or a hidden prompt with --auth on a terminal.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { ExitCode, hasErrno, StackError } from '../src/errors.js';
import { assertTokenShape, trimOneNewline } from '../src/secrets/token.js';
import type { Io } from './io.js';
import { promptHidden } from './prompt.js';

const MAX_STDIN = 64 * 1024;

/**
 * A secret from stdin when it is not a terminal (all of it, one trailing
 * newline removed, at most 64 KiB), else from a hidden prompt; never argv.
 * An empty stdin asks whether the command before the pipe failed.
 */
export async function readSecret(
  io: Io,
  o: { prompt: string; what: string; step: string; code: string; empty: string },
): Promise<string> {
  if (io.stdin.isTTY) {
    const value = await promptHidden(io, o.prompt);
    io.stderr.write(`(read ${value.length} characters)\n`);
    return value;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of io.stdin) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_STDIN) {
      throw new StackError(o.code, `stdin holds more than ${MAX_STDIN} bytes; pipe ${o.what}`, {
        step: o.step,
        exitCode: ExitCode.dataErr,
      });
    }
    chunks.push(buffer);
  }
  const all = Buffer.concat(chunks);
  const text = trimOneNewline(all.toString('utf8'));
  all.fill(0);
  if (size === 0) {
    throw new StackError(o.step === 'seal' ? 'token-empty' : 'vault-empty', `stdin was empty: ${o.empty}`, {
      step: o.step,
      exitCode: ExitCode.dataErr,
    });
  }
  return text;
}

/** Reads and shape-checks the token: all of stdin when it is not a terminal, else a hidden prompt. */
export async function readToken(io: Io, name: string): Promise<string> {
  const token = await readSecret(io, {
    prompt: `1Password service-account token for ${name} (input hidden): `,
    what: 'only the token (op read "op://vault/item/credential")',
    step: 'seal',
    code: 'token-shape',
    empty: 'did the command before the pipe (op read ...) fail? Its own error is above; fix that and pipe again',
  });
  assertTokenShape(token, 'seal');
  return token;
}

/** The auth value: from --auth-file, or asked on the terminal (twice when `confirm`). 1 to 32 bytes, one line. */
export async function readAuth(io: Io, authFile: string | undefined, confirm: boolean): Promise<Buffer> {
  let value: string;
  if (authFile) {
    value = trimOneNewline(readAuthFile(authFile).toString('utf8'));
  } else if (io.stdin.isTTY) {
    value = await promptHidden(io, 'TPM auth value (input hidden): ');
    if (confirm && (await promptHidden(io, 'Again: ')) !== value) {
      throw new StackError('auth-mismatch', 'the two auth values differ; nothing was sealed, run seal again', {
        step: 'auth',
        exitCode: ExitCode.dataErr,
      });
    }
  } else {
    throw new StackError(
      'auth-needed',
      'an auth value is needed and stdin is not a terminal: pass --auth-file FILE (a 0600 file, or /dev/fd/N)',
      { step: 'auth', exitCode: ExitCode.usage },
    );
  }
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length === 0 || bytes.length > 32 || /[\r\n\0]/.test(value)) {
    throw new StackError('auth-shape', 'the auth value must be 1 to 32 bytes on one line', {
      step: 'auth',
      exitCode: ExitCode.dataErr,
    });
  }
  return bytes;
}

/**
 * The auth file: a regular file (or an inherited /dev/fd/N pipe), at most 256
 * bytes, opened without following a link and without blocking on a named pipe
 * someone else made: a wrong value sent to the TPM counts toward its lockout.
 */
/** Only /dev/fd/N itself names a descriptor this process inherited; /dev/fd/../x is any path at all. */
const isInheritedFd = (file: string) => /^\/dev\/fd\/\d+$/.test(file);

/** The auth file, opened and checked (see above); the caller closes the descriptor. */
function openAuthFile(file: string): number {
  const fail = authFileError(file);
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | (isInheritedFd(file) ? 0 : constants.O_NOFOLLOW | constants.O_NONBLOCK));
  } catch (error) {
    throw fail(
      hasErrno(error, 'ELOOP') ? 'it is a symbolic link; name the file itself' : 'check the path and its mode',
      error,
    );
  }
  try {
    const info = fstatSync(fd);
    const inherited = isInheritedFd(file) && (info.isFIFO() || info.isSocket());
    if (!info.isFile() && !inherited)
      throw fail(
        'it is not a regular file (a named pipe or device another user could feed); use a 0600 file of yours, or /dev/fd/N',
      );
    if (info.isFile() && info.uid !== (process.getuid?.() ?? info.uid))
      throw fail(`it belongs to uid ${info.uid}, not to you`);
    return fd;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

const authFileError = (file: string) => (why: string, cause?: unknown) =>
  new StackError('auth-file', `cannot use the auth file ${file}: ${why}`, {
    step: 'auth',
    exitCode: ExitCode.noInput,
    cause,
  });

function readAuthFile(file: string): Buffer {
  const fail = authFileError(file);
  const fd = openAuthFile(file);
  try {
    const buffer = Buffer.alloc(257);
    let length = 0;
    // The value is one line: a pipe whose writer keeps it open is read to its first newline, not to an end that
    // may never come.
    for (let n = -1; n !== 0 && length < buffer.length && buffer.subarray(0, length).indexOf(10) === -1; length += n) {
      try {
        n = readSync(fd, buffer, length, buffer.length - length, null);
      } catch (error) {
        if (hasErrno(error, 'EAGAIN')) throw fail('nothing to read from it yet; write the value first', error);
        throw error;
      }
    }
    if (length > 256) throw fail('it is larger than 256 bytes; it must hold the auth value alone');
    return buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

/**
 * --auth-file, checked when the command starts (present, a regular file of
 * yours or an inherited /dev/fd/N; nothing read): a mistyped path is named at
 * once, not passed over because no sealed credential happened to need it.
 */
export function authFileOf(parsed: { 'auth-file'?: unknown }): string | undefined {
  const file = parsed['auth-file'];
  if (typeof file !== 'string') return undefined;
  closeSync(openAuthFile(file));
  return file;
}
