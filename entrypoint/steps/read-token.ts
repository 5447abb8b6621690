// Step 2: read the container's credential from its Docker secret file: the
// service-account token (one token-shaped line), or with the local vault this
// container's part of it (a vault document). The file must be a regular file
// (a symlink may only point inside /run/secrets) and non-empty. It is opened
// without blocking, so that a FIFO in its place is refused, not waited on.
// Messages name the file and what was expected; they never show what was found.
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { TOKEN_TARGET } from '../../src/contract.js';
import { ExitCode, errnoCode, failAt, hasErrno, StackError } from '../../src/errors.js';
import { assertTokenShape, trimOneNewline } from '../../src/secrets/token.js';
import { parseVault, type VaultItems } from '../../src/vault/document.js';

const STEP = 'token';
const SECRETS_DIR = `${dirname(TOKEN_TARGET)}/`;
const MAX_BYTES = 64 * 1024;

/** The service-account token. */
export function readToken(file: string): string {
  const token = readSecretFile(file, 'npm run seal');
  if (token.startsWith('{')) {
    throw new StackError(
      'token-shape',
      `${file} holds a document, not a service-account token (a part of the local vault?): BRIDGE_SECRETS_SOURCE is 1password; check SECRETS_SOURCE`,
      { step: STEP, exitCode: ExitCode.dataErr },
    );
  }
  assertTokenShape(token, STEP);
  return token;
}

/** This container's part of the local vault. */
export function readVaultSubset(file: string): VaultItems {
  return parseVault(readSecretFile(file, 'npm run vault'), file, STEP);
}

function readSecretFile(file: string, fix: string): string {
  const fail = failAt(STEP, ExitCode.noInput);
  let target = file;
  try {
    if (lstatSync(file).isSymbolicLink()) {
      target = realpathSync(file);
      if (!target.startsWith(SECRETS_DIR)) {
        fail(
          'token-symlink',
          `${file} is a symlink that leads out of ${SECRETS_DIR}; mount the secret file itself (compose secrets:)`,
          ExitCode.noPerm,
        );
      }
    }
  } catch (error) {
    if (error instanceof StackError) throw error;
    if (hasErrno(error, 'ENOENT')) {
      fail(
        'token-missing',
        `${file} does not exist; run \`npm run seal\` then \`npm run up\` on the host, or set OP_SERVICE_ACCOUNT_TOKEN_FILE`,
        ExitCode.noInput,
        error,
      );
    }
    fail(
      'token-unreadable',
      `cannot inspect ${file} (${errnoCode(error) ?? 'error'}); check the secret mount`,
      ExitCode.noPerm,
      error,
    );
  }
  let fd: number;
  try {
    fd = openSync(target, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if (hasErrno(error, 'EACCES', 'EPERM')) {
      const uid = process.getuid!();
      const why =
        uid === 0
          ? 'release it owned by root (`npm run up` run as root does): root in the container reads it with no capability, and has none to spare'
          : 'the entrypoint must start as root (the default)';
      return fail('token-unreadable', `${file} is not readable by uid ${uid}; ${why}`, ExitCode.noPerm, error);
    }
    return fail(
      'token-unreadable',
      `cannot open ${file} (${errnoCode(error) ?? 'error'}); check the secret mount`,
      ExitCode.noInput,
      error,
    );
  }
  try {
    if (!fstatSync(fd).isFile())
      fail('token-not-file', `${file} is not a regular file; it must be the secret file itself`, ExitCode.noInput);
    const buffer = Buffer.alloc(MAX_BYTES + 1);
    // Until the end of the file, or until the buffer (one byte over the limit) is full: a read into no room returns 0.
    let length = 0;
    let n: number;
    while ((n = readSync(fd, buffer, length, buffer.length - length, null)) > 0) length += n;
    if (length > MAX_BYTES)
      fail(
        'token-shape',
        `${file} is larger than ${MAX_BYTES} bytes; it must hold the credential alone`,
        ExitCode.dataErr,
      );
    const text = trimOneNewline(buffer.toString('utf8', 0, length));
    buffer.fill(0);
    if (text.length === 0)
      fail('token-empty', `${file} is empty; seal it again with \`${fix}\`, then npm run up`, ExitCode.dataErr);
    return text;
  } finally {
    closeSync(fd);
  }
}
