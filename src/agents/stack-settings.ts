// The settings every agent container is built from, read from the
// environment by both programs that build one: the agent command (which asks
// for it) and the socket guard (which builds it again and compares). compose.yml
// hands both the same values from one block, so both build the same body.
import { existsSync, readdirSync } from 'node:fs';
import { PROJECT_NAME, SECRETS_SOURCES, type SecretsSource } from '../contract.js';
import { ExitCode, StackError } from '../errors.js';

export interface AgentStack {
  project: string;
  /** The stack's own image: agents run nothing else. */
  image: string;
  /** The only network agents join (compose's mattermost-net, named explicitly). */
  network: string;
  memoryBytes: number;
  pids: number;
  /** CPU limit in billionths of a CPU (Docker's NanoCpus). */
  nanoCpus: number;
  /** Log rotation of each agent container (json-file driver). */
  logMaxSize: string;
  logMaxFile: number;
  /** The host's release directory (`npm run up` makes it), when known. */
  secretsDir: string | undefined;
  /** Names of the credentials released there (op-sa-token, agent-NAME, or vault-agent-NAME...). */
  released: readonly string[];
  /** Where the values come from (SECRETS_SOURCE): each agent gets its own part of the local vault, or a service-account token. */
  source: SecretsSource;
}

const bad = (message: string) =>
  new StackError('agent-settings', message, { step: 'settings', exitCode: ExitCode.config });

/** Reads the agent stack from the environment; throws a StackError (exit 78) naming the variable that is wrong. */
export function readAgentStack(env: NodeJS.ProcessEnv): AgentStack {
  const project = env.AGENT_PROJECT || env.COMPOSE_PROJECT_NAME;
  if (!project || !PROJECT_NAME.test(project))
    throw bad("set COMPOSE_PROJECT_NAME (or AGENT_PROJECT) to the stack's compose project name");
  const image = env.AGENT_IMAGE;
  if (!image)
    throw bad("set AGENT_IMAGE to the stack's own image (compose.yml sets it in the admin and guard containers)");
  const secretsDir = env.COPILOT_BRIDGE_SECRETS_DIR || undefined;
  if (secretsDir !== undefined && !secretsDir.startsWith('/'))
    throw bad('COPILOT_BRIDGE_SECRETS_DIR must be an absolute path (the release directory `npm run up` prints)');
  const released =
    env.COPILOT_BRIDGE_RELEASED !== undefined
      ? env.COPILOT_BRIDGE_RELEASED.split(',')
          .map((name) => name.trim())
          .filter(Boolean)
      : secretsDir && existsSync(secretsDir)
        ? readdirSync(secretsDir).filter((name) => !name.startsWith('.'))
        : [];
  // compose.yml always sets it from SECRETS_SOURCE (default vault); a program started without it is on 1Password.
  const source = (env.AGENT_SECRETS_SOURCE || '1password') as SecretsSource;
  if (!SECRETS_SOURCES.includes(source)) throw bad(`SECRETS_SOURCE must be ${SECRETS_SOURCES.join(' or ')}`);
  return {
    source,
    project,
    image,
    network: env.AGENT_NETWORK || `${project}_mattermost-net`,
    memoryBytes: size(env, 'AGENT_MEMORY', '1g'),
    pids: whole(env, 'AGENT_PIDS', 512),
    nanoCpus: cpus(env, 'AGENT_CPUS', '1'),
    logMaxSize: logSize(env, 'AGENT_LOG_MAX_SIZE', '10m'),
    logMaxFile: whole(env, 'AGENT_LOG_MAX_FILE', 3),
    secretsDir,
    released,
  };
}

function size(env: NodeJS.ProcessEnv, name: string, fallback: string): number {
  const match = /^(\d{1,12})([kmg]?)$/i.exec(env[name] || fallback);
  const bytes = match ? Number(match[1]) * 1024 ** ' kmg'.indexOf((match[2] || ' ').toLowerCase()) : 0;
  // Docker refuses a memory limit under 6 MiB.
  if (!(bytes >= 6 * 1024 * 1024)) throw bad(`${name} must be a size of at least 6m, such as 1g or 512m`);
  return bytes;
}

function whole(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name] || String(fallback);
  const value = Number(raw);
  if (!/^\d{1,9}$/.test(raw) || value < 1) throw bad(`${name} must be a positive whole number`);
  return value;
}

function cpus(env: NodeJS.ProcessEnv, name: string, fallback: string): number {
  const raw = env[name] || fallback;
  const value = /^\d{1,3}(\.\d{1,2})?$/.test(raw) ? Math.round(Number(raw) * 100) * 10_000_000 : 0;
  if (value < 10_000_000) throw bad(`${name} must be a number of CPUs of at least 0.01, such as 1 or 0.5`);
  return value;
}

function logSize(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const raw = env[name] || fallback;
  if (!/^[1-9]\d{0,5}[kmg]$/.test(raw)) throw bad(`${name} must be a size such as 10m (k, m or g)`);
  return raw;
}
