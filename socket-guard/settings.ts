// The guard is configured only through its environment, so that it runs the
// same inside compose and outside it.
import { posix } from 'node:path';
import { ExitCode, StackError } from '../src/errors.js';
import type { AgentPolicy } from '../src/guard/create-policy.js';

export interface GuardSettings {
  host: string;
  port: number;
  dockerSocket: string;
  /** Largest request body read, in bytes. */
  maxBody: number;
  /** The agents' policy, when GUARD_PROJECT is set; otherwise only ping, version and events pass. */
  agents: AgentPolicy | undefined;
}

export function readGuardSettings(env: NodeJS.ProcessEnv): GuardSettings {
  const listen = env.GUARD_LISTEN || '0.0.0.0:2375';
  const match = /^(.*):(\d{1,5})$/.exec(listen);
  const port = Number(match?.[2]);
  if (!match || !match[1] || port < 1 || port > 65535) {
    throw new StackError('guard-listen', 'GUARD_LISTEN must be HOST:PORT, for example 0.0.0.0:2375', { step: 'settings', exitCode: ExitCode.config });
  }
  const dockerSocket = env.GUARD_DOCKER_SOCKET || '/var/run/docker.sock';
  if (!dockerSocket.startsWith('/')) {
    throw new StackError('guard-socket', 'GUARD_DOCKER_SOCKET must be an absolute path to the Docker socket', { step: 'settings', exitCode: ExitCode.config });
  }
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port, dockerSocket, maxBody: 64 * 1024, agents: agentPolicy(env) };
}

function agentPolicy(env: NodeJS.ProcessEnv): AgentPolicy | undefined {
  const project = env.GUARD_PROJECT;
  if (!project) return undefined;
  const bad = (message: string) => new StackError('guard-agents', message, { step: 'settings', exitCode: ExitCode.config });
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(project)) throw bad('GUARD_PROJECT must be a compose project name (lower-case letters, digits, _ and -)');
  const image = env.GUARD_AGENT_IMAGE;
  const network = env.GUARD_AGENT_NETWORK;
  if (!image || !network) throw bad('GUARD_PROJECT needs GUARD_AGENT_IMAGE and GUARD_AGENT_NETWORK: the image and the only network agents may use');
  const secretSources = (env.GUARD_SECRET_SOURCES ?? '').split(/[\s,:]+/).filter(Boolean);
  if (secretSources.some((p) => !p.startsWith('/') || posix.normalize(p) !== p || p === '/')) {
    throw bad('GUARD_SECRET_SOURCES must be absolute, normalized host paths of released token files, or of their directory ending in / (for example /dev/shm/copilot-bridge-stack/)');
  }
  return { project, image, network, secretSources };
}
