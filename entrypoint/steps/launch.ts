// Step 10: hand over to the bridge. Exec mode (Node >= 22.15 has
// process.execve): the entrypoint is replaced and nothing of it stays
// resident; the container's init (compose `init: true`) reaps and, with
// TINI_KILL_PROCESS_GROUP=1, signals the whole group. Supervise mode (older
// runtimes, or BRIDGE_SUPERVISE=1): see supervise.ts.
import { ExitCode, StackError } from '../../src/errors.js';
import type { SecretSet } from '../../src/secrets/secret-set.js';
import type { Log } from '../log.js';
import { whichCommand } from '../process/which.js';
import { writePid } from './bridge-pid.js';
import type { Launch } from './prove-no-leak.js';
import { type HealthWatch, supervise } from './supervise.js';

const STEP = 'exec';

/** The resolved command (run in `cwd`, the bridge's home, when given), or an error with exit status 127 (not found) or 126 (not executable). */
export function resolveLaunch(
  command: readonly string[],
  env: Record<string, string>,
  cwd?: string,
): Launch & { file: string } {
  const resolved = whichCommand(command[0] ?? '', env.PATH);
  if ('status' in resolved) {
    throw new StackError(
      'command',
      `${resolved.reason}; pass the bridge command as the container's command (default: copilot-bridge start)`,
      {
        step: STEP,
        exitCode: resolved.status as never,
      },
    );
  }
  return { file: resolved.path, argv: [...command], env, cwd };
}

export function canExec(supervise: boolean): boolean {
  return !supervise && typeof process.execve === 'function';
}

/** Execs (never returns) or supervises (returns the child's exit status); the bridge's pid goes into `pidFile`. */
export async function launch(
  target: Launch & { file: string },
  mode: 'exec' | 'supervise',
  secrets: SecretSet,
  log: Log,
  pidFile: string,
  health?: HealthWatch,
): Promise<number> {
  if (mode === 'supervise') {
    log.info('supervise', `running ${target.argv.join(' ')} (output redacted)`);
    return supervise(target, secrets, log, pidFile, health);
  }
  log.info(STEP, `exec ${target.argv.join(' ')}`);
  restoreDefaultSignals();
  writePid(pidFile, process.pid);
  try {
    if (target.cwd) process.chdir(target.cwd);
    process.execve!(target.file, target.argv, target.env);
  } catch (error) {
    throw new StackError('exec-failed', `could not exec ${target.file} (${(error as Error).message})`, {
      step: STEP,
      exitCode: ExitCode.software,
      cause: error,
    });
  }
  throw new StackError('exec-returned', 'process.execve returned', { step: STEP, exitCode: ExitCode.software });
}

/**
 * Node ignores SIGPIPE and SIGXFSZ, and an exec'd program inherits ignored
 * signals. Adding and removing a listener makes libuv reset each to SIG_DFL.
 */
function restoreDefaultSignals(): void {
  const ignore = () => undefined;
  for (const signal of ['SIGPIPE', 'SIGXFSZ'] as const) {
    process.on(signal, ignore);
    process.off(signal, ignore);
  }
}
