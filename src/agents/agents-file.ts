// The agents file lists the agents an admin may start: a name and the
// non-secret values of its config (channels, persona, model). Secrets stay
// op:// references in the template; nothing here is secret.
import { readFileSync } from 'node:fs';
import { AGENT_NAME, RESERVED_AGENT_NAMES } from '../contract.js';
import { ExitCode, StackError, errnoCode } from '../errors.js';

export interface AgentDefinition {
  name: string;
  /** The 1Password item that holds this agent's bot token (op://VAULT/ITEM/token). */
  botTokenItem: string;
  persona?: string;
  model?: string;
  channels: Array<{ id: string; name: string }>;
  /** Mattermost user names allowed to talk to it (none: everyone is denied, as copilot-bridge does without an access list). */
  users?: string[];
}

export function readAgentsFile(file: string): AgentDefinition[] {
  const fail = (message: string, exitCode: typeof ExitCode[keyof typeof ExitCode] = ExitCode.config, cause?: unknown): never => {
    throw new StackError('agents-file', message, { step: 'agents', exitCode, cause });
  };
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return fail(`${file} does not exist; create it from agents.example.json or set AGENTS_FILE`, ExitCode.noInput, error);
    return fail(`${file} is not valid JSON; fix it (see agents.example.json)`, ExitCode.dataErr, error);
  }
  const list = (data as { agents?: unknown })?.agents;
  if (!Array.isArray(list)) return fail(`${file} must be an object with an "agents" list`);
  return list.map((a, i) => {
    const agent = a as Partial<AgentDefinition>;
    if (typeof agent.name !== 'string' || !AGENT_NAME.test(agent.name)) fail(`agents[${i}].name must be lower-case letters, digits and dashes (at most 31)`);
    if (RESERVED_AGENT_NAMES.includes(agent.name!)) fail(`agents[${i}].name '${agent.name}' is reserved (a service of the stack, or a name Docker keeps); choose another`);
    if (list.findIndex((other) => (other as { name?: unknown })?.name === agent.name) !== i) fail(`agents[${i}].name '${agent.name}' is listed twice; give each agent its own name`);
    if (typeof agent.botTokenItem !== 'string' || !/^op:\/\/[^/\s]+\/[^/\s]+$/.test(agent.botTokenItem)) fail(`agents[${i}].botTokenItem must be op://VAULT/ITEM`);
    if (!Array.isArray(agent.channels) || agent.channels.some((c) => typeof c?.id !== 'string' || typeof c?.name !== 'string')) fail(`agents[${i}].channels must be a list of { "id", "name" }`);
    if (agent.users !== undefined && (!Array.isArray(agent.users) || agent.users.some((u) => typeof u !== 'string'))) fail(`agents[${i}].users must be a list of Mattermost user names`);
    for (const key of ['persona', 'model'] as const) if (agent[key] !== undefined && typeof agent[key] !== 'string') fail(`agents[${i}].${key} must be a string`);
    // Values reach the agent's template as text: none may add a reference of its own (only botTokenItem names an item).
    const values: Array<[string, string]> = [
      ...(['persona', 'model'] as const).filter((key) => agent[key] !== undefined).map((key): [string, string] => [key, agent[key]!]),
      ...agent.channels!.flatMap((c, j): Array<[string, string]> => [[`channels[${j}].id`, c.id], [`channels[${j}].name`, c.name]]),
      ...(agent.users ?? []).map((u, j): [string, string] => [`users[${j}]`, u]),
    ];
    for (const [where, value] of values) if (/\{\{|\}\}|op:\/\//.test(value)) fail(`agents[${i}].${where} must not contain '{{', '}}' or 'op://'; only botTokenItem names a 1Password item`);
    return agent as AgentDefinition;
  });
}

export function findAgent(agents: readonly AgentDefinition[], name: string): AgentDefinition {
  const agent = agents.find((a) => a.name === name);
  if (!agent) throw new StackError('agent-unknown', `no agent named ${name} in the agents file; known: ${agents.map((a) => a.name).join(', ') || 'none'}`, { step: 'agents', exitCode: ExitCode.usage });
  return agent;
}
