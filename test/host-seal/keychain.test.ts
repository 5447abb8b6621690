// The keychain backend against a real Secret Service: GNOME Keyring on a
// private D-Bus session (dbus-run-session), as on a Linux desktop; the same
// code reaches the macOS Keychain. Round trip, forget, no bus, a locked keyring
// and a bus without an unlocked keyring.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import t from 'tap';
import { fakeToken } from '../fixtures/host-seal/fake-token.js';
import { cli, MAIN, sandbox } from '../support/host-seal/cli.js';
import { filesHolding, leaks, probes } from '../support/host-seal/leaks.js';
import { watchProcesses } from '../support/host-seal/watch-proc.js';

const SESSION = fileURLToPath(new URL('../support/host-seal/keyring-session.sh', import.meta.url));
const token = fakeToken();

/** Runs the CLI inside a fresh D-Bus session with an unlocked (or locked) login keyring. */
function inSession(
  args: string[],
  env: Record<string, string>,
  options: { input?: string; locked?: boolean; keyring?: boolean } = {},
) {
  const command = options.keyring === false ? ['node', MAIN, ...args] : ['bash', SESSION, 'node', MAIN, ...args];
  return execa('dbus-run-session', ['--', ...command], {
    env: { ...env, ...(options.locked ? { KEYRING_STATE: 'locked' } : {}) },
    extendEnv: false,
    reject: false,
    timeout: 60_000,
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
  });
}

/** stderr without the session daemons' own chatter (dbus-daemon's fd-limit warning, gcr-prompter's display warning). */
const cliLines = (stderr: string) =>
  stderr
    .split('\n')
    .filter((line) => line.startsWith('copilot-bridge-seal') || line.startsWith('sealed') || line.startsWith('forgot'))
    .join('\n');

t.test('round trip through the Secret Service: seal, status, unseal, forget', async (t) => {
  const box = await sandbox(t);
  const watch = watchProcesses(probes(token));
  const sealed = await inSession(['seal', '--backend', 'keychain'], box.env, { input: `${token}\n` });
  t.equal(sealed.exitCode, 0, 'seal succeeds');
  t.match(cliLines(sealed.stderr), /^sealed op-sa-token with keychain \(fingerprint [0-9a-f]{12}\)$/);

  const meta = join(box.configDir, 'op-sa-token.keychain.json');
  t.equal((await stat(meta)).mode & 0o777, 0o600, 'metadata file is 0600');
  const metadata = JSON.parse(await readFile(meta, 'utf8')) as Record<string, unknown>;
  t.match(metadata, { service: 'copilot-bridge-stack', account: 'op-sa-token', fingerprint: /^[0-9a-f]{12}$/ });
  t.notOk(leaks(await readFile(meta), token), 'metadata holds no token');

  const status = await cli(['status'], { env: box.env });
  t.match(
    status.stdout,
    /^op-sa-token\s+keychain\s+\S+\s+none\s+no\s+[0-9a-f]{12}\s+no$/m,
    'status reads metadata without a session',
  );

  const again = await inSession(['seal', '--backend', 'keychain'], box.env, { input: token });
  t.equal(again.exitCode, 73, 'no overwrite without --force');

  const unsealed = await inSession(['unseal'], box.env);
  t.equal(unsealed.exitCode, 0, 'unseal succeeds');
  t.equal(unsealed.stdout, token, 'the exact token comes back');

  const watched = await watch.stop();
  t.same(watched.hits, [], 'no argv or environment held the token');
  t.same(await filesHolding(box.root, token), [], 'no file holds the token in clear (the keyring file is encrypted)');
  const keyrings = await readdir(join(box.root, 'data', 'keyrings')).catch(() => []);
  t.ok(
    keyrings.some((name) => name.endsWith('.keyring')),
    `the keyring lives in the sandbox (${keyrings.join(', ') || 'no keyring file'})`,
  );

  const forgot = await inSession(['forget', '--name', 'op-sa-token'], box.env);
  t.equal(forgot.exitCode, 0);
  t.match(cliLines(forgot.stderr), 'forgot op-sa-token: removed the keychain seal');
  t.same(await readdir(box.configDir), [], 'metadata removed');
  const gone = await inSession(['unseal'], box.env);
  t.equal(gone.exitCode, 66, 'nothing sealed after forget');
  t.notOk(leaks(gone.stdout + gone.stderr, token));
});

t.test('no session bus: a clear error, nothing written', async (t) => {
  const box = await sandbox(t);
  const result = await cli(['seal', '--backend', 'keychain'], { env: box.env, input: token });
  t.equal(result.exitCode, 69, 'unavailable');
  t.match(
    result.stderr,
    /^copilot-bridge-seal: seal: no Secret Service is reachable \(no D-Bus session bus\); .*dbus-run-session.*gnome-keyring-daemon --unlock.*--backend tpm2/m,
  );
  t.notOk(leaks(result.stdout + result.stderr, token), 'no token in the output');
  t.same(await readdir(box.configDir).catch(() => []), [], 'no metadata written');
});

t.test('a locked keyring: a clear error naming how to unlock', async (t) => {
  const box = await sandbox(t);
  t.equal((await inSession(['seal', '--backend', 'keychain'], box.env, { input: token })).exitCode, 0);
  const locked = await inSession(['unseal'], box.env, { locked: true });
  t.equal(locked.exitCode, 77, 'refused');
  t.equal(locked.stdout, '');
  t.match(
    cliLines(locked.stderr),
    /the keyring holding op-sa-token is locked and could not be unlocked here; unlock it/,
  );
  t.notOk(leaks(locked.stdout + locked.stderr, token));
});

t.test('a session bus without an unlocked keyring: a clear error', async (t) => {
  const box = await sandbox(t);
  const result = await inSession(['seal', '--backend', 'keychain'], box.env, { input: token, keyring: false });
  t.not(result.exitCode, 0, 'refused');
  t.match(
    cliLines(result.stderr),
    /copilot-bridge-seal: seal: (the Secret Service has no unlocked default keyring|the keyring holding op-sa-token is locked)/,
  );
  t.notOk(leaks(result.stdout + result.stderr, token));
  t.same(await readdir(box.configDir).catch(() => []), [], 'no metadata written');
});
