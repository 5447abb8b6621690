// The one builder of an agent's container. `agent up` sends what it returns;
// the socket guard builds it again for the name asked and lets a create
// through only when the client's body is the same. So the client names an
// agent and never designs its container: the image, the user, the command,
// the environment, the token, the mounts, the network alias, the
// capabilities and the limits all come from here.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  AGENT_LABEL,
  agentContainerName,
  agentCredential,
  agentVaultSubset,
  agentVolumeName,
  BRIDGE_CAPABILITIES,
  BRIDGE_HOME,
  IMAGE_AGENT_TEMPLATE,
  MATTERMOST_PING,
  PROJECT_LABEL,
  SHARED_TOKEN,
  SPEC_LABEL,
  TOKEN_TARGET,
} from '../contract.js';
import { ExitCode, StackError } from '../errors.js';
import type { AgentDefinition } from './agents-file.js';
import type { AgentStack } from './stack-settings.js';

export interface AgentContainer {
  name: string;
  volume: string;
  /** The body of POST /containers/create?name=NAME. */
  body: Record<string, unknown>;
  /** The body of POST /volumes/create for the agent's home. */
  volumeBody: Record<string, unknown>;
}

/** What the image's entrypoint runs: the bridge, and nothing a client chose. */
const AGENT_COMMAND = ['copilot-bridge', 'start'];

/**
 * The agent's container, volume and token, from its entry in the agents file.
 * The entry goes in whole (BRIDGE_AGENT_ENTRY): the entrypoint fills the
 * image's agent template with it, and renders its GitHub token beside the
 * config, into the bridge's environment alone.
 */
export function agentContainer(stack: AgentStack, agent: AgentDefinition): AgentContainer {
  if (agent.name.startsWith(`${stack.project}-`)) {
    throw new StackError(
      'agent-name',
      `the agent name ${agent.name} starts with the project's name; choose one that cannot be mistaken for a container of the stack`,
      { step: 'agents', exitCode: ExitCode.config },
    );
  }
  const volume = agentVolumeName(stack.project, agent.name);
  const labels: Record<string, string> = { [AGENT_LABEL]: agent.name, [PROJECT_LABEL]: stack.project };
  const body: Record<string, unknown> = {
    Image: stack.image,
    // Root for the entrypoint's root phase, asked for explicitly: the image's own user is `bridge`.
    User: '0:0',
    Cmd: [...AGENT_COMMAND],
    Env: [
      'BRIDGE_SUPERVISE=1',
      `BRIDGE_WAIT_FOR=${MATTERMOST_PING}`,
      `BRIDGE_CONFIG_TEMPLATE=${IMAGE_AGENT_TEMPLATE}`,
      `BRIDGE_AGENT_ENTRY=${JSON.stringify(agent)}`,
      `BRIDGE_SECRETS_SOURCE=${stack.source}`,
    ],
    Labels: labels,
    HostConfig: {
      NetworkMode: stack.network,
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      CapAdd: [...BRIDGE_CAPABILITIES],
      SecurityOpt: ['no-new-privileges:true'],
      Mounts: [
        { Type: 'volume', Source: volume, Target: BRIDGE_HOME },
        { Type: 'bind', Source: tokenSource(stack, agent.name), Target: TOKEN_TARGET, ReadOnly: true },
      ],
      Tmpfs: { '/tmp': 'size=64m,mode=1777,nosuid,nodev' },
      Memory: stack.memoryBytes,
      MemorySwap: stack.memoryBytes,
      PidsLimit: stack.pids,
      NanoCpus: stack.nanoCpus,
      // No init process: the entrypoint is PID 1 and forwards `docker stop` to the bridge itself
      // (an init running as root would need CAP_KILL to signal the bridge's user).
      Init: false,
      RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 },
      Ulimits: [{ Name: 'core', Soft: 0, Hard: 0 }],
      LogConfig: { Type: 'json-file', Config: { 'max-file': String(stack.logMaxFile), 'max-size': stack.logMaxSize } },
    },
    NetworkingConfig: { EndpointsConfig: { [stack.network]: { Aliases: [agent.name] } } },
  };
  // Last, over everything above: the body's own fingerprint, by which `agent up` tells a container made from another
  // spec.
  labels[SPEC_LABEL] = specHash(body);
  return {
    name: agentContainerName(stack.project, agent.name),
    volume,
    volumeBody: { Name: volume, Driver: 'local', Labels: { [PROJECT_LABEL]: stack.project } },
    body,
  };
}

/** The SHA-256 of a create body as JSON, its spec label left out. */
function specHash(body: Record<string, unknown>): string {
  const labels = { ...(body.Labels as Record<string, string>) };
  delete labels[SPEC_LABEL];
  return createHash('sha256')
    .update(JSON.stringify({ ...body, Labels: labels }))
    .digest('hex');
}

/**
 * The host path of the credential an agent gets. With the local vault: its
 * own part of it, and nothing else (there is no shared one to fall back on).
 * With 1Password: its own sealed token when released, else the shared one.
 */
function tokenSource(stack: AgentStack, agent: string): string {
  if (!stack.secretsDir) {
    throw new StackError(
      'agent-token',
      'COPILOT_BRIDGE_SECRETS_DIR is not set: start the stack with `npm run up`, which releases the tokens and sets it',
      { step: 'token', exitCode: ExitCode.config },
    );
  }
  if (stack.source === 'vault') {
    const subset = agentVaultSubset(agent);
    if (stack.released.includes(subset)) return join(stack.secretsDir, subset);
    throw new StackError(
      'agent-token',
      `the local vault was not released for ${agent}: put its items in the vault (npm run vault -- set ITEM/FIELD; up names what is missing), then \`npm run up\``,
      { step: 'token', exitCode: ExitCode.noInput },
    );
  }
  const own = agentCredential(agent);
  if (stack.released.includes(own)) return join(stack.secretsDir, own);
  if (stack.released.includes(SHARED_TOKEN)) return join(stack.secretsDir, SHARED_TOKEN);
  throw new StackError(
    'agent-token',
    `no released token for ${agent}: seal one with \`npm run seal -- --name ${own}\` (or the shared ${SHARED_TOKEN}), then \`npm run up\``,
    { step: 'token', exitCode: ExitCode.noInput },
  );
}
