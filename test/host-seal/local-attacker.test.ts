// A local attacker (nobody) against root's host commands, the cases a hostile
// review found after the release-directory races were closed: a named pipe
// where root redirects `unseal`, a symbolic link of the attacker's as
// XDG_RUNTIME_DIR (kept by `sudo -E`), a release directory made first by the
// attacker (for `compose`, `status` and the agent command), a link at the TPM
// context cache, a holder's pid reused to keep the lock, and an auth file that
// is a named pipe. Each is shown to fail, with a control where it matters, and
// the token reaches nobody.
import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { fakeToken } from '../fixtures/host-seal/fake-token.js';
import { cli, MAIN, sandbox } from '../support/host-seal/cli.js';
import { leaks } from '../support/host-seal/leaks.js';
import { startSwtpm } from '../support/host-seal/swtpm.js';

const NOBODY = 65534;
const asNobody = (script: string, ...args: string[]) =>
  execa(
    'setpriv',
    [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'sh', '-c', script, 'attacker', ...args],
    { reject: false, stdin: 'ignore' },
  );
const ROOT = join(import.meta.dirname, '..', '..');
const AGENT = join(ROOT, 'dist', 'agents', 'main.js');

/** A sticky, world-writable tmpfs-backed directory, as /dev/shm or /tmp are: where the attacker may plant things. */
function stickyPlace(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync('/dev/shm/cbs-attack-');
  chmodSync(dir, 0o1777);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('unseal into a named pipe someone else made is refused; into an anonymous pipe it works', async (t) => {
  const box = await sandbox(t);
  const tpm = await startSwtpm(box.root);
  t.teardown(() => tpm.stop());
  const env = { ...box.env, TPM2TOOLS_TCTI: tpm.tcti, SECRETS_SOURCE: '1password' };
  const token = fakeToken();
  t.equal((await cli(['seal'], { env, input: token })).exitCode, 0);
  const place = stickyPlace(t);
  const fifo = join(place, 'out');
  const stolen = join(place, 'stolen');
  // The attacker: a FIFO where root will redirect, and a reader on it.
  const reader = asNobody('mkfifo -m 622 "$1" && cat "$1" > "$2"', fifo, stolen);
  for (let i = 0; i < 100 && !existsSync(fifo); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  const fd = openSync(fifo, 'w'); // the shell's `> out`
  const child = spawn('node', [MAIN, 'unseal'], { env, stdio: ['ignore', fd, 'pipe'] });
  closeSync(fd);
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  await reader;
  t.equal(code, 77, 'refused for safety');
  t.match(stderr, /refusing to write the token into a named pipe \(whoever opened its other end would read it\)/);
  t.equal(readFileSync(stolen, 'utf8'), '', 'the attacker read nothing');
  const control = await execa('bash', ['-o', 'pipefail', '-c', `node ${MAIN} unseal | cat`], {
    env,
    extendEnv: false,
    reject: false,
  });
  t.equal(control.stdout, token, 'control: through an anonymous pipe the token comes out');
});

t.test(
  "an XDG_RUNTIME_DIR that is another user's symbolic link is refused: root's commands cannot be pointed at another directory",
  async (t) => {
    const box = await sandbox(t);
    const place = stickyPlace(t);
    // Root's own tmpfs directory (another stack's release directory, say), with a file in it.
    const victim = mkdtempSync('/dev/shm/cbs-victim-');
    t.teardown(() => rmSync(victim, { recursive: true, force: true }));
    mkdirSync(join(victim, 'copilot-bridge-stack'), { mode: 0o700 });
    writeFileSync(join(victim, 'copilot-bridge-stack', 'op-sa-token'), "another stack's token", { mode: 0o400 });
    const link = join(place, 'rt');
    await asNobody('ln -s "$1" "$2"', victim, link);
    const env = { ...box.env, XDG_RUNTIME_DIR: link, SECRETS_SOURCE: '1password' };
    for (const args of [['down'], ['forget', '--name', 'op-sa-token']]) {
      const run = await cli(args, { env, cwd: box.root });
      t.equal(run.exitCode, 77, `${args[0]}: refused (${run.stderr.trim().split('\n').at(-1)})`);
      t.match(
        run.stderr,
        new RegExp(
          `${link} is a symbolic link of uid ${NOBODY}, who could point the release directory anywhere; as root, unset XDG_RUNTIME_DIR`,
        ),
      );
    }
    t.equal(
      readFileSync(join(victim, 'copilot-bridge-stack', 'op-sa-token'), 'utf8'),
      "another stack's token",
      'the other directory is untouched',
    );
    // Control: root's own link to the same place is followed, to its real path.
    const own = join(box.root, 'rt');
    symlinkSync(victim, own);
    const { releaseDir } = await import('../../src/stack/settings.js');
    t.equal(
      releaseDir({ XDG_RUNTIME_DIR: own }, 'linux'),
      join(victim, 'copilot-bridge-stack'),
      "control: root's own link is resolved once, and the real path is what every command uses",
    );
  },
);

t.test(
  'a release directory the attacker made first: compose, status and the agent command refuse it; nothing of it is mounted',
  async (t) => {
    const box = await sandbox(t);
    const place = stickyPlace(t);
    const fake = 'ops_ATTACKER_SUBSTITUTE';
    await asNobody(
      'mkdir -m 755 "$1/copilot-bridge-stack" && printf %s "$2" > "$1/copilot-bridge-stack/op-sa-token" && printf %s "$2" > "$1/copilot-bridge-stack/vault-agent-lal"',
      place,
      fake,
    );
    const checkout = mkdtempSync(join(box.root, 'checkout-'));
    writeFileSync(join(checkout, 'compose.yml'), 'services: {}\n');
    writeFileSync(join(checkout, '.env'), `AGENTS_FILE=${join(ROOT, 'test', 'fixtures', 'agents.json')}\n`);
    const env = { ...box.env, XDG_RUNTIME_DIR: place };
    const compose = await cli(['compose', 'config'], { env, cwd: checkout });
    t.equal(compose.exitCode, 77, `compose refuses (${compose.stderr.trim()})`);
    t.match(
      compose.stderr,
      /copilot-bridge-stack belongs to uid 65534, not to you; remove it \(it may be another user's trap\) and retry/,
    );
    const status = await cli(['status'], { env: { ...env, SECRETS_SOURCE: '1password' }, cwd: checkout });
    t.notMatch(status.stdout, /yes:/, 'status reports nothing of it as released');
    const agent = await execa('node', [AGENT, 'spec', 'lal'], {
      cwd: checkout,
      env: { PATH: process.env.PATH!, XDG_RUNTIME_DIR: place },
      extendEnv: false,
      reject: false,
    });
    t.equal(agent.exitCode, 77, `the agent command refuses (${agent.stderr.trim()})`);
    t.notMatch(agent.stdout, /vault-agent-lal|op-sa-token/, 'and builds no body that mounts its files');
  },
);

t.test('a link at the TPM context cache: seal does not delete the files it points at', async (t) => {
  const box = await sandbox(t);
  const tpm = await startSwtpm(box.root);
  t.teardown(() => tpm.stop());
  const place = stickyPlace(t);
  const victim = mkdtempSync('/dev/shm/cbs-victim-cache-');
  t.teardown(() => rmSync(victim, { recursive: true, force: true }));
  const precious = join(victim, 'op-sa-token.0000000000000000.ctx');
  writeFileSync(precious, "root's file");
  await asNobody('ln -s "$1" "$2/copilot-bridge-stack-tpm2"', victim, place);
  const env = { ...box.env, TPM2TOOLS_TCTI: tpm.tcti, XDG_RUNTIME_DIR: place };
  t.equal((await cli(['seal'], { env, input: fakeToken() })).exitCode, 0, 'seal');
  t.equal(
    (await cli(['seal', '--force'], { env, input: fakeToken() })).exitCode,
    0,
    'seal --force (which drops cached contexts of the name)',
  );
  t.ok(existsSync(precious), 'the file behind the link is still there');
});

t.test("a holder's pid reused by another process does not keep the lock for 15 minutes", async (t) => {
  const box = await sandbox(t);
  const sleeper = asNobody('exec sleep 60');
  t.teardown(() => sleeper.kill());
  await new Promise((resolve) => setTimeout(resolve, 200));
  const lock = join(box.configDir, '.stack.lock');
  mkdirSync(lock, { recursive: true, mode: 0o700 });
  chmodSync(box.configDir, 0o700);
  // The holder file of a killed `down` whose pid the attacker now has: same pid, another start time.
  writeFileSync(join(lock, 'holder'), `${sleeper.pid}\ndown\n1\n`);
  const started = Date.now();
  const forget = await cli(['forget', '--name', 'op-sa-token'], { env: box.env });
  t.equal(forget.exitCode, 66, `the stale lock is broken and forget goes on (${forget.stderr.trim()})`);
  t.ok(Date.now() - started < 10_000, 'at once, not after the 15-minute wait');
  // Control: a holder that is that very process (its start time) is respected.
  const stat = readFileSync(`/proc/${sleeper.pid}/stat`, 'utf8');
  mkdirSync(lock, { mode: 0o700 });
  writeFileSync(
    join(lock, 'holder'),
    `${sleeper.pid}\ndown\n${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}\n`,
  );
  const waiting = await execa('timeout', ['3', 'node', MAIN, 'forget', '--name', 'op-sa-token'], {
    env: box.env,
    extendEnv: false,
    reject: false,
  });
  t.equal(waiting.exitCode, 124, 'control: a live holder is waited for');
  t.match(waiting.stderr, new RegExp(`waiting for another copilot-bridge-seal \\(pid ${sleeper.pid}, down\\)`));
  rmSync(lock, { recursive: true, force: true });
});

t.test('an auth file that is a named pipe or a link: refused at once, nothing sent to the TPM', async (t) => {
  const box = await sandbox(t);
  const tpm = await startSwtpm(box.root);
  t.teardown(() => tpm.stop());
  const place = stickyPlace(t);
  const env = { ...box.env, TPM2TOOLS_TCTI: tpm.tcti };
  await asNobody('mkfifo -m 666 "$1/auth" && ln -s /etc/hostname "$1/auth-link"', place);
  const token = fakeToken();
  for (const [what, file, message] of [
    ['a named pipe', join(place, 'auth'), /it is not a regular file/],
    ['a symbolic link', join(place, 'auth-link'), /it is a symbolic link; name the file itself/],
    // Only /dev/fd/N itself is an inherited descriptor: a path that merely starts so is any other path.
    ['a named pipe through /dev/fd/..', `/dev/fd/../../..${join(place, 'auth')}`, /it is not a regular file/],
  ] as const) {
    const run = await execa('timeout', ['10', 'node', MAIN, 'seal', '--name', 'auth-x', '--auth-file', file], {
      env,
      extendEnv: false,
      reject: false,
      input: token,
    });
    t.equal(run.exitCode, 66, `${what}: refused (${run.stderr.trim()})`);
    t.match(run.stderr, message);
    t.notOk(leaks(run.stdout + run.stderr, token), 'no token in the output');
  }
  chownSync(place, 0, 0);
  // Control: an inherited pipe (/dev/fd/N) is waited for, even when its writer is slow.
  const slow = await execa(
    'bash',
    ['-c', `node ${MAIN} seal --name auth-y --auth-file /dev/fd/3 3< <(sleep 0.5; printf 'slow but right')`],
    { env, extendEnv: false, reject: false, input: token },
  );
  t.equal(slow.exitCode, 0, `control: an auth value from a slow pipe is read (${slow.stderr.trim()})`);
  // And one whose writer keeps it open after the line: read to the newline, not to an end that comes a minute later.
  const started = Date.now();
  const open = await execa(
    'bash',
    [
      '-c',
      `node ${MAIN} seal --name auth-z --auth-file /dev/fd/3 3< <(printf 'slow but right\n'; exec sleep 60 2>/dev/null)`,
    ],
    { env, extendEnv: false, reject: false, input: token, timeout: 50_000 },
  );
  t.equal(open.exitCode, 0, `a pipe kept open: its line is the value (${open.stderr.trim()})`);
  t.ok(Date.now() - started < 40_000, 'without waiting for the writer to close it');
});
