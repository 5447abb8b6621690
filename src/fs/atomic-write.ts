// Writes a file so that it is either absent or complete: a fresh temp file in
// the same directory (O_EXCL, O_NOFOLLOW, the mode set from the start and
// again with fchmod so that the umask cannot change it), fsync, rename over
// the target, fsync of the directory. rename(2) replaces a symlink at the
// target rather than following it.
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  linkSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { hasErrno } from '../errors.js';
import { randomHex } from '../process/random.js';

const tempPrefix = (file: string) => `.${basename(file)}.`;

/** Writes `data` to `file` atomically with the given mode; the caller owns the process's uid. */
export function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o600): void {
  place(file, data, mode, (temp) => renameSync(temp, file));
}

/**
 * The same, but only if `file` does not exist yet: link(2) of the complete
 * temporary file either creates `file` or fails with EEXIST (thrown), so of
 * two writers racing for one name exactly one wins, and nothing is replaced.
 */
export function writeFileExclusive(file: string, data: string | Uint8Array, mode = 0o600): void {
  place(file, data, mode, (temp) => {
    try {
      linkSync(temp, file);
    } finally {
      unlinkSync(temp);
    }
  });
}

/**
 * Reads a small file through one descriptor that did not follow a link;
 * larger than `max` bytes is an error (code EFBIG), and so is anything but a
 * regular file (code EFTYPE): O_NONBLOCK keeps a FIFO put in its place from
 * blocking the open until some writer comes.
 */
export function readSmallFile(file: string, max: number): Buffer {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw Object.assign(new Error(`${file} is not a regular file`), { code: 'EFTYPE' });
    const size = stat.size;
    if (size > max)
      throw Object.assign(new Error(`${file} is ${size} bytes, more than ${max}`), { code: 'EFBIG', size });
    const buffer = Buffer.alloc(size);
    for (let at = 0; at < size; ) {
      const n = readSync(fd, buffer, at, size - at, at);
      if (n === 0) return buffer.subarray(0, at);
      at += n;
    }
    return buffer;
  } finally {
    closeSync(fd);
  }
}

function place(file: string, data: string | Uint8Array, mode: number, commit: (temp: string) => void): void {
  const temp = join(dirname(file), `${tempPrefix(file)}${randomHex(6)}.tmp`);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    const bytes = Buffer.from(data); // a string as UTF-8
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
    fchmodSync(fd, mode);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkSync(temp);
    throw error;
  }
  closeSync(fd);
  try {
    commit(temp);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // Already gone (the exclusive commit removes it itself).
    }
    throw error;
  }
  syncDirectory(dirname(file));
}

/** Makes a rename durable; best effort (some file systems refuse to fsync a directory). */
function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, constants.O_RDONLY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // tmpfs and some others: nothing to make durable.
  }
}

/** Unlinks a file; false when it was already absent. */
export function unlinkIfExists(file: string): boolean {
  try {
    unlinkSync(file);
    return true;
  } catch (error) {
    if (hasErrno(error, 'ENOENT')) return false;
    throw error;
  }
}

/** Removes temp files that an earlier, killed writer of `file` left behind (those this uid may remove). */
export function removeStaleTemps(file: string): number {
  let removed = 0;
  for (const name of readdirSync(dirname(file))) {
    if (name.startsWith(tempPrefix(file)) && name.endsWith('.tmp')) {
      try {
        unlinkSync(join(dirname(file), name));
        removed++;
      } catch {
        // Not ours to remove (sticky directory): leave it.
      }
    }
  }
  return removed;
}
