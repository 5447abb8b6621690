// The token step in-process (entrypoint/steps/read-token.ts), played from the
// side of whoever mounts the secret file: a symlink out of /run/secrets/ (and
// one into it), a symlink loop or to nothing, a file too big by one byte, a
// FIFO, a socket, a directory or a device in its place, an empty file, a
// document where the token belongs (and a token where the vault belongs),
// trailing junk after the token, a file the reading user cannot open, and an
// open that a security module denies. Each refusal is held to its code, exit
// status and whole message, which never holds the token; no descriptor of the
// file stays open after a read. The same step end to end: refusals.test.ts.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import {
  chmodSync,
  chownSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { readToken, readVaultSubset } from '../../entrypoint/steps/read-token.js';
import type { StackError } from '../../src/errors.js';
import { fakeServiceAccountToken } from '../fixtures/tokens.js';
import { refusal } from '../support/refusal.js';

const token = fakeServiceAccountToken();
const NOBODY = 65534;
/** What the docs promise: the file may be a symlink only into this directory (docs/entrypoint.md, token). */
const SECRETS_DIR = '/run/secrets';
/** The largest file read, 64 KiB (docs/entrypoint.md: "over 64 KiB" is refused). */
const MAX_BYTES = 65536;
const VAULT_FORMAT = 'copilot-bridge-stack/vault/1';
const SHAPE = "expected a 1Password service-account token: 'ops_' followed by base64url-encoded JSON, on one line";

/** A fresh directory on tmpfs for one test (RAM, like the real secret mount), removed after it. */
function scratch(t: Test): string {
  const dir = mkdtempSync('/dev/shm/cbs-read-token-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The StackError `run` throws; fails the test when it returns or throws anything else. */

/** Code, step, exit status and whole message of a refusal, and that it does not quote the token. */
function refused(t: Test, error: StackError, code: string, exitCode: number, message: string): void {
  t.equal(error.code, code, 'its code');
  t.equal(error.step, 'token', 'the token step');
  t.equal(error.exitCode, exitCode, 'its exit status');
  t.equal(error.message, message, 'its message');
  t.notOk(error.message.includes(token.slice(4, 40)), 'never the token');
}

/** The descriptors this process holds open on anything under `dir`. */
function descriptorsInto(dir: string): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(dir) ? [target] : [];
    } catch {
      return [];
    }
  });
}

/** Runs `run` with the effective uid and gid of `uid` (the real ones stay root), as a root without capabilities sees files. */
function asUser<T>(uid: number, run: () => T): T {
  process.setegid!(uid);
  process.seteuid!(uid);
  try {
    return run();
  } finally {
    process.seteuid!(0);
    process.setegid!(0);
  }
}

t.test('a token file is read: one trailing newline (LF or CRLF) trimmed, no descriptor left open', async (t) => {
  const dir = scratch(t);
  for (const [name, text] of [
    ['bare', token],
    ['lf', `${token}\n`],
    ['crlf', `${token}\r\n`],
  ] as const) {
    writeFileSync(join(dir, name), text, { mode: 0o600 });
    t.equal(readToken(join(dir, name)), token, name);
  }
  t.same(descriptorsInto(dir), [], 'the file is closed again');
});

t.test('a missing file, or a symlink to nothing, is token-missing (66)', async (t) => {
  const dir = scratch(t);
  const missing = join(dir, 'op_sa_token');
  const error = refusal(t, () => readToken(missing));
  refused(
    t,
    error,
    'token-missing',
    66,
    `${missing} does not exist; run \`npm run seal\` then \`npm run up\` on the host, or set OP_SERVICE_ACCOUNT_TOKEN_FILE`,
  );
  t.match(error.cause, { code: 'ENOENT' }, 'the cause kept');
  const dangling = join(dir, 'dangling');
  symlinkSync(join(dir, 'nothing'), dangling);
  t.equal(refusal(t, () => readToken(dangling)).code, 'token-missing', 'a dangling symlink');
});

