// A Docker engine that answers. CI and new sessions start with none running
// and there is no systemd (FIELD-NOTES.md), so when `docker info` fails the
// harness starts `dockerd` itself, detached, its log in .cache/e2e/dockerd.log,
// and waits for it. Idempotent and safe when several test files call it at
// once: the start happens under a lock, and is skipped if an engine answers.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { withLock } from './lock.js';
import { CACHE_DIR } from './paths.js';
import { dockerAttempt } from './run.js';
import { GiveUp, waitFor } from './wait.js';

const DOCKERD_LOG = join(CACHE_DIR, 'dockerd.log');

const answers = async () =>
  (await dockerAttempt(['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 10_000 })).exitCode === 0;

const logTail = () =>
  existsSync(DOCKERD_LOG) ? readFileSync(DOCKERD_LOG, 'utf8').split('\n').slice(-12).join('\n') : '(no dockerd log)';

/** Returns the engine's version once `docker info` answers; starts dockerd when it does not. */
export async function ensureDockerEngine(timeoutMs = 90_000): Promise<string> {
  if (!(await answers())) {
    await withLock('dockerd', timeoutMs, async () => {
      if (await answers()) return;
      mkdirSync(CACHE_DIR, { recursive: true });
      const log = openSync(DOCKERD_LOG, 'a');
      process.stderr.write(`e2e: no Docker engine answers; starting dockerd (log: ${DOCKERD_LOG})\n`);
      const child = spawn('dockerd', [], { detached: true, stdio: ['ignore', log, log] });
      let exited: string | undefined;
      child.on(
        'error',
        (error) =>
          (exited = `dockerd could not start (${error.message}); install docker.io (scripts/install-test-deps.sh)`),
      );
      child.on('exit', (code, signal) => (exited = `dockerd exited (${code ?? signal}) before answering`));
      child.unref();
      await waitFor(
        'the Docker engine to answer `docker info` after starting dockerd',
        async () => {
          if (exited) throw new GiveUp(`${exited}; last lines of ${DOCKERD_LOG}:\n${logTail()}`);
          return answers();
        },
        { timeoutMs, intervalMs: 500, detail: () => `last lines of ${DOCKERD_LOG}:\n${logTail()}` },
      );
    });
  }
  const version = await dockerAttempt(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 10_000 });
  return version.stdout.trim();
}
