// The tmpfs directory `up` releases tokens into, one file per name, and the
// wipe `down` and `forget` do. Owner and mode are chosen so that root in the
// container (the entrypoint) can read a file and the bridge, once it runs as an
// unprivileged uid without capabilities, cannot: root:root 0400 when run as
// root; when run as a user, 0000 (only CAP_DAC_OVERRIDE reads it), because the
// bridge's uid in the container may equal the user's uid on the host.
//
// Every command proves the directory is ours before it touches anything in
// it: each directory above it belongs to root or to us and no one else may
// write it (or it is sticky, as /dev/shm is); the directory itself is opened
// without following a link, and its descriptor says it is ours, 0700 and in
// RAM. On Linux all work inside then goes through that descriptor
// (/proc/self/fd/N/NAME), and files through descriptors of their own, so a
// path swapped after the check changes nothing. No other user can add or swap
// an entry in a 0700 directory of ours.
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmdirSync,
  statfsSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { SERVICE } from '../../src/contract.js';
import { ExitCode, errnoCode, hasErrno, StackError } from '../../src/errors.js';
import { assertSafeAncestors, lstatIfExists, notOurs, uidNow, unsafe } from '../../src/stack/release-dir.js';

const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;
/** Linux's O_PATH (the same on x86-64 and arm64); Node does not export it. */
const O_PATH = 0o10000000;
const STEP = 'release';

export { releaseDir } from '../../src/stack/settings.js';

/** The mode of a released file for the current user: 0400 (root:root) for root, else 0000. */
export function releaseMode(): number {
  return uidNow() === 0 ? 0o400 : 0o000;
}

/** A release directory proven ours; `entry` names a file in it through the directory's descriptor. */
export interface ReleaseDir {
  readonly path: string;
  entry(name: string): string;
  close(): void;
}

/**
 * Opens the release directory after proving it ours (see the top). With
 * `create`, makes it first and checks that it is in RAM; without, an absent
 * directory gives undefined.
 */
export async function openReleaseDir(
  path: string,
  platform: NodeJS.Platform,
  create: boolean,
): Promise<ReleaseDir | undefined> {
  const uid = uidNow();
  assertSafeAncestors(path, uid);
  if (create) {
    try {
      mkdirSync(path, { mode: 0o700 });
    } catch (error) {
      if (!hasErrno(error, 'EEXIST'))
        throw new StackError('release-mkdir', `cannot create ${path}; check its parent`, {
          step: STEP,
          exitCode: ExitCode.cantCreate,
          cause: error,
        });
    }
    if (platform === 'linux') await mountRootTmpfs(path, uid);
  }
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (error) {
    if (hasErrno(error, 'ENOENT') && !create) return undefined;
    if (hasErrno(error, 'ELOOP', 'ENOTDIR'))
      throw unsafe(`${path} is not a directory (a symlink or a file planted there); remove it and retry`);
    if (hasErrno(error, 'EACCES', 'EPERM'))
      throw unsafe(
        `${path} cannot be entered by you (uid ${uid}): it is another user's; point XDG_RUNTIME_DIR at a directory of yours (normally /run/user/${uid})`,
      );
    throw error;
  }
  const dir: ReleaseDir = {
    path,
    entry: (name) => (platform === 'linux' ? `/proc/self/fd/${fd}/${name}` : join(path, name)),
    close: () => closeSync(fd),
  };
  try {
    const info = fstatSync(fd);
    if (info.uid !== uid) throw notOurs(path, info.uid, uid);
    if ((info.mode & 0o777) !== 0o700) fchmodSync(fd, 0o700);
    if (create && platform === 'linux') ensureInRam(dir);
    if (create && platform === 'darwin') {
      const { execa } = await import('execa'); // loaded only here (start-up budget: docs/performance.md)
      await execa('tmutil', ['addexclusion', path], { reject: false, stdin: 'ignore' });
    }
    return dir;
  } catch (error) {
    dir.close();
    throw error;
  }
}

const inRam = (path: string) => [TMPFS_MAGIC, RAMFS_MAGIC].includes(statfsSync(path).type);
/** Root's release directory when XDG_RUNTIME_DIR is unset: up mounts a tmpfs of its own there if /run is none. */
export const ROOT_DEFAULT = join('/run', SERVICE);

/**
 * Root's own default directory under a /run that is not a tmpfs (a container,
 * some distributions) gets a tmpfs of its own: 1 MiB, root only; `down`
 * unmounts it. Its ancestors are root's alone, so the path is safe to use.
 */
async function mountRootTmpfs(path: string, uid: number): Promise<void> {
  if (uid !== 0 || path !== ROOT_DEFAULT || inRam(path)) return;
  const { execa } = await import('execa'); // loaded only here (start-up budget: docs/performance.md)
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700,nosuid,nodev,noexec', 'tmpfs', path], {
    reject: false,
    stdin: 'ignore',
  });
}

/** On a tmpfs, or refused (and the directory removed again when it is empty). */
function ensureInRam(dir: ReleaseDir): void {
  if (inRam(dir.entry('.'))) return;
  try {
    rmdirSync(dir.path);
  } catch {
    // Not empty or not ours to remove: leave it.
  }
  throw new StackError(
    'not-tmpfs',
    `${dir.path} is not on a tmpfs, so a released token would reach the disk; point XDG_RUNTIME_DIR at a tmpfs directory only you can write (normally /run/user/UID)`,
    {
      step: STEP,
      exitCode: ExitCode.noPerm,
    },
  );
}

