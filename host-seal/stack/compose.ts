// Docker Compose behind a small client: `docker compose` (v2 plugin) when
// present, else `docker-compose` (v1); `up -d`, `down`, and a health wait that
// polls `ps -q` and `docker inspect` with progress lines on stderr, ends early
// on a restart or a failed exit (with the service's last log lines, masked),
// and names what it waited for at its timeout.
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExitCode, StackError } from '../../src/errors.js';

// execa is imported where it is used: most commands never run compose (docs/performance.md).

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
    const probe = await execa(candidate.file, [...candidate.prefix, 'version'], {
      env,
      extendEnv: false,
      reject: false,
      timeout: 20_000,
      stdin: 'ignore',
    });
    if (!probe.failed) return candidate;
  }
  throw unavailable(
    'compose-missing',
    'neither `docker compose` (the v2 plugin) nor `docker-compose` (v1) runs here; install the Docker Compose plugin (apt-get install docker-compose-plugin, or Docker Desktop) and retry',
  );
}

/** Runs a compose subcommand with `extra` added to its environment only; its output goes to `progress`. */
export async function compose(
  c: Compose,
  args: string[],
  env: NodeJS.ProcessEnv,
  extra: Record<string, string>,
  progress: Writable,
  cancel?: AbortSignal,
): Promise<void> {
  const { execa } = await import('execa');
  const child = execa(c.file, [...c.prefix, ...args], {
    env: { ...env, ...extra },
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    all: true,
    ...(cancel ? { cancelSignal: cancel } : {}),
  });
  child.all?.pipe(progress, { end: false });
  const result = await child;
  if (result.failed) {
    throw unavailable(
      'compose-failed',
      `${c.label} ${args.filter((arg) => arg !== '-f' && !/\.ya?ml$/.test(arg)).join(' ')} failed (exit ${result.exitCode ?? result.signal ?? '?'}); see its output above`,
      result,
    );
  }
}

/** What `up` waits on: the compose tool and files, the environment, and the values to mask in logs it shows. */
export interface Watched {
  tool: Compose;
  files: string[];
  env: NodeJS.ProcessEnv;
  extra: Record<string, string>;
  /** Masks secrets in the log lines shown when a service fails. */
  mask: (text: string) => string;
}

interface State {
  id: string;
  name: string;
  service: string;
  status: string;
  health: string;
  exitCode: number;
  restarts: number;
}

const LOG_LINES = 10;

async function lastLines(
  _c: Compose,
  id: string,
  env: NodeJS.ProcessEnv,
  mask: (text: string) => string,
): Promise<string> {
  const { execa } = await import('execa');
  const logs = await execa('docker', ['logs', '--tail', String(LOG_LINES), id], {
    env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    all: true,
  });
  const lines = mask(String(logs.all ?? ''))
    .split('\n')
    .filter((line) => line.trim())
    .slice(-LOG_LINES);
  return lines.length > 0 ? lines.map((line) => `  ${line.slice(0, 300)}`).join('\n') : '  (no output)';
}

/**
 * Waits until every container is running and healthy (or has exited 0),
 * saying one line per service as it turns ready, with the time it took. On a
 * terminal, one live line below them names what it still waits for and how
 * long it has waited (rewritten in place, cleared before any other line);
 * elsewhere that line is printed when it changes, and every 10 s. Ends early,
 * with the service's last log lines (masked), when a container restarts, is
 * restarting, or exited with a failure: a crash loop under
 * `restart: unless-stopped` never shows as exited. Throws at the timeout.
 */
export async function waitHealthy(
  w: Watched,
  timeoutSeconds: number,
  progress: Writable & { isTTY?: boolean },
  cancel?: AbortSignal,
): Promise<void> {
  const started = Date.now();
  const restartsAtStart = new Map<string, number>();
  const readyAt = new Map<string, number>();
  const live = progress.isTTY === true;
  let shown = false;
  const say = (line: string) => {
    progress.write(`${shown ? '\r\x1b[K' : ''}${line}\n`);
    shown = false;
  };
  let last = '';
  let lastAt = 0;
  try {
    for (;;) {
      cancel?.throwIfAborted();
      const states = await inspect(w);
      for (const s of states) if (!restartsAtStart.has(s.id)) restartsAtStart.set(s.id, s.restarts);
      const ready = (s: State) =>
        (s.status === 'running' && (s.health === '-' || s.health === 'healthy')) ||
        (s.status === 'exited' && s.exitCode === 0);
      const failed = states.find(
        (s) =>
          s.status === 'restarting' ||
          s.restarts > (restartsAtStart.get(s.id) ?? 0) ||
          (s.status === 'exited' && s.exitCode !== 0) ||
          s.status === 'dead',
      );
      if (failed) {
        const seen = await exitStatusOf(w, failed, cancel);
        const how =
          seen.status === 'exited' || seen.status === 'dead'
            ? `${seen.status} with status ${seen.exitCode}`
            : seen.status === 'restarting'
              ? `restarted after exiting with status ${seen.exitCode}`
              : 'restarted after exiting (Docker started it again before its exit status could be read)';
        say(
          `up: ${failed.service} ${how}; its last log lines:\n${await lastLines(w.tool, failed.id, { ...w.env, ...w.extra }, w.mask)}`,
        );
        throw unavailable(
          'service-failed',
          `${failed.service} ${how} (a crash loop, if it keeps restarting); see its log above and with npm run compose -- logs ${failed.service}, fix it, then npm run up again (npm run down stops the rest)`,
        );
      }
      const elapsed = (Date.now() - started) / 1000;
      for (const s of states.filter((s) => ready(s) && !readyAt.has(s.id))) {
        readyAt.set(s.id, elapsed);
        const what = s.status === 'exited' ? 'done (exited 0)' : s.health === '-' ? 'running' : 'healthy';
        say(`up: ${s.service} ${what} after ${elapsed.toFixed(1)}s`);
      }
      const seconds = Math.round(elapsed);
      if (states.length > 0 && states.every(ready)) {
        say(`up: all ${states.length} services ready after ${seconds}s`);
        return;
      }
      const waiting = states
        .filter((s) => !ready(s))
        .map((s) => `${s.service} (${s.health === '-' ? s.status : s.health})`)
        .join(', ');
      const line = `up: waiting ${seconds}s of ${timeoutSeconds}s for ${waiting || 'the containers to be created'}`;
      if (live) {
        progress.write(`\r\x1b[K${line}`);
        shown = true;
      } else if (waiting !== last || Date.now() - lastAt > 10_000) {
        say(line);
        last = waiting;
        lastAt = Date.now();
      }
      if (seconds >= timeoutSeconds) {
        throw unavailable(
          'health-timeout',
          `the stack was not healthy after ${timeoutSeconds}s (still waiting for ${waiting || 'the containers to be created'}); it keeps running: look with npm run status and npm run compose -- logs SERVICE, then npm run down to stop it and wipe the tokens (or npm run up -- --timeout SECONDS for a slow first start)`,
        );
      }
      await sleep(live ? 1000 : 2000, undefined, cancel ? { signal: cancel } : undefined).catch(() => undefined);
    }
  } finally {
    if (shown) progress.write('\r\x1b[K');
  }
}

