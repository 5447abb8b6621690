// doctor's checks of Docker: the engine and its version, Compose, swarm, the
// compose model, the ports it publishes, and the stack's own image (present,
// built from this checkout's Dockerfile, which bridge package it carries).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ExitCode } from '../../src/errors.js';
import { findCompose } from '../stack/compose.js';
import { composeFilesOf, missingImages } from '../stack/images.js';
import type { Stack } from '../stack/stack.js';
import { type Finding, fail, failed, firstLine, ok, warn } from './finding.js';

/** The label the image build records the Dockerfile's SHA-256 in (compose.yml passes it as a build argument). */
const DOCKERFILE_LABEL = 'com.copilot-bridge-stack.dockerfile-sha256';
const PACKAGE_LABEL = 'com.copilot-bridge-stack.bridge-package';

export const dockerfileDigest = (projectDir: string): string | undefined => {
  try {
    return createHash('sha256')
      .update(readFileSync(join(projectDir, 'Dockerfile')))
      .digest('hex');
  } catch {
    return undefined;
  }
};

type Run = (file: string, args: string[]) => Promise<{ failed: boolean; stdout: string; stderr: string }>;

export function runner(env: NodeJS.ProcessEnv): Run {
  return async (file, args) => {
    const { execa } = await import('execa');
    const r = await execa(file, args, { env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 30_000 });
    return { failed: r.failed, stdout: String(r.stdout), stderr: String(r.stderr || r.message || '') };
  };
}

export async function engine(run: Run): Promise<Finding> {
  const r = await run('docker', ['version', '--format', '{{.Server.Version}} {{.Server.APIVersion}}']);
  const [version, api] = r.stdout.trim().split(' ');
  if ((r.failed || !version) && /permission denied/i.test(r.stderr))
    return fail(
      'docker engine',
      'it runs, but you may not use its socket (permission denied)',
      'run this as root, or add yourself to the docker group (then log in again)',
      ExitCode.noPerm,
    );
  if (r.failed || !version)
    return fail(
      'docker engine',
      `does not answer (${firstLine(r.stderr)})`,
      'start it (systemctl start docker) or check DOCKER_HOST',
      ExitCode.unavailable,
    );
  const major = Number(version.split('.')[0]);
  if (major < 20)
    return warn('docker engine', `${version} (API ${api})`, 'this stack is tested on Docker Engine 20.10 and later');
  return ok('docker engine', `${version} (API ${api})`);
}

export async function composeTool(env: NodeJS.ProcessEnv, run: Run): Promise<Finding> {
  try {
    const tool = await findCompose(env);
    const r = await run(tool.file, [...tool.prefix, 'version', '--short']);
    const version = r.stdout.trim() || '?';
    return tool.file === 'docker'
      ? ok('compose', `docker compose ${version} (v2)`)
      : ok('compose', `docker-compose ${version} (v1, the fallback)`);
  } catch (error) {
    return failed('compose', error);
  }
}

export async function swarm(run: Run): Promise<Finding> {
  const r = await run('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}']);
  const state = r.stdout.trim();
  if (r.failed || !state) return warn('swarm', `unknown (${firstLine(r.stderr)})`, 'check docker info');
  return ok(
    'swarm',
    state === 'inactive'
      ? 'inactive (this stack runs on Compose; it needs no swarm)'
      : `${state} (this stack does not use it: its secrets are files of the release directory, not swarm secrets)`,
  );
}

export interface Model {
  services?: Record<
    string,
    { image?: string; build?: { args?: Record<string, string | null> } | string; ports?: unknown[] }
  >;
}

/** The compose model as resolved, or a failure. */
export async function composeModel(stack: Stack, env: NodeJS.ProcessEnv): Promise<Model | Finding> {
  const run = runner(env);
  const r = await run(stack.tool.file, [...stack.tool.prefix, ...stack.files, 'config']);
  if (r.failed)
    return fail(
      'compose file',
      `${stack.tool.label} cannot read it (${firstLine(r.stderr)})`,
      'fix the compose file or the .env setting it names',
      ExitCode.config,
    );
  return parse(r.stdout) as Model;
}

