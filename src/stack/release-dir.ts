// Where released secrets live, and the proof that the directory is ours,
// shared by the host commands (up, down, forget, status, compose) and the
// agent command on the host: the path is canonical (no symbolic link in it
// that someone could swap after the check: Docker gets the path as a string),
// every directory above it belongs to root or to us and may be written by no
// one else unless sticky, and the directory itself, not a link, is ours and
// private.
import { lstatSync, realpathSync, type Stats } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { ExitCode, hasErrno, StackError } from '../errors.js';

const STEP = 'release';
/** A release directory (or a file in it) that is not provably ours: refused for safety. */
export const unsafe = (message: string) =>
  new StackError('unsafe-dir', message, { step: STEP, exitCode: ExitCode.noPerm });
export const uidNow = () => process.getuid?.() ?? 0;

/**
 * The path with its parent resolved (macOS's /var is a link to /private/var),
 * when the parent exists. A link on the way must be root's or ours: another
 * user's link (XDG_RUNTIME_DIR kept by `sudo -E`) could point root's commands
 * at any directory of root's.
 */
export function canonicalDir(path: string, uid = uidNow()): string {
  const parts = dirname(path).split(sep).filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const at = sep + parts.slice(0, i).join(sep);
    let info;
    try {
      info = lstatSync(at);
    } catch {
      return path; // a missing parent: the proof that follows says so
    }
    if (info.isSymbolicLink() && info.uid !== 0 && info.uid !== uid) {
      throw unsafe(
        `${at} is a symbolic link of uid ${info.uid}, who could point the release directory anywhere; ${uid === 0 ? 'as root, unset XDG_RUNTIME_DIR (sudo without -E)' : 'point XDG_RUNTIME_DIR at a directory of yours'}`,
      );
    }
  }
  try {
    return join(realpathSync(dirname(path)), basename(path));
  } catch {
    return path;
  }
}

/**
 * Every directory from / to `dir`'s parent must belong to root or to us and be
 * writable by no one else, unless sticky (then no one else can move our entry);
 * and the path must hold no link (it is what Docker resolves later).
 */
export function assertSafeAncestors(dir: string, uid = uidNow()): void {
  let parent: string;
  try {
    parent = realpathSync(dirname(dir));
  } catch (error) {
    throw new StackError(
      'release-parent',
      `${dirname(dir)} does not exist; create it, or point XDG_RUNTIME_DIR at a tmpfs directory of yours`,
      { step: STEP, exitCode: ExitCode.noInput, cause: error },
    );
  }
  if (parent !== dirname(dir)) {
    throw unsafe(
      `the release directory ${dir} has a symbolic link in its path (${dirname(dir)} is ${parent}), which its owner could point elsewhere after this check; use the real path (XDG_RUNTIME_DIR=${parent})`,
    );
  }
  const parts = parent.split(sep).filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const at = sep + parts.slice(0, i).join(sep);
    const info = lstatSync(at);
    if (info.uid !== 0 && info.uid !== uid) {
      throw unsafe(
        `${at} belongs to uid ${info.uid}, who could swap the release directory ${dir}; ${uid === 0 ? 'as root, unset XDG_RUNTIME_DIR (sudo without -E) or point it at a directory only root can write' : 'point XDG_RUNTIME_DIR at a directory of yours'}`,
      );
    }
    if ((info.mode & 0o022) !== 0 && (info.mode & 0o1000) === 0) {
      throw unsafe(
        `${at} may be written by other users and is not sticky, so they could swap the release directory ${dir}; point XDG_RUNTIME_DIR at a directory only you can write`,
      );
    }
  }
}

/** Why a directory found there is not ours: the message for someone who may not be able to remove it. */
export function notOurs(path: string, owner: number, uid = uidNow()): StackError {
  const fix =
    uid === 0
      ? "remove it (it may be another user's trap) and retry"
      : 'ask root to remove it (in a sticky directory only its owner or root can), or point XDG_RUNTIME_DIR at a directory of yours (normally /run/user/UID)';
  return unsafe(`${path} belongs to uid ${owner}, not to you; ${fix}`);
}

/**
 * For commands that only read what is released (the agent command on the
 * host): true when the directory exists and is proven ours, false when it
 * does not exist; throws when it exists and is not.
 */
/** lstat(2) of `path`, or undefined when nothing is there. */
export function lstatIfExists(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if (hasErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

export function isOwnReleaseDir(path: string, uid = uidNow()): boolean {
  assertSafeAncestors(path, uid);
  const info = lstatIfExists(path);
  if (info === undefined) return false;
  if (!info.isDirectory())
    throw unsafe(`${path} is not a directory (a symlink or a file planted there); remove it and retry`);
  if (info.uid !== uid) throw notOurs(path, info.uid, uid);
  if ((info.mode & 0o077) !== 0)
    throw unsafe(
      `${path} may be read or written by others (mode ${(info.mode & 0o777).toString(8)}); run npm run down, then npm run up`,
    );
  return true;
}