/**
 * Docker resets a container's exit status when it starts it again, so a restart seen while the
 * container runs says nothing of why it stopped: wait (up to 15 s) for it to stop again, which a
 * crash loop does, and read the status then.
 */
async function exitStatusOf(w: Watched, failed: State, cancel?: AbortSignal): Promise<State> {
  let seen = failed;
  for (let i = 0; i < 60 && (seen.status === 'running' || seen.status === 'created'); i++) {
    await sleep(250, undefined, cancel ? { signal: cancel } : undefined).catch(() => undefined);
    if (cancel?.aborted) break;
    seen = (await inspect(w)).find((s) => s.id === failed.id) ?? seen;
  }
  return seen;
}

/** The containers of the stack: compose ps with the same files and environment, then docker inspect. */
export async function inspect(w: Pick<Watched, 'tool' | 'files' | 'env' | 'extra'>): Promise<State[]> {
  const { execa } = await import('execa');
  const c = w.tool;
  const env = { ...w.env, ...w.extra };
  const ps = await execa(c.file, [...c.prefix, ...w.files, 'ps', '-q'], {
    env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
  });
  if (ps.failed)
    throw unavailable(
      'compose-failed',
      `${c.label} ps failed (${String(ps.stderr).split('\n')[0]}); check that the Docker engine runs (docker info)`,
      ps,
    );
  const ids = ps.stdout
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  if (ids.length === 0) return [];
  const format =
    '{{.Id}}\t{{.Name}}\t{{index .Config.Labels "com.docker.compose.service"}}\t{{.State.Status}}\t{{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}}\t{{.State.ExitCode}}\t{{.RestartCount}}';
  const result = await execa('docker', ['inspect', '--format', format, ...ids], {
    env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
  });
  if (result.failed)
    throw unavailable(
      'inspect-failed',
      'docker inspect failed; check that the docker CLI is installed and the engine runs',
      result,
    );
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id = '', name = '?', service = '', status = '?', health = '-', exitCode = '0', restarts = '0'] =
        line.split('\t');
      return {
        id,
        name: name.replace(/^\//, ''),
        service: service || name.replace(/^\//, ''),
        status,
        health,
        exitCode: Number(exitCode),
        restarts: Number(restarts),
      };
    });
}

/** Waits until one service's container is healthy (or runs, without a healthcheck); a restart or an exit ends it. */
export async function waitService(
  w: Pick<Watched, 'tool' | 'files' | 'env' | 'extra'>,
  service: string,
  timeoutSeconds: number,
  progress: Writable,
): Promise<void> {
  const started = Date.now();
  let restarts: number | undefined;
  let told = '';
  for (;;) {
    const state = (await inspect(w)).find((s) => s.service === service);
    restarts ??= state?.restarts;
    if (
      state &&
      (state.status === 'restarting' ||
        state.status === 'dead' ||
        (state.status === 'exited' && state.exitCode !== 0) ||
        state.restarts > (restarts ?? 0))
    ) {
      throw unavailable(
        'service-failed',
        `${service} ${state.status} (status ${state.exitCode}); see npm run compose -- logs ${service}`,
      );
    }
    if (state?.status === 'running' && (state.health === '-' || state.health === 'healthy')) return;
    const seconds = Math.round((Date.now() - started) / 1000);
    const now = `${service} ${state ? (state.health === '-' ? state.status : state.health) : 'not created yet'}`;
    if (now !== told) {
      progress.write(`waiting (${seconds}s of ${timeoutSeconds}s): ${now}\n`);
      told = now;
    }
    if (seconds >= timeoutSeconds)
      throw unavailable(
        'health-timeout',
        `${service} was not healthy after ${timeoutSeconds}s; see npm run compose -- logs ${service}`,
      );
    await sleep(1000);
  }
}
