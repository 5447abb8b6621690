// The guard is configured only through its environment, so that it runs the
// same inside compose and outside it.
import { existsSync } from 'node:fs';
import { readAgentStack } from '../src/agents/stack-settings.js';
import { ExitCode, isStackError, StackError } from '../src/errors.js';
import type { AgentPolicy } from './policy/create-policy.js';

export interface GuardSettings {
  host: string;
  port: number;
  dockerSocket: string;
  /** Largest request body read, in bytes. */
  maxBody: number;
  /** The agents' policy, when GUARD_AGENTS_FILE is set; otherwise only ping and version pass. */
  agents: AgentPolicy | undefined;
}

export function readGuardSettings(env: NodeJS.ProcessEnv): GuardSettings {
  const listen = env.GUARD_LISTEN || '0.0.0.0:2375';
  const match = /^(.*):(\d{1,5})$/.exec(listen);
  const port = Number(match?.[2]);
  if (!match?.[1] || port < 1 || port > 65535) {
    throw new StackError('guard-listen', 'GUARD_LISTEN must be HOST:PORT, for example 0.0.0.0:2375', {
      step: 'settings',
      exitCode: ExitCode.config,
    });
  }
  const dockerSocket = env.GUARD_DOCKER_SOCKET || '/var/run/docker.sock';
  if (!dockerSocket.startsWith('/')) {
    throw new StackError('guard-socket', 'GUARD_DOCKER_SOCKET must be an absolute path to the Docker socket', {
      step: 'settings',
      exitCode: ExitCode.config,
    });
  }
  return {
    host: match[1].replace(/^\[(.*)\]$/, '$1'),
    port,
    dockerSocket,
    maxBody: 64 * 1024,
    agents: agentPolicy(env),
  };
}

/**
 * With GUARD_AGENTS_FILE, the guard builds each agent's container itself and
 * compares; the stack's settings are the same variables the agent command
 * reads (compose.yml gives both the same block).
 */
function agentPolicy(env: NodeJS.ProcessEnv): AgentPolicy | undefined {
  const agentsFile = env.GUARD_AGENTS_FILE;
  if (!agentsFile) return undefined;
  const bad = (message: string) =>
    new StackError('guard-agents', message, { step: 'settings', exitCode: ExitCode.config });
  if (!agentsFile.startsWith('/'))
    throw bad('GUARD_AGENTS_FILE must be the absolute path of the agents file (compose.yml mounts it read-only)');
  if (!existsSync(agentsFile))
    throw bad(
      `GUARD_AGENTS_FILE names ${agentsFile}, which does not exist; mount the agents file there (AGENTS_FILE in .env)`,
    );
  try {
    const stack = readAgentStack(env);
    if (!stack.secretsDir)
      throw bad(
        'GUARD_AGENTS_FILE needs COPILOT_BRIDGE_SECRETS_DIR and COPILOT_BRIDGE_RELEASED: the released tokens agents may bind (`npm run up` sets both)',
      );
    return { stack, agentsFile };
  } catch (error) {
    if (isStackError(error, 'agent-settings')) throw bad(error.message);
    throw error;
  }
}
