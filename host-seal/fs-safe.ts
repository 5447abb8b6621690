// File operations for secret-adjacent files: private directories that are
// really ours, atomic replacement (a reader sees the old file or the new one,
// never half of one), and overwrite-then-unlink for released tokens.
import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, unlink } from 'node:fs/promises';
import { writeFileAtomic as writeFileAtomicSync } from '../src/fs/atomic-write.js';
import { ExitCode, StackError, errnoCode } from '../src/errors.js';

/** Creates `dir` (and parents) as 0700, or checks that an existing one is a directory we own, then makes it 0700. */
export async function ensurePrivateDir(dir: string, step: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await lstat(dir);
  const uid = process.getuid?.();
  if (!info.isDirectory() || (uid !== undefined && info.uid !== uid)) {
    throw new StackError(
      'unsafe-dir',
      `${dir} is not a directory owned by you (a symlink or another user's directory); remove it and retry`,
      { step, exitCode: ExitCode.noPerm },
    );
  }
  if ((info.mode & 0o777) !== 0o700) await chmod(dir, 0o700);
}

/** Atomic replacement, shared with the entrypoint (src/fs/atomic-write.ts). */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  writeFileAtomicSync(path, data, mode);
}

/** Overwrites a regular file with zeros, syncs, then unlinks it. Absent files count as removed. */
export async function overwriteAndRemove(path: string): Promise<boolean> {
  let info;
  try {
    info = await lstat(path);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false;
    throw error;
  }
  if (info.isFile()) {
    if ((info.mode & 0o600) !== 0o600) await chmod(path, 0o600);
    const handle = await open(path, constants.O_WRONLY | constants.O_NOFOLLOW);
    try {
      await handle.write(Buffer.alloc(info.size), 0, info.size, 0);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
  await unlink(path);
  return true;
}