t.test('a symlink out of /run/secrets/ is refused (77), naming the link, never reading it', async (t) => {
  const dir = scratch(t);
  writeFileSync(join(dir, 'real'), token);
  const link = join(dir, 'op_sa_token');
  symlinkSync(join(dir, 'real'), link);
  refused(
    t,
    refusal(t, () => readToken(link)),
    'token-symlink',
    77,
    `${link} is a symlink that leads out of /run/secrets/; mount the secret file itself (compose secrets:)`,
  );
  // A sibling whose name only starts like the secrets directory is outside it too.
  const sibling = mkdtempSync(`${SECRETS_DIR}-cbs-`);
  t.teardown(() => rmSync(sibling, { recursive: true, force: true }));
  writeFileSync(join(sibling, 'real'), token);
  const lookalike = join(dir, 'lookalike');
  symlinkSync(join(sibling, 'real'), lookalike);
  t.equal(refusal(t, () => readToken(lookalike)).code, 'token-symlink', `${sibling} is not inside ${SECRETS_DIR}/`);
  t.same(descriptorsInto(dir), [], 'nothing opened');
});

t.test('a symlink into /run/secrets/ (as Kubernetes mounts secrets) is followed and read', async (t) => {
  // Made for this test when the machine has no /run/secrets; removed after it when it was made here.
  const made = mkdirSync(SECRETS_DIR, { recursive: true, mode: 0o755 });
  const inside = mkdtempSync(`${SECRETS_DIR}/cbs-read-token-`);
  t.teardown(() => {
    rmSync(inside, { recursive: true, force: true });
    if (made === SECRETS_DIR) {
      try {
        rmdirSync(SECRETS_DIR);
      } catch {
        // Another test's file is in it now; that test removes it.
      }
    }
  });
  writeFileSync(join(inside, 'op_sa_token'), `${token}\n`, { mode: 0o600 });
  const dir = scratch(t);
  const link = join(dir, 'op_sa_token');
  symlinkSync(join(inside, 'op_sa_token'), link);
  t.equal(readToken(link), token);
  t.same(descriptorsInto(inside), [], 'the file is closed again');
});

t.test('a symlink loop cannot be inspected: token-unreadable (77) with the errno', async (t) => {
  const dir = scratch(t);
  const link = join(dir, 'op_sa_token');
  symlinkSync(join(dir, 'other'), link);
  symlinkSync(link, join(dir, 'other'));
  const error = refusal(t, () => readToken(link));
  refused(t, error, 'token-unreadable', 77, `cannot inspect ${link} (ELOOP); check the secret mount`);
  t.match(error.cause, { code: 'ELOOP' }, 'the cause kept');
});

t.test('what is not a regular file is refused without waiting on it (token-not-file, 66)', async (t) => {
  const dir = scratch(t);
  const fifo = join(dir, 'fifo');
  // A FIFO with no writer: a blocking open would wait here for ever. A writer that comes a second later turns
  // such a wait into a failure of the time limit below rather than a hang.
  execFileSync('mkfifo', [fifo]);
  const writer = spawn('sh', ['-c', 'sleep 1; exec 3>"$0"', fifo], { stdio: 'ignore' });
  t.teardown(() => void writer.kill('SIGKILL'));
  mkdirSync(join(dir, 'directory'));
  const started = performance.now();
  for (const file of [fifo, join(dir, 'directory'), '/dev/null', '/dev/zero']) {
    refused(
      t,
      refusal(t, () => readToken(file)),
      'token-not-file',
      66,
      `${file} is not a regular file; it must be the secret file itself`,
    );
  }
  t.ok(performance.now() - started < 500, 'refused at once, not after waiting for a writer');
  t.same(descriptorsInto(dir), [], 'each closed again');
});

