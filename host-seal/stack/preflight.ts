// What `up` checks before it releases anything: the Docker engine answers, the
// compose model is valid, and every image the stack builds itself is there;
// one that is missing is built first (Compose v1 would otherwise try to pull
// the guard's image, which the admin's service builds, and fail).
import { parse } from 'yaml';
import { ExitCode, StackError } from '../../src/errors.js';
import { type Model, ports, runner } from '../doctor/docker.js';
import type { Io } from '../io.js';
import { compose } from './compose.js';
import type { Stack } from './stack.js';

const unavailable = (code: string, message: string, cause?: unknown) =>
  new StackError(code, message, { step: 'up', exitCode: ExitCode.unavailable, cause });

/** Returns each service's image as the compose model names it. */
export async function preflight(
  stack: Stack,
  extra: Record<string, string>,
  io: Io,
  cancel: AbortSignal,
): Promise<Record<string, string>> {
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
    throw new StackError(
      'compose-invalid',
      `${stack.tool.label} cannot read the compose file (${said.trim().slice(0, 200)}); fix it or the .env setting it names`,
      { step: 'up', exitCode: ExitCode.config },
    );
  }
  const model = parse(config.stdout) as Model;
  // A published port another program holds would fail the start half-way, with part of the stack running.
  const taken = (await ports(model, stack.project, runner(env))).find((f) => f.status === 'fail');
  if (taken) throw unavailable('port-taken', `${taken.check}: ${taken.detail}; ${taken.fix}, then retry`);
  for (const [service, definition] of Object.entries(model.services ?? {})) {
    if (!definition.build || !definition.image) continue;
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
    await compose(stack.tool, [...stack.files, 'build', service], stack.env, extra, io.stderr, cancel);
  }
  return Object.fromEntries(
    Object.entries(model.services ?? {}).flatMap(([service, definition]) =>
      definition.image ? [[service, definition.image]] : [],
    ),
  );
}
