// What `up` checks before it releases anything: the Docker engine answers, the
// compose model is valid, and every image the stack builds itself is there;
// one that is missing is built first (Compose v1 would otherwise try to pull
// the guard's image, which the admin's service builds, and fail).
import { parse } from 'yaml';
import { ExitCode, StackError } from '../../src/errors.js';
import { type Model, ports, runner } from '../doctor/docker.js';
import type { Io } from '../io.js';
import { maskLongRuns } from '../mask.js';
import { compose } from './compose.js';
import { composeFilesOf, missingImages, named, pullFailed, type Wanted } from './images.js';
import type { Stack } from './stack.js';

const unavailable = (step: string, code: string, message: string, cause?: unknown) =>
  new StackError(code, message, { step, exitCode: ExitCode.unavailable, cause });

/** Returns each service's image as the compose model names it, and the images Compose must still pull. */
export async function preflight(
  stack: Stack,
  extra: Record<string, string>,
  io: Io,
  cancel: AbortSignal,
  /** Build a missing image of the stack's own (up); init starts only PostgreSQL and Mattermost, which need none. */
  build = true,
  step = build ? 'up' : 'init',
): Promise<{ images: Record<string, string>; missing: Wanted[] }> {
  const { execa } = await import('execa');
  const env = { ...stack.env, ...extra };
  const engine = await execa('docker', ['version', '--format', '{{.Server.Version}}'], {
    env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: 20_000,
    cancelSignal: cancel,
  });
  if (engine.failed || !engine.stdout.trim()) {
    const said =
      String(engine.stderr || engine.message)
        .split('\n')
        .find((line) => line.trim()) ?? '';
    throw unavailable(
      step,
      'docker-unreachable',
      `the Docker engine does not answer (${said.trim().slice(0, 160)}); start it (systemctl start docker) or check DOCKER_HOST, then retry`,
    );
  }
  const config = await execa(stack.tool.file, [...stack.tool.prefix, ...stack.files, 'config'], {
    env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    cancelSignal: cancel,
  });
  if (config.failed) {
    const said =
      String(config.stderr)
        .split('\n')
        .find((line) => line.trim()) ?? '';
    // Compose quotes the line it could not read, which may be a value pasted into .env: nothing is unsealed yet to
    // mask by, so every long token-like run is masked by its shape (npm run doctor masks by the unsealed values).
    const masked = maskLongRuns(said.trim()).slice(0, 200);
    throw new StackError(
      'compose-invalid',
      `${stack.tool.label} cannot read the compose file (${masked}); fix it or the .env setting it names`,
      { step, exitCode: ExitCode.config },
    );
  }
  const model = parse(config.stdout) as Model;
  // A published port another program holds would fail the start half-way, with part of the stack running.
  const taken = (await ports(model, stack.project, runner(env))).find((f) => f.status === 'fail');
  if (taken) throw unavailable(step, 'port-taken', `${taken.check}: ${taken.detail}; ${taken.fix}, then retry`);
  // What Compose must pull (a service's image, or a base image of a build): named now, and again if the pull fails.
  const missing = await missingImages(model, composeFilesOf(stack), runner(env));
  // A service's image is pulled now, before anything is released or started: a pull that fails leaves nothing behind.
  for (const w of missing.filter((m) => m.by.startsWith('service '))) {
    io.stderr.write(`${step}: ${named(w)} is not on this host; pulling it for ${w.by}\n`);
    const pull = execa('docker', ['pull', w.image], {
      env,
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
      all: true,
      cancelSignal: cancel,
    });
    pull.all?.pipe(io.stderr, { end: false });
    const pulled = await pull;
    if (pulled.failed) throw pullFailed([w], pulled, step);
  }
  for (const w of missing.filter((m) => !m.by.startsWith('service ')))
    io.stderr.write(`${step}: ${named(w)} is not on this host; the build pulls it for ${w.by}\n`);
  for (const [service, definition] of Object.entries(model.services ?? {})) {
    if (!build || !definition.build || !definition.image) continue;
    const present = await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', definition.image], {
      env,
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
      cancelSignal: cancel,
    });
    if (!present.failed) continue;
    io.stderr.write(
      `up: the image ${definition.image} is not built yet; building it (${service}: the first build takes several minutes)\n`,
    );
    await whilePulling(env, missing, () =>
      compose(stack.tool, [...stack.files, 'build', service], stack.env, extra, io.stderr, cancel),
    );
  }
  return {
    missing: await missingImages(model, composeFilesOf(stack), runner(env)),
    images: Object.fromEntries(
      Object.entries(model.services ?? {}).flatMap(([service, definition]) =>
        definition.image ? [[service, definition.image]] : [],
      ),
    ),
  };
}

/**
 * Runs a compose command that may pull `missing`; when it fails and some are
 * still missing, the failure is told as the pull it was, with the settings
 * that choose those images.
 */
export async function whilePulling(
  env: NodeJS.ProcessEnv,
  missing: Wanted[],
  command: () => Promise<void>,
  step = 'up',
): Promise<void> {
  try {
    await command();
  } catch (error) {
    if (missing.length === 0) throw error;
    const run = runner(env);
    const still: Wanted[] = [];
    for (const w of missing)
      if ((await run('docker', ['image', 'inspect', '--format', '{{.Id}}', w.image])).failed) still.push(w);
    throw still.length > 0 ? pullFailed(still, error, step) : error;
  }
}
