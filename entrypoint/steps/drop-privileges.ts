// Step 6: when started as root, become the bridge's unprivileged user for good:
// supplementary groups, then gid, then uid. Then prove it: the ids are what
// was asked, root cannot be regained, and the token file can no longer be
// opened. Changing uid also makes the kernel mark this process non-dumpable,
// so the bridge (same uid) cannot read the entrypoint's memory either.
import { closeSync, openSync } from 'node:fs';
import { ExitCode, failAt } from '../../src/errors.js';
import { resolveRunAs } from '../process/users.js';
import { DEFAULT_RUN_AS } from '../settings.js';

const STEP = 'privileges';

export interface Identity {
  uid: number;
  gid: number;
  /** The user's name and home from /etc/passwd, when known. */
  name: string | undefined;
  home: string | undefined;
  dropped: boolean;
}

const fail = failAt(STEP, ExitCode.noPerm);

/** Switches to the bridge's user; with `tokenFile`, also proves that the token file can no longer be opened. */
export function dropPrivileges(
  runAs: string | undefined,
  tokenFile: string | undefined,
  allowNoDrop: boolean,
): Identity {
  const uid = process.getuid!();
  if (uid !== 0) return stayUnprivileged(uid, runAs, tokenFile, allowNoDrop);
  const spec = runAs ?? DEFAULT_RUN_AS;
  const target = resolveRunAs(spec);
  if (!target)
    return fail(
      'run-as-unknown',
      `BRIDGE_RUN_AS=${spec} is not a user in /etc/passwd; give an existing user name or uid:gid`,
      ExitCode.config,
    );
  if (target.uid === 0 || target.gid === 0)
    return fail(
      'run-as-root',
      `BRIDGE_RUN_AS=${spec} is root; the bridge must run as an unprivileged user`,
      ExitCode.config,
    );
  try {
    if (target.name) initgroups(target.name, target.gid);
    else process.setgroups!([target.gid]);
    process.setgid!(target.gid);
    process.setuid!(target.uid);
  } catch (error) {
    fail(
      'drop-failed',
      `could not switch to ${spec} (${(error as Error).message}); the container needs the SETUID and SETGID capabilities`,
      ExitCode.noPerm,
      error,
    );
  }
  const ids = [process.getuid!(), process.geteuid!(), process.getgid!(), process.getegid!()];
  if (ids.join() !== [target.uid, target.uid, target.gid, target.gid].join() || process.getgroups!().includes(0)) {
    fail('drop-incomplete', `after switching to ${spec} the process ids are ${ids.join(',')}; refusing to continue`);
  }
  if (canRegainRoot())
    fail('drop-reversible', `after switching to ${spec} the process could become root again; refusing to continue`);
  if (tokenFile !== undefined && canOpen(tokenFile)) {
    fail(
      'token-readable',
      `uid ${target.uid} can still read ${tokenFile}; release it readable by root only (\`npm run up\` does) so the bridge cannot read it`,
    );
  }
  return { uid: target.uid, gid: target.gid, name: target.name, home: target.home, dropped: true };
}

function stayUnprivileged(
  uid: number,
  runAs: string | undefined,
  tokenFile: string | undefined,
  allowNoDrop: boolean,
): Identity {
  if (runAs !== undefined) {
    const wanted = resolveRunAs(runAs);
    if (!wanted || wanted.uid !== uid)
      fail(
        'not-root',
        `started as uid ${uid}, not root, so cannot switch to BRIDGE_RUN_AS=${runAs}; start the container as root (the default)`,
      );
  }
  if (!allowNoDrop && tokenFile !== undefined && canOpen(tokenFile)) {
    fail(
      'not-root',
      `started as uid ${uid}, not root: the bridge would be able to read ${tokenFile}; start as root so privileges can be dropped (BRIDGE_ALLOW_NO_DROP=1 accepts this for development)`,
    );
  }
  // Not switched, so not known from /etc/passwd: the bridge keeps the environment's HOME.
  return { uid, gid: process.getgid!(), name: undefined, home: undefined, dropped: false };
}

/** process.initgroups (missing from @types/node): the user's supplementary groups from /etc/group. */
function initgroups(user: string, gid: number): void {
  (process as unknown as { initgroups(user: string, extraGroup: number): void }).initgroups(user, gid);
}

function canRegainRoot(): boolean {
  try {
    process.setuid!(0);
  } catch {
    return false;
  }
  return true;
}

/** Whether this process can open the file for reading. */
export function canOpen(file: string): boolean {
  try {
    closeSync(openSync(file, 'r'));
    return true;
  } catch {
    return false;
  }
}