/** Each published port: free, or held by this stack's own container; anything else holding it is a failure. */
export async function ports(model: Model, project: string, run: Run): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const [service, definition] of Object.entries(model.services ?? {})) {
    for (const spec of definition.ports ?? []) {
      const bound = publishedPort(spec);
      if (!bound) continue;
      const where = `${bound.host}:${bound.port}`;
      const why = await listenProbe(bound.host, bound.port);
      if (why === undefined) {
        out.push(ok(`port ${where}`, `free (${service} publishes it)`));
        continue;
      }
      const ours = await run('docker', [
        'ps',
        '-q',
        '--filter',
        `label=com.docker.compose.project=${project}`,
        '--filter',
        `label=com.docker.compose.service=${service}`,
        '--filter',
        `publish=${bound.port}`,
      ]);
      if (!ours.failed && ours.stdout.trim()) out.push(ok(`port ${where}`, `in use by this stack's ${service}`));
      else if (ours.failed)
        out.push(
          warn(
            `port ${where}`,
            `${why}, and the engine does not answer, so whether by this stack's ${service} cannot be told`,
            'start the engine, then run doctor again',
          ),
        );
      else
        out.push(
          fail(
            `port ${where}`,
            `${why} by another program, and ${service} publishes it`,
            'stop what listens there, or choose another port in .env (MM_HTTP_PORT, MM_BIND_ADDRESS)',
            ExitCode.unavailable,
          ),
        );
    }
  }
  return out;
}

function publishedPort(spec: unknown): { host: string; port: number } | undefined {
  if (typeof spec === 'object' && spec !== null) {
    const s = spec as { published?: string | number; host_ip?: string };
    return s.published === undefined ? undefined : { host: s.host_ip || '0.0.0.0', port: Number(s.published) };
  }
  // v1: "HOST_IP:PUBLISHED:TARGET[/proto]" or "PUBLISHED:TARGET"
  const parts = String(spec).split('/')[0]!.split(':');
  if (parts.length === 3) return { host: parts[0]!, port: Number(parts[1]) };
  if (parts.length === 2) return { host: '0.0.0.0', port: Number(parts[0]) };
  return undefined;
}

/** Undefined when the port can be bound here; else why not ("taken"). */
function listenProbe(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      resolve(error.code === 'EADDRINUSE' ? 'taken' : `not bindable (${error.code})`),
    );
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** The stack's own image: present, from this checkout's Dockerfile, and its bridge package. */
export async function image(model: Model, projectDir: string, run: Run): Promise<Finding> {
  const built = Object.entries(model.services ?? {}).find(([, d]) => d.build && d.image);
  if (!built) return warn('image', 'the compose model builds no image of its own', "use this checkout's compose.yml");
  const name = built[1].image!;
  // The creation time first: it has no space, and the labels' JSON may (the image's description has some).
  const r = await run('docker', ['image', 'inspect', '--format', '{{.Created}} {{json .Config.Labels}}', name]);
  if (r.failed)
    return warn('image', `${name} is not built yet`, 'npm run up builds it (the first build takes several minutes)');
  const text = r.stdout.trim();
  const space = text.indexOf(' ');
  const created = text.slice(0, space);
  let labels: Record<string, string> = {};
  try {
    labels = (JSON.parse(text.slice(space + 1)) ?? {}) as Record<string, string>;
  } catch {
    return warn(
      'image',
      `${name}: docker image inspect printed labels that are not JSON`,
      'rebuild it with npm run compose -- build copilot-bridge',
    );
  }
  // A package URL may carry a token (git+https://x-access-token:...@github.com/...): masked when printed.
  const bridge = labels[PACKAGE_LABEL] ?? 'an unknown bridge package';
  const wanted = dockerfileDigest(projectDir);
  const recorded = labels[DOCKERFILE_LABEL];
  if (!recorded || recorded === 'unknown')
    return warn(
      'image',
      `${name} (${bridge}, built ${created}) does not say which Dockerfile it was built from`,
      'rebuild it with npm run compose -- build copilot-bridge',
    );
  if (recorded !== wanted)
    return warn(
      'image',
      `${name} (${bridge}) was built from another Dockerfile than this checkout's`,
      'rebuild it with npm run compose -- build copilot-bridge',
    );
  return ok('image', `${name}: ${bridge}, built ${created} from this checkout's Dockerfile`);
}

/** The images the stack takes from elsewhere (services' images, the build's base images) that this host lacks. */
export async function pulledImages(model: Model, stack: Stack, run: Run): Promise<Finding[]> {
  const missing = await missingImages(model, composeFilesOf(stack), run);
  if (missing.length === 0) return [ok('images', 'every image the stack pulls or builds from is on this host')];
  return missing.map((w) =>
    warn(
      `image ${w.image}`,
      `not on this host: up pulls it for ${w.by} (a registry must answer)`,
      `docker pull ${w.image}, or set ${w.setting ?? 'its image setting'} in .env to an image this host has (docs/first-run.md)`,
    ),
  );
}
