// The agents' policy: the guard compares, it does not interpret. For a create
// of PROJECT-agent-NAME it reads the agents file, builds NAME's container
// with the same builder `agent up` uses,
// and lets the request through only when the client's body is that body;
// what goes to the daemon is the builder's body, never the client's bytes.
// A name that is not in the agents file, or that the stack reserves, is
// refused before anything is built.
import { findAgent, readAgentsFile } from '../../src/agents/agents-file.js';
import { type AgentContainer, agentContainer } from '../../src/agents/container-spec.js';
import type { AgentStack } from '../../src/agents/stack-settings.js';
import {
  AGENT_NAME,
  agentContainerName,
  agentOfVolume,
  agentVolumeName,
  RESERVED_AGENT_NAMES,
} from '../../src/contract.js';
import { isStackError } from '../../src/errors.js';
import { goFold } from './fields.js';
import { Refusal } from './refusal.js';
import { firstDifference } from './same-body.js';
import type { Json } from './strict-json.js';

export interface AgentPolicy {
  stack: AgentStack;
  /** The agents file (mounted read-only): the only agents that may be created. */
  agentsFile: string;
}

/** Go map fields of the create and volume bodies: their keys are compared exactly. */
const CONTAINER_MAPS = new Set([
  'Labels',
  'HostConfig.Tmpfs',
  'HostConfig.LogConfig.Config',
  'NetworkingConfig.EndpointsConfig',
]);
const VOLUME_MAPS = new Set(['Labels', 'DriverOpts']);

/** The agent's name from a container name `${project}-agent-NAME`, or a refusal. */
export function agentFromContainerName(project: string, name: string | null): string {
  const prefix = agentContainerName(project, '');
  const agent = name?.startsWith(prefix) ? name.slice(prefix.length) : undefined;
  if (agent === undefined || !AGENT_NAME.test(agent))
    throw new Refusal(
      'container-name',
      `agent containers must be named ${prefix}NAME (lower-case letters, digits, dashes)`,
    );
  if (RESERVED_AGENT_NAMES.includes(agent))
    throw new Refusal('reserved-name', `${agent} is reserved for the stack or by Docker; it cannot be an agent`);
  return agent;
}

/** What the builder makes for `agent`, or a refusal that says why there is nothing to build. */
function expectedAgent(policy: AgentPolicy, agent: string): AgentContainer {
  try {
    const definition = findAgent(readAgentsFile(policy.agentsFile), agent);
    return agentContainer(policy.stack, definition);
  } catch (error) {
    if (isStackError(error, 'agent-unknown'))
      throw new Refusal('unknown-agent', `${agent} is not in the agents file; only listed agents may be created`);
    if (isStackError(error))
      throw new Refusal(error.code, `the guard cannot build ${agent}'s container: ${error.message}`);
    throw error;
  }
}

/** Checks a POST /containers/create body for `agent`; returns the body to forward (the builder's). */
export function reviewCreateBody(policy: AgentPolicy, agent: string, body: Json): Buffer {
  const expected = expectedAgent(policy, agent);
  const difference = firstDifference(body, expected.body, CONTAINER_MAPS);
  if (difference)
    throw new Refusal(
      'not-the-agent-spec',
      `the body is not ${agent}'s container: ${difference}; start agents with \`agent up ${agent}\` (\`agent spec ${agent}\` prints the body)`,
    );
  return Buffer.from(JSON.stringify(expected.body));
}

/** Checks a POST /volumes/create body: only a listed agent's home volume, exactly as the builder makes it. */
export function reviewVolumeBody(policy: AgentPolicy, body: Json): Buffer {
  const name = body instanceof Map ? [...body].find(([key]) => goFold(key) === 'name')?.[1] : undefined;
  const agent = typeof name === 'string' ? agentOfVolume(policy.stack.project, name) : undefined;
  if (agent === undefined)
    throw new Refusal(
      'volume-name',
      `$.Name must be ${agentVolumeName(policy.stack.project, 'NAME')} for an agent NAME of the agents file`,
    );
  const expected = expectedAgent(policy, agent);
  const difference = firstDifference(body, expected.volumeBody, VOLUME_MAPS);
  if (difference)
    throw new Refusal(
      'not-the-agent-spec',
      `the body is not ${agent}'s home volume: ${difference}; start agents with \`agent up ${agent}\``,
    );
  return Buffer.from(JSON.stringify(expected.volumeBody));
}
