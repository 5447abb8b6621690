// The release directory in this process, against a hostile local user: the
// real functions of host-seal/stack/release.ts and src/stack/release-dir.ts on
// real directories in /dev/shm (a tmpfs), on a 4 KiB tmpfs of the test's own
// (a full one), on the disk, and at root's own /run/copilot-bridge-stack when
// it is free, with a canary token. What a local user can set up there (a
// symbolic link, a directory or a parent of theirs, a group- or
// world-writable parent, a file planted at the name) is refused with its code
// and its one-line message, which never holds the value; what is created has
// the owner and mode of the threat model; a wipe zeroes what a holder still
// has open, leaves a link's target alone, and leaves nothing behind. "As a
// user" runs the function with this process's effective uid and gid set to
// that user (so the kernel refuses what it would refuse them) and getuid
// answering it. macOS's way (paths, tmutil) runs here too, with a stand-in
// tmutil on PATH. About a second: the mutation run uses this file alone for
// these two modules (test/host-seal/release.test.ts runs the built program's
// children as nobody, too slowly for that).
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmdirSync,
  rmSync,
  statfsSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import * as release from '../../host-seal/stack/release.js';
import type { StackError } from '../../src/errors.js';
import {
  assertSafeAncestors,
  canonicalDir,
  isOwnReleaseDir,
  lstatIfExists,
  notOurs,
  uidNow,
} from '../../src/stack/release-dir.js';
import { fakeServiceAccountToken } from '../fixtures/tokens.js';

const NOBODY = 65534;
/** Another local user, who owns nothing here. */
const OTHER = 1000;
const token = fakeServiceAccountToken();
const TMPFS_MAGIC = 0x01021994;
const ROOT_DEFAULT = '/run/copilot-bridge-stack';

// Everything this process makes lives under two directories named by its pid, one in /dev/shm and one on
// the disk, removed at the end, on SIGTERM (a mutation run stops a file at its first failure that way) and,
// when a run was killed outright, by the next run: what is left by a process that is gone is swept first.
const PREFIX = 'cbs-release-unit-';
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
};
/** Mount points at `path` or under it, deepest first, as /proc/self/mountinfo lists them. */
const mountsUnder = (path: string) =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((at) => at === path || at.startsWith(`${path}/`))
    .sort((a, b) => b.length - a.length);
/** Mount points at exactly `path`. */
const mountsAt = (path: string) => mountsUnder(path).filter((at) => at === path);
/** Unmounts whatever is mounted at or under `path` (a mutant may have mounted a tmpfs anywhere), then removes it. */
function removeTree(path: string): void {
  for (let left = mountsUnder(path); left.length > 0; left = mountsUnder(path))
    for (const at of left) execFileSync('umount', ['--lazy', at]); // lazy: a descriptor still open must not keep it
  rmSync(path, { recursive: true, force: true });
}
for (const parent of ['/dev/shm', '/var/tmp'])
  for (const name of readdirSync(parent)) {
    const pid = new RegExp(`^${PREFIX}(\\d+)-`).exec(name)?.[1];
    if (pid !== undefined && !alive(Number(pid))) removeTree(join(parent, name));
  }
const shmBase = mkdtempSync(`/dev/shm/${PREFIX}${process.pid}-`);
const diskBase = mkdtempSync(`/var/tmp/${PREFIX}${process.pid}-`);
chmodSync(shmBase, 0o755);
chmodSync(diskBase, 0o755);

