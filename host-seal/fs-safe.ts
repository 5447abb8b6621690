// Private directories that are really ours, for the config directory, the
// locks and the TPM context cache. (Atomic and exclusive writes and bounded
// reads: src/fs/atomic-write.ts, shared with the entrypoint. Released tokens:
// release.ts.) Blocking calls on purpose: nothing else runs meanwhile.
import { chmodSync, lstatSync, mkdirSync } from 'node:fs';
import { ExitCode, StackError } from '../src/errors.js';

/** Creates `dir` (and parents) as 0700, or checks that an existing one is a directory we own, then makes it 0700. */
export function ensurePrivateDir(dir: string, step: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new StackError(
      'private-dir',
      `cannot create ${dir} (${(error as NodeJS.ErrnoException).code ?? 'error'}); set HOME (or XDG_CONFIG_HOME) to a directory of yours`,
      { step, exitCode: ExitCode.cantCreate, cause: error },
    );
  }
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
