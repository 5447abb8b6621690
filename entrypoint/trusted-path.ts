// Whether only root can change a file the root phase runs: every component of
// its path, and of every symbolic link's target on the way, owned by root and
// not writable by group or others, except a root-owned sticky directory such
// as /tmp (others cannot replace root's entries there). The same walk as the
// launcher's (entrypoint/launcher/launcher.c), for op, prlimit and tini.
import { lstatSync, readlinkSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ExitCode, hasErrno, StackError } from '../src/errors.js';

const MAX_LINKS = 40;

/** undefined when only root can change `file`, else why not (naming the component, never reading the file). */
export function untrustedReason(file: string, links = 0): string | undefined {
  if (!file.startsWith('/')) return `${file} is not an absolute path`;
  const parts = file.split('/').filter(Boolean);
  let walked = '';
  for (let i = -1; i < parts.length; i++) {
    walked = i < 0 ? '/' : `${walked === '/' ? '' : walked}/${parts[i]}`;
    let stat;
    try {
      stat = lstatSync(walked);
    } catch (error) {
      return hasErrno(error, 'ENOENT') ? `${walked} is missing` : `${walked} cannot be examined`;
    }
    if (stat.uid !== 0) return `${walked} is owned by uid ${stat.uid}`;
    if (stat.isSymbolicLink()) {
      if (links >= MAX_LINKS) return `${walked}: too many levels of symbolic links`;
      const target = resolve(dirname(walked), readlinkSync(walked));
      return untrustedReason([target, ...parts.slice(i + 1)].join('/'), links + 1);
    }
    if ((stat.mode & 0o022) !== 0 && !(stat.isDirectory() && (stat.mode & 0o1000) !== 0))
      return `${walked} is writable by group or others`;
    if (i < parts.length - 1 && !stat.isDirectory()) return `${walked} is not a directory`;
    if (i === parts.length - 1 && !stat.isFile()) return `${walked} is not a regular file`;
  }
  return undefined;
}

/** `file` when only root can change it; otherwise a StackError: 69 when it is missing (install it), 77 when others could change it. */
export function trustedTool(
  file: string,
  what: string,
  step: string,
  fix = 'the image installs it there (Dockerfile)',
): string {
  const reason = untrustedReason(file);
  if (reason === undefined) return file;
  if (reason.endsWith(' is missing')) {
    throw new StackError('tool-missing', `${what} is not installed at ${file}; ${fix}`, {
      step,
      exitCode: ExitCode.unavailable,
    });
  }
  throw new StackError(
    'tool-untrusted',
    `${what} at ${file} is not trusted (${reason}); the root phase runs only files that only root can change`,
    { step, exitCode: ExitCode.noPerm },
  );
}
