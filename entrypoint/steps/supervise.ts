// Supervise mode: the bridge runs as a child in its own process group. The
// upstream `copilot-bridge start` launcher does not forward signals to its
// worker, so SIGTERM, SIGINT and SIGHUP go to the whole group. Its output
// passes through the streaming redactor. When this process is PID 1, the
// command runs under `tini -s` (a child subreaper) so that orphans of the
// Copilot CLI's short-lived processes are reaped; Node cannot wait(2) for
// processes it did not spawn. While the bridge runs, the leak scan runs
// here too (health/watch.ts), so the HEALTHCHECK need not start Node. Exit status: the child's, or 128 + signal.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createRedactor, redact } from '../../src/redact/index.js';
import type { SecretSet } from '../../src/secrets/secret-set.js';
import type { Log } from '../log.js';
import { ROOT_TOOLS } from '../root-tools.js';
import { untrustedReason } from '../trusted-path.js';
import { writePid } from './bridge-pid.js';
import type { Launch } from './prove-no-leak.js';

const STEP = 'supervise';

/** Starts the leak scan of the bridge's process tree (rooted at its pid); returns what stops it. */
export type HealthWatch = (bridgePid: number) => () => void;
const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
const DRAIN_GRACE_MS = 8000;
const TAIL_LINES = 5;
const TAIL_BYTES = 16 * 1024;

export async function supervise(
  target: Launch & { file: string },
  secrets: SecretSet,
  log: Log,
  pidFile: string,
  health?: HealthWatch,
): Promise<number> {
  const [file, args] = reaperWrapped(target, log);
  const child = spawn(file, args, {
    env: target.env,
    cwd: target.cwd,
    detached: true,
    stdio: ['inherit', 'pipe', 'pipe'],
  });
  if (child.pid !== undefined) writePid(pidFile, child.pid);
  const stopHealth = child.pid === undefined ? undefined : health?.(child.pid);
  const ended = new Promise<{ exitCode: number | undefined; signal: NodeJS.Signals | undefined }>((resolve) => {
    child.on('error', () => resolve({ exitCode: undefined, signal: undefined }));
    child.on('exit', (code, signal) => resolve({ exitCode: code ?? undefined, signal: signal ?? undefined }));
  });
  const forward = (signal: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // The group is already gone.
    }
  };
  for (const signal of FORWARDED) process.on(signal, forward);
  const streams = Promise.all([
    pipeline(child.stdout, createRedactor(secrets), process.stdout, { end: false }),
    pipeline(child.stderr, createRedactor(secrets), process.stderr, { end: false }),
  ]);
  const result = await ended;
  stopHealth?.();
  if (child.pid !== undefined) await drainGroup(child.pid, log);
  await streams.catch(() => undefined);
  for (const signal of FORWARDED) process.off(signal, forward);
  if (result.signal) {
    const status = 128 + (constants.signals[result.signal] ?? 0);
    log.info(STEP, `${target.argv[0]} ended by ${result.signal}; exiting ${status}`);
    return status;
  }
  if (result.exitCode === undefined) {
    log.info(STEP, `${target.argv[0]} could not be started`);
    return 127;
  }
  if (result.exitCode !== 0) showLogTail(target, secrets, log, result.exitCode);
  return result.exitCode;
}

/**
 * copilot-bridge writes everything to its log file, nothing to the output
 * `docker logs` shows: when it fails, the last lines of that file say why.
 * They pass through the redactor like everything else the bridge says.
 */
function showLogTail(target: Launch, secrets: SecretSet, log: Log, exitCode: number): void {
  const file = join(target.env.HOME ?? '/nonexistent', '.copilot-bridge', 'copilot-bridge.log');
  let tail: string[] = [];
  try {
    const text = readFileSync(file, 'utf8');
    tail = text
      .slice(-TAIL_BYTES)
      .split('\n')
      .filter((line) => line.trim())
      .slice(-TAIL_LINES);
  } catch {
    // No log (it failed before writing one): only the status.
  }
  log.warn(
    STEP,
    `${target.argv[0]} exited with status ${exitCode}${tail.length ? `; the last lines of ${file}:` : ''}`,
  );
  for (const line of tail) process.stderr.write(`  ${redact(secrets, line.slice(0, 500))}\n`);
}

/**
 * The launcher may end before its worker (it dies on SIGTERM without
 * forwarding it): wait for the rest of its process group to finish shutting
 * down, then kill what is left after the grace period.
 */
async function drainGroup(pgid: number, log: Log): Promise<void> {
  const alive = () => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + DRAIN_GRACE_MS;
  while (alive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  if (alive()) {
    log.warn(
      STEP,
      `processes of the bridge were still running ${DRAIN_GRACE_MS / 1000} s after it ended; killing them`,
    );
    process.kill(-pgid, 'SIGKILL');
  }
}

/** As PID 1, run the command under `tini -s -g` (by its fixed path) so orphans are reaped; elsewhere the host's init reaps them. */
function reaperWrapped(target: Launch & { file: string }, log: Log): [string, string[]] {
  if (process.pid !== 1) return [target.file, target.argv.slice(1)];
  const why = untrustedReason(ROOT_TOOLS.tini);
  if (why === undefined) return [ROOT_TOOLS.tini, ['-s', '-g', '--', target.file, ...target.argv.slice(1)]];
  log.warn(
    STEP,
    `running as PID 1 without tini (${why}): orphaned processes will not be reaped; install tini at ${ROOT_TOOLS.tini}`,
  );
  return [target.file, target.argv.slice(1)];
}
