// The guard is configured only through its environment, so that it runs the
// same inside compose and outside it.
import { ExitCode, StackError } from '../src/errors.js';

export interface GuardSettings {
  host: string;
  port: number;
  dockerSocket: string;
  /** Largest request body read, in bytes. */
  maxBody: number;
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
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port, dockerSocket, maxBody: 64 * 1024 };
}
