// A local attacker against root's `forget` and `down`: an unprivileged user
// (nobody) who controls the place the release directory lives in, plants the
// directory there and flips the token's name between a file and a symlink to
// a root-owned file elsewhere, as fast as it can, while root wipes. The
// release directory must be proven root's own first (every directory above
// it root's or root-only, the directory itself opened without following a
// link), so every wipe refuses, and the root-owned file keeps its content and
// mode. 200 wipes of each kind in the library the commands call, and real
// command runs besides. Control: in root's own directory the same wipe works,
// and the attacker cannot even plant a file there.

import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { cli, sandbox } from '../support/host-seal/cli.js';

// In this process the source itself (what mutation testing changes); in the children, as nobody, the compiled module.
const release = await import('../../host-seal/stack/release.js');
const NOBODY = 65534;
const ROUNDS = 200;

/** A shell loop as nobody that swaps `name` in `dir` between an empty file and a symlink to `target`, by rename (atomic). */
function flipper(dir: string, name: string, target: string) {
  const script = `cd "$1" || exit 1; while :; do ln -sfn "$2" .l && mv -fT .l "$3"; : > .f && mv -fT .f "$3"; done`;
  return execa(
    'setpriv',
    [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'sh', '-c', script, 'flipper', dir, target, name],
    { reject: false, stdin: 'ignore' },
  );
}

/** Runs forget's and down's wipes ROUNDS times each; returns how many refused as `refusal` says, throwing on any other error. */
async function refusedWipes(dir: string, refusal: RegExp): Promise<number> {
  let refused = 0;
  for (let i = 0; i < ROUNDS; i++) {
    for (const wipe of [
      () => release.wipeReleasedName(dir, 'linux', 'op-sa-token'),
      () => release.wipeReleased(dir, 'linux'),
    ]) {
      try {
        await wipe();
      } catch (error) {
        if ((error as { code?: string }).code === 'unsafe-dir' && refusal.test(String((error as Error).message)))
          refused++;
        else throw error;
      }
    }
  }
  return refused;
}

function victim(root: string): { path: string; before: () => string } {
  const path = join(root, 'root-owned-file');
  writeFileSync(path, 'root-owned content\n', { mode: 0o644 });
  const state = () =>
    `${readFileSync(path, 'utf8')}|${(statSync(path).mode & 0o7777).toString(8)}|${statSync(path).uid}`;
  return { path, before: state };
}

t.test(
  "a release directory under a directory the attacker owns (root's XDG_RUNTIME_DIR kept by sudo -E): every wipe refuses, nothing outside changes",
  async (t) => {
    const box = await sandbox(t);
    const theirs = join(box.root, 'their-runtime-dir');
    mkdirSync(theirs, { mode: 0o700 });
    chownSync(theirs, NOBODY, NOBODY);
    chmodSync(box.root, 0o755);
    const target = victim(box.root);
    const expected = target.before();
    // The attacker plants the directory root's commands will look for.
    await execa('setpriv', [
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      '--clear-groups',
      'mkdir',
      '-m',
      '0777',
      join(theirs, 'copilot-bridge-stack'),
    ]);
    const flip = flipper(join(theirs, 'copilot-bridge-stack'), 'op-sa-token', target.path);
    t.teardown(() => {
      flip.kill('SIGKILL');
    });
    const env = { ...box.env, XDG_RUNTIME_DIR: theirs };
    const dir = release.releaseDir(env, 'linux');
    const refused = await refusedWipes(dir, /their-runtime-dir belongs to uid 65534, who could swap/);
    t.equal(refused, 2 * ROUNDS, `all ${2 * ROUNDS} wipes (forget's and down's) refused the directory`);
    for (const command of [['forget', '--name', 'op-sa-token'], ['down']]) {
      for (let i = 0; i < 5; i++) {
        const run = await cli(command, { env, cwd: box.root });
        t.equal(run.exitCode, 77, `${command[0]} run ${i}: refused for safety`);
        t.match(
          run.stderr.trim().split('\n').at(-1),
          /their-runtime-dir belongs to uid 65534, who could swap the release directory .*; as root, unset XDG_RUNTIME_DIR \(sudo without -E\)/,
          'naming the directory and the fix',
        );
      }
    }
    t.equal(target.before(), expected, 'the root-owned file has its content, mode and owner');
  },
);

