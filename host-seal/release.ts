// The tmpfs directory `up` releases tokens into, one file per name, and the
// wipe `down` and `forget` do. Owner and mode are chosen so that root in the
// container (the entrypoint) can read a file and the bridge, once it runs as an
// unprivileged uid without capabilities, cannot: root:root 0400 when run as
// root; when run as a user, 0000 (only CAP_DAC_OVERRIDE reads it), because the
// bridge's uid in the container may equal the user's uid on the host.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, readdir, rename, rmdir, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ExitCode, StackError, errnoCode } from '../src/errors.js';
import { ensurePrivateDir, overwriteAndRemove } from './fs-safe.js';
import { SERVICE } from './paths.js';

const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

/** Linux: `$XDG_RUNTIME_DIR/copilot-bridge-stack`, else `/dev/shm/copilot-bridge-stack`. macOS: see README-macos.md. */
export function releaseDir(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string {
  if (platform === 'darwin') return join(env.TMPDIR || tmpdir(), `${SERVICE}.noindex`);
  return env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, SERVICE) : join('/dev/shm', SERVICE);
}

/** The mode of a released file for the current user: 0400 (root:root) for root, else 0000. */
export function releaseMode(): number {
  return process.getuid?.() === 0 ? 0o400 : 0o000;
}

/**
 * Creates the directory 0700 (or checks an existing one is ours) and, on Linux, that it is in RAM.
 * On macOS (no RAM disk Docker Desktop can bind-mount; see README-macos.md) it is excluded from
 * Time Machine; its `.noindex` suffix keeps Spotlight out.
 */
export async function prepareReleaseDir(dir: string, platform: NodeJS.Platform): Promise<void> {
  ensurePrivateDir(dir, 'release');
  if (platform === 'darwin') {
    const { execa } = await import('execa'); // loaded only where it is used: it costs about 60 ms to load
    await execa('tmutil', ['addexclusion', dir], { reject: false, stdin: 'ignore' });
    return;
  }
  if (platform !== 'linux') return;
  const { type } = await statfs(dir);
  if (type !== TMPFS_MAGIC && type !== RAMFS_MAGIC) {
    await rmdir(dir).catch(() => undefined);
    throw new StackError('not-tmpfs', `${dir} is not on a tmpfs, so a released token would reach the disk; point XDG_RUNTIME_DIR at a tmpfs directory (normally /run/user/UID) or unset it to use /dev/shm`, {
      step: 'release',
      exitCode: ExitCode.noPerm,
    });
  }
}

/** Writes `token` to `dir/name` through a temporary file: never readable by others, replaced atomically. */
export async function releaseToken(dir: string, name: string, token: string, mode = releaseMode()): Promise<string> {
  const path = join(dir, name);
  const temp = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      await handle.writeFile(token, 'utf8');
      await handle.sync();
      if (process.getuid?.() === 0) await handle.chown(0, 0);
      await handle.chmod(mode);
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    return path;
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw new StackError('release-write', `cannot write the released token into ${dir}; check free memory and the directory's owner`, { step: 'release', exitCode: ExitCode.cantCreate, cause: error });
  }
}

/** The released file of `name`, if there is one. */
export async function releasedPath(dir: string, name: string): Promise<string | undefined> {
  const path = join(dir, name);
  try {
    return (await lstat(path)).isFile() ? path : undefined;
  } catch {
    return undefined;
  }
}

/** Overwrites and removes every file in `dir` (all of them are released tokens), then the directory. Returns their names. */
export async function wipeReleased(dir: string): Promise<string[]> {
  let entries: string[];
  try {
    const info = await lstat(dir);
    if (!info.isDirectory()) return [];
    entries = await readdir(dir);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return [];
    throw error;
  }
  const wiped: string[] = [];
  for (const entry of entries) {
    if (await overwriteAndRemove(join(dir, entry))) wiped.push(entry);
  }
  await rmdir(dir).catch(() => undefined);
  return wiped.filter((entry) => !entry.startsWith('.'));
}