t.test('a socket in its place cannot be opened: token-unreadable (66) with the errno', async (t) => {
  const dir = scratch(t);
  const socket = join(dir, 'op_sa_token');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const error = refusal(t, () => readToken(socket));
  refused(t, error, 'token-unreadable', 66, `cannot open ${socket} (ENXIO); check the secret mount`);
  t.match(error.cause, { code: 'ENXIO' }, 'the cause kept');
});

t.test('a file the reading user cannot open is token-unreadable (77), with what to do for its uid', async (t) => {
  const dir = scratch(t);
  chmodSync(dir, 0o755);
  const file = join(dir, 'op_sa_token');
  writeFileSync(file, token, { mode: 0o600 });
  // Root without the capability to read others' files (the container's root): the file is not its own.
  chownSync(file, NOBODY - 1, NOBODY - 1);
  const asRoot = refusal(t, () => asUser(NOBODY, () => readToken(file)));
  refused(
    t,
    asRoot,
    'token-unreadable',
    77,
    `${file} is not readable by uid 0; release it owned by root (\`npm run up\` run as root does): root in the container reads it with no capability, and has none to spare`,
  );
  t.match(asRoot.cause, { code: 'EACCES' }, 'the cause kept');
  // Started as another user than root.
  const getuid = process.getuid!;
  process.getuid = () => NOBODY;
  let asOther: StackError;
  try {
    asOther = refusal(t, () => asUser(NOBODY, () => readToken(file)));
  } finally {
    process.getuid = getuid;
  }
  refused(
    t,
    asOther,
    'token-unreadable',
    77,
    `${file} is not readable by uid ${NOBODY}; the entrypoint must start as root (the default)`,
  );
  // A directory it cannot search: the file cannot even be inspected.
  chmodSync(dir, 0o700);
  refused(
    t,
    refusal(t, () => asUser(NOBODY, () => readToken(file))),
    'token-unreadable',
    77,
    `cannot inspect ${file} (EACCES); check the secret mount`,
  );
});

t.test('an open that a security module denies (EPERM) is token-unreadable (77), like EACCES', async (t) => {
  const errno = (code: string | undefined) =>
    Object.assign(new Error(code ?? 'refused by something'), code === undefined ? {} : { code });
  const withFs = (overrides: Partial<typeof fs>) =>
    t.mockImport<typeof import('../../entrypoint/steps/read-token.js')>('../../entrypoint/steps/read-token.js', {
      'node:fs': { ...fs, ...overrides },
    });
  const dir = scratch(t);
  const file = join(dir, 'op_sa_token');
  writeFileSync(file, token);
  const denied = await withFs({
    openSync: () => {
      throw errno('EPERM');
    },
  });
  refused(
    t,
    refusal(t, () => denied.readToken(file)),
    'token-unreadable',
    77,
    `${file} is not readable by uid 0; release it owned by root (\`npm run up\` run as root does): root in the container reads it with no capability, and has none to spare`,
  );
  // A failure without an errno is still named as an error, never as "undefined".
  const opaqueOpen = await withFs({
    openSync: () => {
      throw errno(undefined);
    },
  });
  refused(
    t,
    refusal(t, () => opaqueOpen.readToken(file)),
    'token-unreadable',
    66,
    `cannot open ${file} (error); check the secret mount`,
  );
  const opaqueStat = await withFs({
    lstatSync: () => {
      throw errno(undefined);
    },
  });
  refused(
    t,
    refusal(t, () => opaqueStat.readToken(file)),
    'token-unreadable',
    77,
    `cannot inspect ${file} (error); check the secret mount`,
  );
});