t.test(
  "a directory the attacker planted in a sticky shared directory (/dev/shm): refused as not root's own",
  async (t) => {
    const box = await sandbox(t);
    const shared = join(box.root, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    chmodSync(box.root, 0o755);
    const target = victim(box.root);
    const expected = target.before();
    await execa('setpriv', [
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      '--clear-groups',
      'mkdir',
      '-m',
      '0777',
      join(shared, 'copilot-bridge-stack'),
    ]);
    const flip = flipper(join(shared, 'copilot-bridge-stack'), 'op-sa-token', target.path);
    t.teardown(() => {
      flip.kill('SIGKILL');
    });
    const dir = join(shared, 'copilot-bridge-stack');
    const refused = await refusedWipes(dir, /belongs to uid 65534, not to you/);
    t.equal(refused, 2 * ROUNDS, `all ${2 * ROUNDS} wipes refused the planted directory`);
    await t.rejects(
      release.prepareReleaseDir(dir, 'linux'),
      { code: 'unsafe-dir' },
      'and up would not release into it',
    );
    t.equal(target.before(), expected, 'the root-owned file is untouched');
  },
);

t.test(
  'the release directory itself a symlink to a root-owned directory: forget --name other deletes nothing there',
  async (t) => {
    const box = await sandbox(t);
    const theirs = join(box.root, 'runtime');
    mkdirSync(theirs, { mode: 0o1777 });
    chmodSync(theirs, 0o1777);
    chmodSync(box.root, 0o755);
    const elsewhere = join(box.root, 'root-dir');
    mkdirSync(elsewhere, { mode: 0o700 });
    writeFileSync(join(elsewhere, 'other'), 'keep me\n', { mode: 0o600 });
    await execa('setpriv', [
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      '--clear-groups',
      'ln',
      '-s',
      elsewhere,
      join(theirs, 'copilot-bridge-stack'),
    ]);
    const run = await cli(['forget', '--name', 'other'], {
      env: { ...box.env, XDG_RUNTIME_DIR: theirs },
      cwd: box.root,
    });
    t.equal(run.exitCode, 77, `refused (${run.stderr.trim()})`);
    t.match(run.stderr, /is not a directory \(a symlink or a file planted there\); remove it and retry/);
    t.equal(
      readFileSync(join(elsewhere, 'other'), 'utf8'),
      'keep me\n',
      'the file in the directory the link points at is intact',
    );
  },
);

t.test("control: in root's own directory the wipe works, and the attacker cannot plant anything in it", async (t) => {
  const box = await sandbox(t);
  const dir = release.releaseDir(box.env, 'linux');
  const handle = await release.prepareReleaseDir(dir, 'linux');
  await release.releaseToken(handle, 'op-sa-token', 'x'.repeat(100));
  handle.close();
  const plant = await execa(
    'setpriv',
    [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'ln', '-s', '/etc/shadow', join(dir, 'planted')],
    { reject: false },
  );
  t.not(plant.exitCode, 0, `nobody cannot add an entry to it (${plant.stderr.trim()})`);
  t.same((await release.wipeReleased(dir, 'linux')).wiped, ['op-sa-token'], 'root wipes its own token');
  t.notOk(existsSync(dir), 'and removes the directory');
});

t.test('the same directory reused after a symlink was planted in its place is refused, not followed', async (t) => {
  const box = await sandbox(t);
  const dir = release.releaseDir(box.env, 'linux');
  symlinkSync('/etc', dir);
  await t.rejects(release.prepareReleaseDir(dir, 'linux'), {
    code: 'unsafe-dir',
    message: /is not a directory \(a symlink or a file planted there\)/,
  });
  t.ok(statSync('/etc/passwd').isFile(), '/etc untouched');
});
