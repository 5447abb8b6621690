// File operations for secret-adjacent files: private directories that are
// really ours, atomic replacement (a reader sees the old file or the new one,
// never half of one), and bounded reads. (Released tokens: release.ts.) Blocking
// calls on purpose: the files are small, nothing else runs meanwhile, and
// node:fs/promises would cost every command about 1 ms to load.
import { chmodSync, lstatSync, mkdirSync } from 'node:fs';
import { writeFileAtomic as writeFileAtomicSync } from '../src/fs/atomic-write.js';
export { readSmallFile, writeFileExclusive } from '../src/fs/atomic-write.js';
import { ExitCode, StackError, errnoCode } from '../src/errors.js';

/** Creates `dir` (and parents) as 0700, or checks that an existing one is a directory we own, then makes it 0700. */
export function ensurePrivateDir(dir: string, step: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const info = lstatSync(dir);
  const uid = process.getuid?.();
  if (!info.isDirectory() || (uid !== undefined && info.uid !== uid)) {
    throw new StackError(
      'unsafe-dir',
      `${dir} is not a directory owned by you (a symlink or another user's directory); remove it and retry`,
      { step, exitCode: ExitCode.noPerm },
    );
  }
  if ((info.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
}

/** Atomic replacement, shared with the entrypoint (src/fs/atomic-write.ts). */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): void {
  writeFileAtomicSync(path, data, mode);
}