/** Creates (or proves and reopens) the release directory; in RAM, ours, 0700. */
export async function prepareReleaseDir(path: string, platform: NodeJS.Platform): Promise<ReleaseDir> {
  return (await openReleaseDir(path, platform, true))!;
}

/** Writes `token` to the directory's `name` through a temporary file: never readable by others, replaced atomically. */
export async function releaseToken(
  dir: ReleaseDir,
  name: string,
  token: string,
  mode = releaseMode(),
): Promise<string> {
  const temp = dir.entry(`.${name}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      const bytes = Buffer.from(token); // UTF-8
      for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
      bytes.fill(0);
      fsyncSync(fd);
      if (uidNow() === 0) chownSync(`/proc/self/fd/${fd}`, 0, 0);
      fchmodSync(fd, mode);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, dir.entry(name));
    return join(dir.path, name);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // Never created.
    }
    const full = hasErrno(error, 'ENOSPC');
    throw new StackError(
      'release-write',
      `cannot write the released token into ${dir.path}${full ? ': the tmpfs is full; free memory there' : "; check free memory and the directory's owner"}`,
      { step: STEP, exitCode: ExitCode.cantCreate, cause: error },
    );
  }
}

/** The released file of `name`, if there is one (for `status`: a look, nothing is changed). */
export async function releasedPath(path: string, name: string): Promise<string | undefined> {
  const file = join(path, name);
  try {
    if (lstatSync(file).isFile()) return file;
  } catch {
    // Nothing there (or not ours to look at): not released.
  }
  return undefined;
}

export interface Wipe {
  /** Released names overwritten and removed. */
  wiped: string[];
  /** Entries that could not be removed, each with why. */
  failed: string[];
}

/**
 * Overwrites and removes `name` in the directory: through a descriptor that
 * did not follow a link (a link or anything that is not a regular file is
 * only unlinked, never followed). Absent counts as not wiped.
 */
function wipeEntry(dir: ReleaseDir, name: string): boolean {
  const at = dir.entry(name);
  let fd: number;
  try {
    fd = openSync(at, O_PATH | constants.O_NOFOLLOW);
  } catch (error) {
    if (hasErrno(error, 'ENOENT')) return false;
    throw error;
  }
  try {
    const info = fstatSync(fd);
    if (info.isDirectory()) throw new Error('a directory (a release holds files only)');
    if (info.isFile()) {
      const self = `/proc/self/fd/${fd}`;
      if ((info.mode & 0o600) !== 0o600) chmodSync(self, 0o600);
      overwriteWithZeros(openSync(self, constants.O_WRONLY), info.size);
    }
  } finally {
    closeSync(fd);
  }
  unlinkSync(at);
  return true;
}

/** The same without /proc (macOS): the directory is ours and 0700, so no one else can swap its entries. */
function wipeEntryByPath(dir: ReleaseDir, name: string): boolean {
  const at = dir.entry(name);
  const info = lstatIfExists(at);
  if (info === undefined) return false;
  if (info.isDirectory()) throw new Error('a directory (a release holds files only)');
  if (info.isFile()) {
    // Made writable by its path: a user's released file is 0000, so no descriptor of it can be opened first (which
    // made down and forget fail on macOS for a user, and leave the token on the disk). The entry was a file just now,
    // and no one else can swap an entry of our 0700 directory; the overwrite then opens it without following a link.
    chmodSync(at, 0o600);
    overwriteWithZeros(openSync(at, constants.O_WRONLY | constants.O_NOFOLLOW), info.size);
  }
  unlinkSync(at);
  return true;
}

/** Overwrites `size` bytes of the open file with zeros, in place (a container's bind mount holds the same inode), syncs, closes. */
function overwriteWithZeros(fd: number, size: number): void {
  try {
    const zeros = Buffer.alloc(size);
    for (let done = 0; done < zeros.length; ) done += writeSync(fd, zeros, done, zeros.length - done, done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Wipes one released name (for `forget`). */
export async function wipeReleasedName(path: string, platform: NodeJS.Platform, name: string): Promise<boolean> {
  const dir = await openReleaseDir(path, platform, false);
  if (!dir) return false;
  try {
    return platform === 'linux' ? wipeEntry(dir, name) : wipeEntryByPath(dir, name);
  } finally {
    dir.close();
  }
}

/**
 * Overwrites and removes every entry of the directory (all of them are
 * released tokens), going on past any it cannot remove, then the directory
 * (and root's own tmpfs under it).
 */
export async function wipeReleased(path: string, platform: NodeJS.Platform = process.platform): Promise<Wipe> {
  const dir = await openReleaseDir(path, platform, false);
  if (!dir) return { wiped: [], failed: [] };
  const result: Wipe = { wiped: [], failed: [] };
  try {
    for (const name of readdirSync(dir.entry('.'))) {
      try {
        if ((platform === 'linux' ? wipeEntry(dir, name) : wipeEntryByPath(dir, name)) && !name.startsWith('.'))
          result.wiped.push(name);
      } catch (error) {
        result.failed.push(
          `${name}: ${error instanceof Error && !('code' in error) ? error.message : (errnoCode(error) ?? 'failed')}`,
        );
      }
    }
  } finally {
    dir.close();
  }
  if (result.failed.length === 0) await removeDir(path);
  return result;
}

async function removeDir(path: string): Promise<void> {
  if (uidNow() === 0 && path === ROOT_DEFAULT) {
    const { execa } = await import('execa');
    await execa('umount', [path], { reject: false, stdin: 'ignore' }); // not a mount point: nothing to do
  }
  try {
    rmdirSync(path);
  } catch {
    // Already gone, or something was left in it (reported).
  }
}
