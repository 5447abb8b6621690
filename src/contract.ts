// What the programs, compose.yml and the socket guard must agree on, in one
// place: labels, names, paths and patterns. If one copy drifted, agents would
// stop starting or the guard's policy would open a hole, so there is no copy.

/** The name the stack's own directories, locks and Keychain items carry. */
export const SERVICE = 'copilot-bridge-stack';

/** Label on every agent container: the agent's name. */
export const AGENT_LABEL = 'com.copilot-bridge-stack.agent';
/** Label on every agent container and volume: the compose project it belongs to. */
export const PROJECT_LABEL = 'com.copilot-bridge-stack.project';
/** Label on every agent container: the SHA-256 of the rest of its create body, so that `agent up` can tell a stale one. */
export const SPEC_LABEL = 'com.copilot-bridge-stack.spec';

/** Where every bridge container finds its service-account token (a Docker secret or a read-only bind). */
export const TOKEN_TARGET = '/run/secrets/op_sa_token';
/** The sealed credential, and released file, of the service-account token that agents share. */
export const SHARED_TOKEN = 'op-sa-token';
/** An agent's own sealed service-account token, when it has one. */
export const agentCredential = (agent: string) => `agent-${agent}`;
/** The local vault's sealed credential (SECRETS_SOURCE=vault). */
export const VAULT_CREDENTIAL = 'vault';
/** The released file of the admin bridge's part of the local vault. */
export const ADMIN_VAULT_SUBSET = 'vault-admin';
/** The released file of an agent's part of the local vault: its own items and no one else's. */
export const agentVaultSubset = (agent: string) => `vault-agent-${agent}`;
/** The stack's source of secrets, SECRETS_SOURCE in `.env`: the local vault (the default) or 1Password. */
export const SECRETS_SOURCES = ['vault', '1password'] as const;
export type SecretsSource = (typeof SECRETS_SOURCES)[number];
export const DEFAULT_SECRETS_SOURCE: SecretsSource = 'vault';

/** Agent names: lower-case letters, digits and dashes, at most 31 (they become DNS aliases and container names). */
export const AGENT_NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;
/** Compose project names as Compose itself accepts them. */
export const PROJECT_NAME = /^[a-z0-9][a-z0-9_-]*$/;

/**
 * Names an agent may not take: the stack's services (an agent's network alias
 * would answer for them on mattermost-net) and names Docker or DNS reserve.
 */
export const RESERVED_AGENT_NAMES: readonly string[] = [
  'mattermost',
  'postgres',
  'copilot-bridge',
  'socket-proxy',
  'localhost',
  'host',
  'bridge',
  'none',
  'default',
  'gateway',
  'host-gateway',
];

export const agentContainerName = (project: string, agent: string) => `${project}-agent-${agent}`;
export const agentVolumeName = (project: string, agent: string) => `${project}-agent-${agent}-home`;

/** The agent whose home volume `volume` is by its name (agentVolumeName read backwards), or undefined. */
export function agentOfVolume(project: string, volume: string): string | undefined {
  const [before, after] = agentVolumeName(project, '\0').split('\0') as [string, string];
  if (volume.length <= before.length + after.length || !volume.startsWith(before) || !volume.endsWith(after))
    return undefined;
  const agent = volume.slice(before.length, volume.length - after.length);
  return AGENT_NAME.test(agent) ? agent : undefined;
}

/**
 * The capabilities a bridge container is given (all others dropped): the privilege drop only. Root reads
 * the root-owned token file without any capability.
 */
export const BRIDGE_CAPABILITIES: readonly string[] = ['SETUID', 'SETGID'];

/** Where the image keeps the template every agent's config is rendered from. */
/** Beside the rendered config, the bridge's pid (in its container): the root of the one tree that may hold its GitHub token. */
export const BRIDGE_PID_FILE = '.copilot-bridge.pid';
export const IMAGE_AGENT_TEMPLATE = '/etc/copilot-bridge/agent.config.json.tpl';
/** The bridge's home in every bridge container: its volume is mounted here. */
export const BRIDGE_HOME = '/home/bridge';
/** Mattermost's health endpoint, as the stack's services see it. */
export const MATTERMOST_PING = 'http://mattermost:8065/api/v4/system/ping';