t.test('an empty file, or one newline alone, is token-empty (65), with the command that seals it', async (t) => {
  const dir = scratch(t);
  for (const [name, text] of [
    ['empty', ''],
    ['newline', '\n'],
    ['crlf', '\r\n'],
  ] as const) {
    const file = join(dir, name);
    writeFileSync(file, text);
    refused(
      t,
      refusal(t, () => readToken(file)),
      'token-empty',
      65,
      `${file} is empty; seal it again with \`npm run seal\`, then npm run up`,
    );
    refused(
      t,
      refusal(t, () => readVaultSubset(file)),
      'token-empty',
      65,
      `${file} is empty; seal it again with \`npm run vault\`, then npm run up`,
    );
  }
  t.same(descriptorsInto(dir), [], 'each closed again');
});

t.test('64 KiB is read whole; one byte more is refused as too large (65) before any of it is parsed', async (t) => {
  const dir = scratch(t);
  const exact = join(dir, 'exact');
  writeFileSync(exact, `ops_${'A'.repeat(MAX_BYTES - 4)}`);
  // Read whole: the shape check counts every byte of it.
  refused(
    t,
    refusal(t, () => readToken(exact)),
    'token-shape',
    65,
    `the token has ${MAX_BYTES} characters, outside 64..8192; ${SHAPE}`,
  );
  for (const [name, size] of [
    ['one byte more', MAX_BYTES + 1],
    ['a megabyte', 1024 * 1024],
  ] as const) {
    const file = join(dir, name);
    writeFileSync(file, `${token}\n`.padEnd(size, 'A'));
    refused(
      t,
      refusal(t, () => readToken(file)),
      'token-shape',
      65,
      `${file} is larger than ${MAX_BYTES} bytes; it must hold the credential alone`,
    );
  }
  t.same(descriptorsInto(dir), [], 'each closed again');
});

t.test('trailing junk after the token is refused by its shape, never quoted', async (t) => {
  const dir = scratch(t);
  for (const [name, text, why] of [
    [
      'second newline',
      `${token}\n\n`,
      'the token ends with whitespace (a space, tab or a second line break); remove it',
    ],
    [
      'second line',
      `${token}\n${token}\n`,
      'the token has whitespace inside it (a space or a line break: two lines, or a wrapped paste); pass it on one line',
    ],
    [
      'a word after it',
      `${token} copied-from-a-note`,
      'the token has whitespace inside it (a space or a line break: two lines, or a wrapped paste); pass it on one line',
    ],
    ['punctuation', `${token}!!`, 'the token has characters outside base64url after its prefix'],
    ['a NUL', `${token}\0`, 'the token has characters outside base64url after its prefix'],
  ] as const) {
    const file = join(dir, name);
    writeFileSync(file, text);
    refused(
      t,
      refusal(t, () => readToken(file)),
      'token-shape',
      65,
      `${why}; ${SHAPE}`,
    );
  }
});

t.test('a document where the token belongs is named as one (65); a token where the vault belongs too', async (t) => {
  const dir = scratch(t);
  const document = join(dir, 'document');
  writeFileSync(document, JSON.stringify({ format: VAULT_FORMAT, items: { 'github/token': token } }));
  refused(
    t,
    refusal(t, () => readToken(document)),
    'token-shape',
    65,
    `${document} holds a document, not a service-account token (a part of the local vault?): BRIDGE_SECRETS_SOURCE is 1password; check SECRETS_SOURCE`,
  );
  t.same([...readVaultSubset(document)], [['github/token', token]], 'the same file is what the local vault reads');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${token}\n`);
  refused(
    t,
    refusal(t, () => readVaultSubset(tokenFile)),
    'vault-format',
    65,
    `${tokenFile} is not a local vault (not JSON); it holds something else (a service-account token?): check SECRETS_SOURCE`,
  );
  t.same(descriptorsInto(dir), [], 'each closed again');
});

t.test('a descriptor the test opened is seen by the leak check of descriptors (the check can fail)', async (t) => {
  const dir = scratch(t);
  writeFileSync(join(dir, 'held'), 'x');
  const fd = openSync(join(dir, 'held'), 'r');
  t.same(descriptorsInto(dir), [join(dir, 'held')]);
  closeSync(fd);
});
