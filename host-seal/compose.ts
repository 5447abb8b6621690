// Docker Compose behind a small client: `docker compose` (v2 plugin) when
// present, else `docker-compose` (v1); `up -d`, `down`, and a health wait that
// polls `ps -q` and `docker inspect` with progress lines on stderr and a
// timeout that names what it waited for.
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExitCode, StackError } from '../src/errors.js';

// execa is imported where it is used, not here: this module is reached from
// commands that never run compose, and loading execa costs about 60 ms.

export interface Compose {
  /** `docker compose` or `docker-compose`, for messages. */
  readonly label: string;
  readonly file: string;
  readonly prefix: string[];
}

const unavailable = (code: string, message: string, cause?: unknown) =>
  new StackError(code, message, { step: 'compose', exitCode: ExitCode.unavailable, cause });

/** Finds Compose v2 (`docker compose version` succeeds), else v1 (`docker-compose version`). */
export async function findCompose(env: NodeJS.ProcessEnv): Promise<Compose> {
  const candidates: Compose[] = [
    { label: 'docker compose', file: 'docker', prefix: ['compose'] },
    { label: 'docker-compose', file: 'docker-compose', prefix: [] },
  ];
  const { execa } = await import('execa');
  for (const candidate of candidates) {
    const probe = await execa(candidate.file, [...candidate.prefix, 'version'], { env, extendEnv: false, reject: false, timeout: 20_000, stdin: 'ignore' });
    if (!probe.failed) return candidate;
  }
  throw unavailable('compose-missing', 'neither `docker compose` (the v2 plugin) nor `docker-compose` (v1) runs here; install the Docker Compose plugin (apt-get install docker-compose-plugin, or Docker Desktop) and retry');
}

/** Runs a compose subcommand with `extra` added to its environment only; its output goes to `progress`. */
export async function compose(c: Compose, args: string[], env: NodeJS.ProcessEnv, extra: Record<string, string>, progress: Writable): Promise<void> {
  const { execa } = await import('execa');
  const child = execa(c.file, [...c.prefix, ...args], { env: { ...env, ...extra }, extendEnv: false, reject: false, stdin: 'ignore', all: true });
  child.all?.pipe(progress, { end: false });
  const result = await child;
  if (result.failed) {
    throw unavailable('compose-failed', `${c.label} ${args.join(' ')} failed (exit ${result.exitCode ?? result.signal ?? '?'}); see its output above, and check that the Docker daemon runs (docker info)`, result);
  }
}

interface State {
  name: string;
  status: string;
  health: string;
  exitCode: number;
}

/** Waits until every container is running and healthy (or has exited 0); throws on a failed container or at the timeout. */
export async function waitHealthy(c: Compose, env: NodeJS.ProcessEnv, extra: Record<string, string>, timeoutSeconds: number, progress: Writable): Promise<void> {
  const started = Date.now();
  let last = '';
  let lastAt = 0;
  for (;;) {
    const states = await inspect(c, { ...env, ...extra });
    const ready = (s: State) => (s.status === 'running' && (s.health === '-' || s.health === 'healthy')) || (s.status === 'exited' && s.exitCode === 0);
    const failed = states.find((s) => (s.status === 'exited' && s.exitCode !== 0) || s.status === 'dead');
    if (failed) {
      throw unavailable('service-failed', `${failed.name} ${failed.status} with status ${failed.exitCode}; see ${c.label} logs ${failed.name}, fix it, then npm run up again (npm run down stops the rest)`);
    }
    const seconds = Math.round((Date.now() - started) / 1000);
    const summary = states.map((s) => `${s.name} ${s.health === '-' ? s.status : s.health}`).join(', ');
    if (states.length > 0 && states.every(ready)) {
      progress.write(`up: all ${states.length} services ready after ${seconds}s: ${summary}\n`);
      return;
    }
    if (summary !== last || Date.now() - lastAt > 10_000) {
      progress.write(`up: waiting (${seconds}s of ${timeoutSeconds}s): ${summary || 'no containers yet'}\n`);
      last = summary;
      lastAt = Date.now();
    }
    if (seconds >= timeoutSeconds) {
      throw unavailable('health-timeout', `the stack was not healthy after ${timeoutSeconds}s (${summary || 'no containers'}); it keeps running: look with ${c.label} ps and logs, stop it and wipe the tokens with npm run down`);
    }
    await sleep(2000);
  }
}

async function inspect(c: Compose, env: NodeJS.ProcessEnv): Promise<State[]> {
  const { execa } = await import('execa');
  const ps = await execa(c.file, [...c.prefix, 'ps', '-q'], { env, extendEnv: false, reject: false, stdin: 'ignore' });
  if (ps.failed) throw unavailable('compose-failed', `${c.label} ps failed; check that the Docker daemon runs (docker info)`, ps);
  const ids = ps.stdout.split('\n').map((line) => line.trim()).filter(Boolean);
  if (ids.length === 0) return [];
  const format = '{{.Name}}\t{{.State.Status}}\t{{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}}\t{{.State.ExitCode}}';
  const result = await execa('docker', ['inspect', '--format', format, ...ids], { env, extendEnv: false, reject: false, stdin: 'ignore' });
  if (result.failed) throw unavailable('inspect-failed', 'docker inspect failed; check that the docker CLI is installed and the daemon runs', result);
  return result.stdout.split('\n').filter(Boolean).map((line) => {
    const [name = '?', status = '?', health = '-', exitCode = '0'] = line.split('\t');
    return { name: name.replace(/^\//, ''), status, health, exitCode: Number(exitCode) };
  });
}