// Root's own default directory is shared by every run of this file: a lock file in /dev/shm says whose it is.
const LOCK = `/dev/shm/${PREFIX}root-default.lock`;
const holdsLock = () => {
  try {
    return readFileSync(LOCK, 'utf8') === String(process.pid);
  } catch {
    return false;
  }
};
function releaseRootDefault(): void {
  if (!holdsLock()) return;
  removeTree(ROOT_DEFAULT);
  rmSync(LOCK, { force: true });
}
/** Takes root's default directory for this run: undefined, or why it cannot be used here. */
async function takeRootDefault(): Promise<string | undefined> {
  if (statfsSync('/run').type === TMPFS_MAGIC) return '/run is a tmpfs here, so no tmpfs of its own is mounted';
  for (let waited = 0; ; waited += 50) {
    try {
      writeFileSync(LOCK, String(process.pid), { flag: 'wx' });
      break;
    } catch {
      const holder = Number(readFileSync(LOCK, { encoding: 'utf8', flag: 'a+' }));
      if (!alive(holder)) {
        removeTree(ROOT_DEFAULT); // what a killed run of this file left
        rmSync(LOCK, { force: true });
      } else if (waited > 10_000) return 'another run of this file has held it for ten seconds';
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  if (!existsSync(ROOT_DEFAULT)) return undefined;
  rmSync(LOCK, { force: true });
  return `${ROOT_DEFAULT} exists and is not this test's: in use here`;
}

/** Back to root (a signal may come in the middle of asUser), then everything of this run removed. */
function cleanUp(): void {
  if (process.geteuid?.() !== 0) {
    process.seteuid?.(0);
    process.setegid?.(0);
  }
  removeTree(shmBase);
  removeTree(diskBase);
  releaseRootDefault();
}
t.teardown(cleanUp);
// On exit: back to root first of all (a mutation run's hook then writes its results into a directory only root may
// write), and the clean-up after the hook, never throwing (an exception there would keep the hook from running).
process.prependListener('exit', () => {
  process.seteuid?.(0);
  process.setegid?.(0);
});
process.on('exit', () => {
  try {
    cleanUp();
  } catch {
    // Swept by the next run.
  }
});
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.once(signal, () => process.exit(128 + (signal === 'SIGTERM' ? 15 : 2)));

// A stand-in for macOS's tmutil, first on PATH for the whole file: it notes its arguments and exits TMUTIL_EXIT.
const bin = mkdtempSync(join(diskBase, 'bin-'));
const tmutilLog = join(bin, 'tmutil.log');
writeFileSync(
  join(bin, 'tmutil'),
  `#!/bin/sh\n# Stands for macOS's tmutil: notes its arguments.\necho "$*" >> ${tmutilLog}\nexit "\${TMUTIL_EXIT:-0}"\n`,
  { mode: 0o755 },
);
const PATH = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin';
process.env.PATH = `${bin}:${PATH}`;
t.teardown(() => {
  process.env.PATH = PATH;
});
const tmutilCalls = () => (existsSync(tmutilLog) ? readFileSync(tmutilLog, 'utf8') : '');

/** A fresh directory in /dev/shm (root's, `mode`). */
function shm(mode = 0o755): string {
  const dir = mkdtempSync(join(shmBase, 'box-'));
  chmodSync(dir, mode);
  return dir;
}

/** A fresh directory on the disk (root's, 0755). */
function disk(): string {
  const dir = mkdtempSync(join(diskBase, 'box-'));
  chmodSync(dir, 0o755);
  return dir;
}

/** A tmpfs of one 4 KiB page, mounted for this test, unmounted in teardown. */
function fullTmpfs(t: Test): string {
  const dir = mkdtempSync(join(diskBase, 'full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4k,mode=0755', 'tmpfs', dir]);
  t.teardown(() => removeTree(dir));
  return dir;
}

/** Runs `fn` as `uid` would: effective uid and gid set to it (what the kernel checks), getuid answering it. */
async function asUser<T>(uid: number, fn: () => T | Promise<T>): Promise<T> {
  const getuid = uids.getuid;
  uids.getuid = () => uid;
  process.setegid?.(uid);
  process.seteuid?.(uid);
  try {
    return await fn();
  } finally {
    process.seteuid?.(0);
    process.setegid?.(0);
    uids.getuid = getuid;
  }
}
/** The process, with getuid replaceable (and absent, as on Windows). */
const uids = process as { getuid?: (() => number) | undefined };

/** What `fn` threw or rejected with; a test failure when it did not. */
async function caught(fn: () => unknown): Promise<StackError> {
  try {
    await fn();
  } catch (error) {
    return error as StackError;
  }
  throw new Error('expected a refusal, and it went through');
}

/** The system error code of a refusal's cause. */
const causeCode = (error: Error) => (error.cause as { code?: string } | undefined)?.code;

/** What a person sees of a refusal: code, exit status and the one line printed. */
const said = (error: StackError) => ({ code: error.code, exitCode: error.exitCode, line: error.oneLine() });

/** The descriptors this process has open. */
const openFds = () => readdirSync('/proc/self/fd').length;

/** The first `size` bytes of the open file, as a holder of it reads them. */
function readHeld(fd: number, size: number): Buffer {
  const buffer = Buffer.alloc(size, 0xff);
  readSync(fd, buffer, 0, size, 0);
  return buffer;
}
const zeros = (size: number) => Buffer.alloc(size);

/** A ReleaseDir opened for `dir`, with these released into it, closed again. */
async function released(dir: string, names: string[], platform: NodeJS.Platform = 'linux'): Promise<void> {
  const handle = await release.prepareReleaseDir(dir, platform);
  try {
    for (const name of names) await release.releaseToken(handle, name, token);
  } finally {
    handle.close();
  }
}

t.test(
  'canonicalDir: a link in the path is resolved when root or the user owns it, refused when another user does',
  async (t) => {
    const box = shm();
    mkdirSync(join(box, 'real', 'sub'), { recursive: true });
    symlinkSync(join(box, 'real'), join(box, 'link'));
    t.equal(
      canonicalDir(join(box, 'link', 'copilot-bridge-stack')),
      join(box, 'real', 'copilot-bridge-stack'),
      "root's link as the parent: resolved (macOS's /var is one)",
    );
    t.equal(
      canonicalDir(join(box, 'link', 'sub', 'copilot-bridge-stack')),
      join(box, 'real', 'sub', 'copilot-bridge-stack'),
      "root's link higher up: resolved",
    );
    t.equal(canonicalDir(join(box, 'link', 'c'), OTHER), join(box, 'real', 'c'), "root's link, for a user: resolved");

    lchownSync(join(box, 'link'), NOBODY, NOBODY);
    t.equal(canonicalDir(join(box, 'link', 'c'), NOBODY), join(box, 'real', 'c'), "the user's own link: resolved");
    const asRoot = `release: ${box}/link is a symbolic link of uid 65534, who could point the release directory anywhere; as root, unset XDG_RUNTIME_DIR (sudo without -E)`;
    t.same(said(await caught(() => canonicalDir(join(box, 'link', 'copilot-bridge-stack')))), {
      code: 'unsafe-dir',
      exitCode: 77,
      line: asRoot,
    });
    t.same(
      said(await caught(() => canonicalDir(join(box, 'link', 'sub', 'copilot-bridge-stack'), 0))),
      { code: 'unsafe-dir', exitCode: 77, line: asRoot },
      "another user's link higher up in root's path: refused, and named",
    );
    t.same(
      said(await caught(() => canonicalDir(join(box, 'link', 'copilot-bridge-stack'), OTHER))),
      {
        code: 'unsafe-dir',
        exitCode: 77,
        line: `release: ${box}/link is a symbolic link of uid 65534, who could point the release directory anywhere; point XDG_RUNTIME_DIR at a directory of yours`,
      },
      "another user's link in a user's path: refused, with a user's fix",
    );

    chownSync(join(box, 'real'), NOBODY, NOBODY);
    t.equal(
      canonicalDir(join(box, 'real', 'c')),
      join(box, 'real', 'c'),
      "another user's directory (not a link) is the ancestors' check's business, not this one's",
    );
    t.equal(
      canonicalDir(join(box, 'missing', 'deeper', 'c')),
      join(box, 'missing', 'deeper', 'c'),
      'a missing parent: as given',
    );
    symlinkSync(join(box, 'nowhere'), join(box, 'dangling'));
    t.equal(canonicalDir(join(box, 'dangling', 'c')), join(box, 'dangling', 'c'), "root's dangling link: as given");
  },
);

t.test(
  "assertSafeAncestors: every directory above must be root's or the user's and writable by no one else unless sticky",
  async (t) => {
    const box = shm();
    const at = (...parts: string[]) => join(box, ...parts, 'copilot-bridge-stack');
    t.doesNotThrow(() => assertSafeAncestors(at()), "root's 0755 directory in the sticky /dev/shm");

    const missing = await caught(() => assertSafeAncestors(at('missing')));
    t.same(said(missing), {
      code: 'release-parent',
      exitCode: 66,
      line: `release: ${box}/missing does not exist; create it, or point XDG_RUNTIME_DIR at a tmpfs directory of yours`,
    });
    t.equal(causeCode(missing), 'ENOENT', 'the cause is kept');

    mkdirSync(join(box, 'real'));
    symlinkSync(join(box, 'real'), join(box, 'link'));
    t.same(said(await caught(() => assertSafeAncestors(at('link')))), {
      code: 'unsafe-dir',
      exitCode: 77,
      line: `release: the release directory ${box}/link/copilot-bridge-stack has a symbolic link in its path (${box}/link is ${box}/real), which its owner could point elsewhere after this check; use the real path (XDG_RUNTIME_DIR=${box}/real)`,
    });

    mkdirSync(join(box, 'theirs', 'sub'), { recursive: true, mode: 0o755 });
    chownSync(join(box, 'theirs'), NOBODY, NOBODY);
    const swap = `release: ${box}/theirs belongs to uid 65534, who could swap the release directory`;
    t.same(said(await caught(() => assertSafeAncestors(at('theirs'), 0))), {
      code: 'unsafe-dir',
      exitCode: 77,
      line: `${swap} ${at('theirs')}; as root, unset XDG_RUNTIME_DIR (sudo without -E) or point it at a directory only root can write`,
    });
    t.same(
      said(await caught(() => assertSafeAncestors(at('theirs', 'sub'), 0))),
      {
        code: 'unsafe-dir',
        exitCode: 77,
        line: `${swap} ${at('theirs', 'sub')}; as root, unset XDG_RUNTIME_DIR (sudo without -E) or point it at a directory only root can write`,
      },
      "another user's directory higher up: refused, and named",
    );
    t.same(
      said(await caught(() => assertSafeAncestors(at('theirs'), OTHER))),
      {
        code: 'unsafe-dir',
        exitCode: 77,
        line: `${swap} ${at('theirs')}; point XDG_RUNTIME_DIR at a directory of yours`,
      },
      "another user's parent, for a user",
    );
    t.doesNotThrow(() => assertSafeAncestors(at('theirs'), NOBODY), 'their own parent, for them');
    t.doesNotThrow(() => assertSafeAncestors(at('theirs', 'sub'), NOBODY), "their own, under root's");

    for (const [mode, who] of [
      [0o775, 'its group'],
      [0o757, 'everyone'],
    ] as const) {
      const open = join(box, `open-${mode.toString(8)}`);
      mkdirSync(open);
      chmodSync(open, mode);
      t.same(
        said(await caught(() => assertSafeAncestors(join(open, 'copilot-bridge-stack')))),
        {
          code: 'unsafe-dir',
          exitCode: 77,
          line: `release: ${open} may be written by other users and is not sticky, so they could swap the release directory ${open}/copilot-bridge-stack; point XDG_RUNTIME_DIR at a directory only you can write`,
        },
        `a parent ${who} may write, not sticky: refused`,
      );
      chmodSync(open, 0o1000 | mode);
      t.doesNotThrow(() => assertSafeAncestors(join(open, 'copilot-bridge-stack')), `the same, sticky: accepted`);
    }
  },
);

t.test('isOwnReleaseDir and lstatIfExists: the look of the agent command, which only reads', async (t) => {
  const box = shm();
  const dir = join(box, 'copilot-bridge-stack');
  t.equal(lstatIfExists(dir), undefined, 'nothing there: undefined');
  t.equal(isOwnReleaseDir(dir), false, 'nothing there: false, and nothing created');
  t.notOk(existsSync(dir));

  mkdirSync(dir, { mode: 0o700 });
  t.equal(lstatIfExists(dir)?.isDirectory(), true);
  t.equal(isOwnReleaseDir(dir), true, "root's own 0700 directory");
  t.same(
    said(await caught(() => isOwnReleaseDir(dir, NOBODY))),
    {
      code: 'unsafe-dir',
      exitCode: 77,
      line: `release: ${dir} belongs to uid 0, not to you; ask root to remove it (in a sticky directory only its owner or root can), or point XDG_RUNTIME_DIR at a directory of yours (normally /run/user/UID)`,
    },
    "root's directory, for a user",
  );
  for (const mode of [0o750, 0o701]) {
    chmodSync(dir, mode);
    t.same(said(await caught(() => isOwnReleaseDir(dir))), {
      code: 'unsafe-dir',
      exitCode: 77,
      line: `release: ${dir} may be read or written by others (mode ${mode.toString(8)}); run npm run down, then npm run up`,
    });
  }
  chmodSync(dir, 0o700);

  writeFileSync(join(box, 'file'), '');
  const underAFile = await caught(() => lstatIfExists(join(box, 'file', 'x')));
  t.equal((underAFile as { code?: string }).code, 'ENOTDIR', 'an error other than "nothing there" is thrown');
  await caught(() => isOwnReleaseDir(join(box, 'file', 'x'))).then((error) =>
    t.equal((error as { code?: string }).code, 'ENOTDIR'),
  );

  const notADirectory = (path: string) =>
    `release: ${path} is not a directory (a symlink or a file planted there); remove it and retry`;
  symlinkSync(dir, join(box, 'planted-link'));
  t.same(said(await caught(() => isOwnReleaseDir(join(box, 'planted-link')))), {
    code: 'unsafe-dir',
    exitCode: 77,
    line: notADirectory(join(box, 'planted-link')),
  });
  t.same(said(await caught(() => isOwnReleaseDir(join(box, 'file')))), {
    code: 'unsafe-dir',
    exitCode: 77,
    line: notADirectory(join(box, 'file')),
  });

  const open = join(box, 'open');
  mkdirSync(join(open, 'copilot-bridge-stack'), { recursive: true, mode: 0o700 });
  chmodSync(open, 0o777);
  t.equal(
    (await caught(() => isOwnReleaseDir(join(open, 'copilot-bridge-stack')))).code,
    'unsafe-dir',
    'its ancestors are checked too',
  );
  t.equal(
    notOurs('/x', NOBODY).oneLine(),
    "release: /x belongs to uid 65534, not to you; remove it (it may be another user's trap) and retry",
  );
});

t.test("the uid and the released file's mode: root (and a platform without uids) 0400, a user 0000", async (t) => {
  t.equal(uidNow(), 0);
  t.equal(release.releaseMode(), 0o400);
  t.equal(await asUser(NOBODY, () => uidNow()), NOBODY);
  t.equal(await asUser(NOBODY, () => release.releaseMode()), 0o000);
  const getuid = uids.getuid;
  uids.getuid = undefined;
  try {
    t.equal(uidNow(), 0);
    t.equal(release.releaseMode(), 0o400);
  } finally {
    uids.getuid = getuid;
  }
});

t.test(
  "prepareReleaseDir as root: 0700, root's, in RAM, worked on through its descriptor; refusals leave nothing",
  async (t) => {
    const box = shm();
    const dir = join(box, 'copilot-bridge-stack');
    const before = openFds();
    const handle = await release.prepareReleaseDir(dir, 'linux');
    const info = statSync(dir);
    t.same([info.mode & 0o7777, info.uid, info.isDirectory()], [0o700, 0, true], "created 0700, root's");
    t.equal(handle.path, dir);
    const entry = handle.entry('op-sa-token');
    const fd = /^\/proc\/self\/fd\/(\d+)\/op-sa-token$/.exec(entry)?.[1];
    t.ok(fd, `an entry is named through the directory's descriptor (${entry})`);
    t.equal(statSync(handle.entry('.')).ino, info.ino, 'which is the directory');
    handle.close();
    t.notOk(existsSync(`/proc/self/fd/${fd}`), 'close() closes it');
    t.equal(openFds(), before, 'no descriptor left open');

    chmodSync(dir, 0o755);
    (await release.prepareReleaseDir(dir, 'linux')).close();
    t.equal(statSync(dir).mode & 0o7777, 0o700, 'an existing directory of ours is made 0700 again');
    const changed = statSync(dir, { bigint: true }).ctimeNs;
    (await release.prepareReleaseDir(dir, 'linux')).close();
    t.equal(statSync(dir, { bigint: true }).ctimeNs, changed, 'one that is right already is not changed at all');
    t.equal(tmutilCalls(), '', 'tmutil is for macOS only');

    const onDisk = join(disk(), 'copilot-bridge-stack');
    t.same(said(await caught(() => release.prepareReleaseDir(onDisk, 'linux'))), {
      code: 'not-tmpfs',
      exitCode: 77,
      line: `release: ${onDisk} is not on a tmpfs, so a released token would reach the disk; point XDG_RUNTIME_DIR at a tmpfs directory only you can write (normally /run/user/UID)`,
    });
    t.notOk(existsSync(onDisk), 'the refused directory is removed again');
    mkdirSync(onDisk, { mode: 0o700 });
    writeFileSync(join(onDisk, 'kept'), 'x');
    t.equal((await caught(() => release.prepareReleaseDir(onDisk, 'linux'))).code, 'not-tmpfs');
    t.same(readdirSync(onDisk), ['kept'], 'one with something in it is left as it was');

    const elsewhere = join(box, 'elsewhere');
    mkdirSync(elsewhere, { mode: 0o755 });
    const notADirectory = (path: string) =>
      `release: ${path} is not a directory (a symlink or a file planted there); remove it and retry`;
    symlinkSync(elsewhere, join(box, 'planted'));
    t.same(said(await caught(() => release.prepareReleaseDir(join(box, 'planted'), 'linux'))), {
      code: 'unsafe-dir',
      exitCode: 77,
      line: notADirectory(join(box, 'planted')),
    });
    t.equal(statSync(elsewhere).mode & 0o7777, 0o755, "a planted link's target is not made 0700 (or touched at all)");
    writeFileSync(join(box, 'a-file'), 'planted');
    t.same(said(await caught(() => release.prepareReleaseDir(join(box, 'a-file'), 'linux'))), {
      code: 'unsafe-dir',
      exitCode: 77,
      line: notADirectory(join(box, 'a-file')),
    });

    const foreign = join(box, 'foreign');
    mkdirSync(foreign, { mode: 0o777 });
    chmodSync(foreign, 0o777);
    chownSync(foreign, NOBODY, NOBODY);
    t.same(said(await caught(() => release.prepareReleaseDir(foreign, 'linux'))), {
      code: 'unsafe-dir',
      exitCode: 77,
      line: `release: ${foreign} belongs to uid 65534, not to you; remove it (it may be another user's trap) and retry`,
    });
    t.equal(statSync(foreign).mode & 0o7777, 0o777, "another user's directory is not made ours: its mode is unchanged");

    const tooLong = join(box, 'x'.repeat(300));
    const cannot = await caught(() => release.prepareReleaseDir(tooLong, 'linux'));
    t.same(said(cannot), {
      code: 'release-mkdir',
      exitCode: 73,
      line: `release: cannot create ${tooLong}; check its parent`,
    });
    t.equal(causeCode(cannot), 'ENAMETOOLONG');

    const theirs = join(box, 'theirs');
    mkdirSync(theirs, { mode: 0o755 });
    chownSync(theirs, NOBODY, NOBODY);
    t.equal(
      (await caught(() => release.prepareReleaseDir(join(theirs, 'copilot-bridge-stack'), 'linux'))).code,
      'unsafe-dir',
      'the ancestors are checked first',
    );
    t.notOk(existsSync(join(theirs, 'copilot-bridge-stack')), 'and nothing is created under them');
    t.equal(openFds(), before, 'no descriptor left open by any refusal');
  },
);

t.test(
  'prepareReleaseDir as a user: their own 0700 directory; a squatted name or a root-only parent refused',
  async (t) => {
    const box = shm(0o1777); // like /dev/shm
    const dir = join(box, 'copilot-bridge-stack');
    await asUser(NOBODY, async () => (await release.prepareReleaseDir(dir, 'linux')).close());
    const info = statSync(dir);
    t.same([info.mode & 0o7777, info.uid, info.gid], [0o700, NOBODY, NOBODY], "created 0700, the user's");

    const squatted = join(box, 'squatted');
    mkdirSync(squatted, { mode: 0o755 });
    t.same(said(await caught(() => asUser(NOBODY, () => release.prepareReleaseDir(squatted, 'linux')))), {
      code: 'unsafe-dir',
      exitCode: 77,
      line: `release: ${squatted} belongs to uid 0, not to you; ask root to remove it (in a sticky directory only its owner or root can), or point XDG_RUNTIME_DIR at a directory of yours (normally /run/user/UID)`,
    });
    chmodSync(squatted, 0o700);
    t.same(
      said(await caught(() => asUser(NOBODY, () => release.prepareReleaseDir(squatted, 'linux')))),
      {
        code: 'unsafe-dir',
        exitCode: 77,
        line: `release: ${squatted} cannot be entered by you (uid ${NOBODY}): it is another user's; point XDG_RUNTIME_DIR at a directory of yours (normally /run/user/${NOBODY})`,
      },
      'one they cannot even open: said in one line, whose it is',
    );

    const rootOnly = shm();
    const cannot = await caught(() =>
      asUser(NOBODY, () => release.prepareReleaseDir(join(rootOnly, 'copilot-bridge-stack'), 'linux')),
    );
    t.same(said(cannot), {
      code: 'release-mkdir',
      exitCode: 73,
      line: `release: cannot create ${rootOnly}/copilot-bridge-stack; check its parent`,
    });
    t.equal(causeCode(cannot), 'EACCES');
  },
);

t.test(
  'releaseToken as root: root:root 0400, the exact bytes, replaced atomically, no temporary file left',
  async (t) => {
    const box = shm();
    const dir = join(box, 'copilot-bridge-stack');
    const handle = await release.prepareReleaseDir(dir, 'linux');
    t.teardown(() => handle.close());
    process.setegid?.(NOBODY); // root with another group (sudo -g): the file is still root:root
    let path: string;
    try {
      path = await release.releaseToken(handle, 'op-sa-token', token);
    } finally {
      process.setegid?.(0);
    }
    t.equal(path, join(dir, 'op-sa-token'), 'the path Compose gets');
    const info = lstatSync(path);
    t.same([info.isFile(), info.mode & 0o7777, info.uid, info.gid], [true, 0o400, 0, 0], 'a file, 0400, root:root');
    t.equal(readFileSync(path, 'utf8'), token, 'the token, exactly');
    t.same(readdirSync(dir), ['op-sa-token'], 'no temporary file left');
    t.equal(
      await asUser(NOBODY, () => caught(() => readFileSync(path))).then((error) => (error as { code?: string }).code),
      'EACCES',
      'another user cannot read it',
    );

    const held = openSync(path, 'r');
    t.teardown(() => closeSync(held));
    const next = fakeServiceAccountToken();
    await release.releaseToken(handle, 'op-sa-token', next, 0o440);
    t.equal(readFileSync(path, 'utf8'), next, 'a second release replaces it');
    t.equal(statSync(path).mode & 0o7777, 0o440, 'with the mode asked for');
    t.equal(
      readHeld(held, token.length).toString('utf8'),
      token,
      'by a rename: one who held the old file still has it whole',
    );
    t.same(readdirSync(dir), ['op-sa-token']);

    await asUser(NOBODY, () => {
      t.equal(
        (() => {
          try {
            symlinkSync('/etc/shadow', join(dir, 'agent-x'));
            return 'planted';
          } catch (error) {
            return (error as { code?: string }).code;
          }
        })(),
        'EACCES',
        "another user cannot plant a link in root's 0700 directory",
      );
      t.equal(
        (() => {
          try {
            linkSync('/dev/shm', join(dir, 'agent-y'));
            return 'planted';
          } catch (error) {
            return (error as { code?: string }).code;
          }
        })(),
        'EACCES',
        'nor a hard link',
      );
    });
  },
);

t.test(
  'releaseToken as a user: 0000 (unreadable even to the same uid without capabilities), wiped by the user',
  async (t) => {
    const box = shm(0o1777);
    const dir = join(box, 'copilot-bridge-stack');
    const path = await asUser(NOBODY, async () => {
      const handle = await release.prepareReleaseDir(dir, 'linux');
      try {
        return await release.releaseToken(handle, 'op-sa-token', token);
      } finally {
        handle.close();
      }
    });
    const info = statSync(path);
    t.same([info.mode & 0o7777, info.uid, info.gid], [0o000, NOBODY, NOBODY], "mode 0000, the user's");
    t.equal(
      await asUser(NOBODY, () => caught(() => readFileSync(path))).then((error) => (error as { code?: string }).code),
      'EACCES',
      'the same uid without capabilities cannot read it',
    );
    t.equal(readFileSync(path, 'utf8'), token, 'root (CAP_DAC_OVERRIDE) can');
    const held = openSync(path, 'r');
    t.teardown(() => closeSync(held));
    t.same(await asUser(NOBODY, () => release.wipeReleased(dir, 'linux')), { wiped: ['op-sa-token'], failed: [] });
    t.same(
      readHeld(held, token.length),
      zeros(token.length),
      'the user could overwrite it (it was made writable first)',
    );
    t.notOk(existsSync(dir), 'and remove it and the directory');
  },
);

t.test('releaseToken fails cleanly: a full tmpfs, a directory gone; the message never holds the value', async (t) => {
  const full = fullTmpfs(t);
  const dir = join(full, 'copilot-bridge-stack');
  const handle = await release.prepareReleaseDir(dir, 'linux');
  t.teardown(() => handle.close());
  const big = fakeServiceAccountToken().repeat(6); // more than the one page the tmpfs has: it fills after a partial write
  t.ok(big.length > 4096);
  const before = openFds();
  const fullError = await caught(() => release.releaseToken(handle, 'op-sa-token', big));
  t.same(said(fullError), {
    code: 'release-write',
    exitCode: 73,
    line: `release: cannot write the released token into ${dir}: the tmpfs is full; free memory there`,
  });
  t.equal(causeCode(fullError), 'ENOSPC');
  t.same(readdirSync(dir), [], 'the partly written temporary file is removed');
  t.equal(openFds(), before, 'and its descriptor closed');

  const box = shm();
  const gone = join(box, 'copilot-bridge-stack');
  const orphan = await release.prepareReleaseDir(gone, 'linux');
  t.teardown(() => orphan.close());
  rmdirSync(gone);
  const goneError = await caught(() => release.releaseToken(orphan, 'op-sa-token', token));
  t.same(said(goneError), {
    code: 'release-write',
    exitCode: 73,
    line: `release: cannot write the released token into ${gone}; check free memory and the directory's owner`,
  });
  t.notOk(existsSync(gone), 'nothing was made at the old path');
});

t.test('releasedPath: a regular file only (what status shows)', async (t) => {
  const box = shm();
  writeFileSync(join(box, 'op-sa-token'), token, { mode: 0o400 });
  symlinkSync(join(box, 'op-sa-token'), join(box, 'agent-link'));
  mkdirSync(join(box, 'agent-dir'));
  t.equal(await release.releasedPath(box, 'op-sa-token'), join(box, 'op-sa-token'));
  t.equal(await release.releasedPath(box, 'agent-link'), undefined, 'a link: no');
  t.equal(await release.releasedPath(box, 'agent-dir'), undefined, 'a directory: no');
  t.equal(await release.releasedPath(box, 'agent-none'), undefined, 'nothing: no');
  t.equal(await release.releasedPath(join(box, 'op-sa-token'), 'x'), undefined, 'under a file: no');
});

t.test('wipeReleased: zeroes each file in place, then removes it and the directory', async (t) => {
  const box = shm();
  const dir = join(box, 'copilot-bridge-stack');
  t.same(await release.wipeReleased(dir, 'linux'), { wiped: [], failed: [] }, 'nothing released: nothing to do');
  t.notOk(existsSync(dir), 'and nothing created');

  await released(dir, ['op-sa-token', 'agent-lal']);
  writeFileSync(join(dir, '.op-sa-token.0123456789ab.tmp'), token, { mode: 0o600 }); // left by a crash
  const held = openSync(join(dir, 'op-sa-token'), 'r'); // as a container's bind mount holds the same inode
  t.teardown(() => closeSync(held));
  const heldTemp = openSync(join(dir, '.op-sa-token.0123456789ab.tmp'), 'r');
  t.teardown(() => closeSync(heldTemp));
  const result = await release.wipeReleased(dir);
  t.same(
    [result.wiped.sort(), result.failed],
    [['agent-lal', 'op-sa-token'], []],
    'a temporary file is wiped, not listed',
  );
  t.same(readHeld(held, token.length), zeros(token.length), 'the held inode reads as zeros');
  t.same(readHeld(heldTemp, token.length), zeros(token.length), 'the temporary file too');
  t.notOk(existsSync(dir), 'files and directory removed');

  const onDisk = join(disk(), 'copilot-bridge-stack');
  mkdirSync(onDisk, { mode: 0o700 });
  writeFileSync(join(onDisk, 'op-sa-token'), token, { mode: 0o400 });
  t.same(
    await release.wipeReleased(onDisk, 'linux'),
    { wiped: ['op-sa-token'], failed: [] },
    'a directory on the disk (an older release) is still wiped, never refused',
  );
  t.notOk(existsSync(onDisk));
});

t.test(
  'wipeReleased: a link is unlinked, never followed; a directory or an error is reported; the rest goes on',
  async (t) => {
    const box = shm();
    const canary = join(box, 'root-owned-file');
    writeFileSync(canary, 'root-owned content\n', { mode: 0o644 });
    const dir = join(box, 'copilot-bridge-stack');
    await released(dir, ['op-sa-token']);
    symlinkSync(canary, join(dir, 'agent-link'));
    mkdirSync(join(dir, 'a-stray-directory'));
    writeFileSync(join(dir, 'agent-rw'), token, { mode: 0o644 });
    const heldRw = openSync(join(dir, 'agent-rw'), 'r');
    t.teardown(() => closeSync(heldRw));
    const result = await release.wipeReleased(dir, 'linux');
    t.same(
      [result.wiped.sort(), result.failed],
      [['agent-link', 'agent-rw', 'op-sa-token'], ['a-stray-directory: a directory (a release holds files only)']],
    );
    t.same(
      [readFileSync(canary, 'utf8'), statSync(canary).mode & 0o7777],
      ['root-owned content\n', 0o644],
      "the link's target keeps its content and mode",
    );
    t.same(readHeld(heldRw, token.length), zeros(token.length));
    t.equal(statSync(`/proc/self/fd/${heldRw}`).mode & 0o7777, 0o644, 'a file it could write is not chmodded');
    t.same(readdirSync(dir), ['a-stray-directory'], 'only the stray entry is left, and the directory');

    const full = fullTmpfs(t);
    const tight = join(full, 'copilot-bridge-stack');
    mkdirSync(tight, { mode: 0o700 });
    writeFileSync(join(tight, 'agent-sparse'), '');
    truncateSync(join(tight, 'agent-sparse'), 8192); // a hole: overwriting it needs pages the tmpfs no longer has
    t.same(
      await release.wipeReleased(tight, 'linux'),
      { wiped: [], failed: ['agent-sparse: ENOSPC'] },
      'a system error is reported by its code',
    );
    t.same(
      readdirSync(tight),
      ['agent-sparse'],
      'the file it could not overwrite is not unlinked; the directory stays',
    );
    t.equal(
      (await caught(() => release.wipeReleasedName(tight, 'linux', 'agent-sparse'))).code,
      'ENOSPC',
      'forget: the same error, thrown',
    );
  },
);

t.test(
  'wipeReleased and wipeReleasedName refuse a directory that is not provably ours, and touch nothing',
  async (t) => {
    const box = shm();
    const elsewhere = join(box, 'elsewhere');
    mkdirSync(elsewhere, { mode: 0o755 });
    writeFileSync(join(elsewhere, 'op-sa-token'), 'root-owned content\n', { mode: 0o644 });
    symlinkSync(elsewhere, join(box, 'planted'));
    const foreign = join(box, 'foreign');
    mkdirSync(foreign, { mode: 0o700 });
    writeFileSync(join(foreign, 'op-sa-token'), 'their content\n', { mode: 0o600 });
    chownSync(foreign, NOBODY, NOBODY);
    for (const wipe of [
      (dir: string) => release.wipeReleased(dir, 'linux'),
      (dir: string) => release.wipeReleasedName(dir, 'linux', 'op-sa-token'),
    ]) {
      t.same(said(await caught(() => wipe(join(box, 'planted')))), {
        code: 'unsafe-dir',
        exitCode: 77,
        line: `release: ${box}/planted is not a directory (a symlink or a file planted there); remove it and retry`,
      });
      t.same(said(await caught(() => wipe(foreign))), {
        code: 'unsafe-dir',
        exitCode: 77,
        line: `release: ${foreign} belongs to uid 65534, not to you; remove it (it may be another user's trap) and retry`,
      });
    }
    t.equal(
      readFileSync(join(elsewhere, 'op-sa-token'), 'utf8'),
      'root-owned content\n',
      "the link's target is untouched",
    );
    t.equal(
      readFileSync(join(foreign, 'op-sa-token'), 'utf8'),
      'their content\n',
      "the other user's file is untouched",
    );
    t.equal(statSync(foreign).mode & 0o7777, 0o700);

    const mounted = join(box, 'mounted');
    mkdirSync(mounted, { mode: 0o700 });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4k,mode=0700', 'tmpfs', mounted]);
    await released(mounted, ['op-sa-token']);
    t.same(await release.wipeReleased(mounted, 'linux'), { wiped: ['op-sa-token'], failed: [] });
    t.equal(
      mountsAt(mounted).length,
      1,
      "a tmpfs someone mounted at the directory is not unmounted (only root's own is)",
    );
  },
);

t.test('wipeReleasedName (forget): one name, zeroed and removed; the directory stays', async (t) => {
  const box = shm();
  const dir = join(box, 'copilot-bridge-stack');
  t.equal(await release.wipeReleasedName(dir, 'linux', 'op-sa-token'), false, 'no directory: nothing wiped');
  t.notOk(existsSync(dir), 'and none created');
  await released(dir, ['op-sa-token', 'agent-lal']);
  const held = openSync(join(dir, 'op-sa-token'), 'r');
  t.teardown(() => closeSync(held));
  t.equal(await release.wipeReleasedName(dir, 'linux', 'op-sa-token'), true);
  t.same(readHeld(held, token.length), zeros(token.length), 'zeroed in place');
  t.same(readdirSync(dir), ['agent-lal'], 'the other name and the directory stay');
  t.equal(await release.wipeReleasedName(dir, 'linux', 'op-sa-token'), false, 'gone: false');
  t.equal(
    (await caught(() => release.wipeReleasedName(dir, 'linux', 'x'.repeat(300)))).code,
    'ENAMETOOLONG',
    'an error other than "not there" is thrown, not taken for "not there"',
  );
  writeFileSync(join(dir, 'agent-rw'), token, { mode: 0o644 });
  const heldRw = openSync(join(dir, 'agent-rw'), 'r');
  t.teardown(() => closeSync(heldRw));
  t.equal(await release.wipeReleasedName(dir, 'linux', 'agent-rw'), true);
  t.same(
    [readHeld(heldRw, token.length), statSync(`/proc/self/fd/${heldRw}`).mode & 0o7777],
    [zeros(token.length), 0o644],
    'a file it can write already is zeroed without a chmod',
  );
  mkdirSync(join(dir, 'agent-dir'));
  t.equal(
    (await caught(() => release.wipeReleasedName(dir, 'linux', 'agent-dir'))).message,
    'a directory (a release holds files only)',
  );
});

t.test("macOS's way (no /proc): paths, tmutil told to skip the directory, no RAM check; the same wipes", async (t) => {
  const dir = join(disk(), 'copilot-bridge-stack.noindex');
  rmSync(tmutilLog, { force: true });
  process.env.TMUTIL_EXIT = '1'; // tmutil failing is no reason to fail
  t.teardown(() => {
    delete process.env.TMUTIL_EXIT;
    rmSync(tmutilLog, { force: true });
  });
  const handle = await release.prepareReleaseDir(dir, 'darwin');
  t.equal(handle.entry('op-sa-token'), join(dir, 'op-sa-token'), 'an entry is a path');
  const path = await release.releaseToken(handle, 'op-sa-token', token);
  await release.releaseToken(handle, 'agent-lal', token);
  handle.close();
  t.same([statSync(dir).mode & 0o7777, statSync(path).mode & 0o7777], [0o700, 0o400]);
  t.equal(tmutilCalls(), `addexclusion ${dir}\n`, 'Time Machine is told to skip it, once');

  const canary = join(dir, '..', 'canary');
  writeFileSync(canary, 'root-owned content\n', { mode: 0o644 });
  symlinkSync(canary, join(dir, 'agent-link'));
  const held = openSync(path, 'r');
  t.teardown(() => closeSync(held));
  t.equal(await release.wipeReleasedName(dir, 'darwin', 'op-sa-token'), true);
  t.same(readHeld(held, token.length), zeros(token.length), 'zeroed in place');
  t.equal(await release.wipeReleasedName(dir, 'darwin', 'op-sa-token'), false, 'gone: false');
  writeFileSync(join(dir, 'agent-rw'), token, { mode: 0o644 });
  const heldRw = openSync(join(dir, 'agent-rw'), 'r');
  t.teardown(() => closeSync(heldRw));
  t.equal(await release.wipeReleasedName(dir, 'darwin', 'agent-rw'), true);
  t.same(
    [readHeld(heldRw, token.length), statSync(`/proc/self/fd/${heldRw}`).mode & 0o7777],
    [zeros(token.length), 0o600],
    'every file is made 0600 (its own descriptor) before it is zeroed',
  );
  t.equal(await release.wipeReleasedName(dir, 'darwin', 'agent-link'), true, 'a link is unlinked...');
  t.equal(readFileSync(canary, 'utf8'), 'root-owned content\n', '...never followed');
  mkdirSync(join(dir, 'a-stray-directory'));
  t.equal(
    (await caught(() => release.wipeReleasedName(dir, 'darwin', 'a-stray-directory'))).message,
    'a directory (a release holds files only)',
  );
  symlinkSync(canary, join(dir, 'agent-link'));
  chmodSync(join(dir, 'agent-lal'), 0o644);
  const heldLal = openSync(join(dir, 'agent-lal'), 'r');
  t.teardown(() => closeSync(heldLal));
  const before = openFds();
  const result = await release.wipeReleased(dir, 'darwin');
  t.equal(openFds(), before, 'no descriptor left open');
  t.same(
    [result.wiped.sort(), result.failed],
    [['agent-lal', 'agent-link'], ['a-stray-directory: a directory (a release holds files only)']],
  );
  t.same(
    [readHeld(heldLal, token.length), statSync(`/proc/self/fd/${heldLal}`).mode & 0o7777],
    [zeros(token.length), 0o600],
  );
  t.same([readFileSync(canary, 'utf8'), statSync(canary).mode & 0o7777], ['root-owned content\n', 0o644]);
  rmdirSync(join(dir, 'a-stray-directory'));
  t.same(await release.wipeReleased(dir, 'darwin'), { wiped: [], failed: [] });
  t.notOk(existsSync(dir), 'the directory goes once it is empty');
  t.equal(await release.wipeReleasedName(dir, 'darwin', 'op-sa-token'), false, 'no directory: false');
  t.notOk(existsSync(dir), 'and none created');
  t.equal(tmutilCalls(), `addexclusion ${dir}\n`, 'a wipe does not call tmutil');
});

t.test(
  "macOS's way as a user: the 0000 file is made writable, zeroed, removed (it failed with EACCES, leaving the token on the disk)",
  async (t) => {
    const box = disk();
    chmodSync(box, 0o1777);
    const dir = join(box, 'copilot-bridge-stack.noindex');
    const paths = await asUser(NOBODY, async () => {
      const handle = await release.prepareReleaseDir(dir, 'darwin');
      try {
        return [
          await release.releaseToken(handle, 'op-sa-token', token),
          await release.releaseToken(handle, 'agent-lal', token),
        ];
      } finally {
        handle.close();
      }
    });
    const held = paths.map((path) => openSync(path, 'r'));
    t.teardown(() => {
      for (const fd of held) closeSync(fd);
    });
    t.same(
      held.map((fd) => [statSync(`/proc/self/fd/${fd}`).mode & 0o7777, statSync(`/proc/self/fd/${fd}`).uid]),
      [
        [0o000, NOBODY],
        [0o000, NOBODY],
      ],
      "mode 0000, the user's",
    );
    const before = openFds();
    t.equal(await asUser(NOBODY, () => release.wipeReleasedName(dir, 'darwin', 'op-sa-token')), true);
    t.equal(openFds(), before, 'no descriptor left open');
    t.same(await asUser(NOBODY, () => release.wipeReleased(dir, 'darwin')), { wiped: ['agent-lal'], failed: [] });
    t.same(
      held.map((fd) => readHeld(fd, token.length)),
      [zeros(token.length), zeros(token.length)],
      'both zeroed',
    );
    t.notOk(existsSync(dir), 'and removed, with the directory');
  },
);

t.test(
  "root's own /run/copilot-bridge-stack under a /run on the disk: a 1 MiB tmpfs of its own, mounted once, unmounted by the wipe",
  async (t) => {
    const why = await takeRootDefault();
    if (why !== undefined) return void t.pass("root's own directory", { skip: why });
    t.teardown(releaseRootDefault);
    await released(ROOT_DEFAULT, ['op-sa-token']);
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((line) => line.split(' ')[4] === ROOT_DEFAULT);
    t.equal(mounts.length, 1, 'one tmpfs mounted there');
    const [fields = '', source = ''] = (mounts[0] ?? '').split(' - ');
    t.same(
      fields
        .split(' ')[5]
        ?.split(',')
        .filter((option) => ['nosuid', 'nodev', 'noexec'].includes(option)),
      ['nosuid', 'nodev', 'noexec'],
      'nosuid, nodev, noexec',
    );
    const [type, device, options = ''] = source.split(' ');
    t.same([type, device], ['tmpfs', 'tmpfs'], 'a tmpfs, shown as such by mount and df');
    t.same(
      options.split(',').filter((option) => /^(size|mode)=/.test(option)),
      ['size=1024k', 'mode=700'],
      '1 MiB, 0700',
    );
    t.equal(readFileSync(join(ROOT_DEFAULT, 'op-sa-token'), 'utf8'), token);

    (await release.prepareReleaseDir(ROOT_DEFAULT, 'linux')).close();
    t.equal(mountsAt(ROOT_DEFAULT).length, 1, 'a second up mounts nothing over the first');
    t.equal(readFileSync(join(ROOT_DEFAULT, 'op-sa-token'), 'utf8'), token, 'what was released is still there');

    mkdirSync(join(ROOT_DEFAULT, 'a-stray-directory'));
    t.same(await release.wipeReleased(ROOT_DEFAULT, 'linux'), {
      wiped: ['op-sa-token'],
      failed: ['a-stray-directory: a directory (a release holds files only)'],
    });
    t.same(
      [mountsAt(ROOT_DEFAULT).length, readdirSync(ROOT_DEFAULT)],
      [1, ['a-stray-directory']],
      'a wipe that left something keeps the tmpfs mounted (unmounting would hide what is left)',
    );
    rmdirSync(join(ROOT_DEFAULT, 'a-stray-directory'));
    t.same(await release.wipeReleased(ROOT_DEFAULT, 'linux'), { wiped: [], failed: [] });
    t.same(mountsAt(ROOT_DEFAULT), [], 'unmounted');
    t.notOk(existsSync(ROOT_DEFAULT), 'and removed');

    process.env.PATH = bin; // no mount program
    let refused: StackError;
    try {
      refused = await caught(() => release.prepareReleaseDir(ROOT_DEFAULT, 'linux'));
    } finally {
      process.env.PATH = `${bin}:${PATH}`;
    }
    t.same(said(refused), {
      code: 'not-tmpfs',
      exitCode: 77,
      line: `release: ${ROOT_DEFAULT} is not on a tmpfs, so a released token would reach the disk; point XDG_RUNTIME_DIR at a tmpfs directory only you can write (normally /run/user/UID)`,
    });
    t.notOk(existsSync(ROOT_DEFAULT), 'when no tmpfs could be mounted: refused, and nothing left');

    (await release.prepareReleaseDir(ROOT_DEFAULT, 'darwin')).close();
    t.same(mountsAt(ROOT_DEFAULT), [], 'on macOS nothing is mounted');
    writeFileSync(join(ROOT_DEFAULT, 'op-sa-token'), token, { mode: 0o400 });
    t.same(
      await release.wipeReleased(ROOT_DEFAULT, 'linux'),
      { wiped: ['op-sa-token'], failed: [] },
      'a plain directory there (nothing mounted) is wiped and removed all the same',
    );
    t.notOk(existsSync(ROOT_DEFAULT));
  },
);
