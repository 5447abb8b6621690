// The agent commands' settings, from the environment only (compose passes
// them to the admin container; on the host they come from the shell).
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ExitCode, StackError } from '../src/errors.js';
import type { StackScope } from '../src/agents/container-spec.js';

export interface AgentSettings {
  scope: StackScope;
  agentsFile: string;
  template: string;
  secretsDir: string | undefined;
  released: string[];
}

const bad = (message: string) => new StackError('agent-settings', message, { step: 'settings', exitCode: ExitCode.config });

export function readAgentSettings(env: NodeJS.ProcessEnv): AgentSettings {
  const project = env.AGENT_PROJECT || env.COMPOSE_PROJECT_NAME;
  if (!project || !/^[a-z0-9][a-z0-9_-]*$/.test(project)) throw bad('set COMPOSE_PROJECT_NAME (or AGENT_PROJECT) to the stack\'s compose project name');
  const image = env.AGENT_IMAGE;
  if (!image) throw bad("set AGENT_IMAGE to the stack's own image (the admin container has it set)");
  const size = (name: string, fallback: string) => {
    const match = /^(\d+)([kmg]?)$/i.exec(env[name] || fallback);
    if (!match) throw bad(`${name} must be a size such as 1g or 512m`);
    return Number(match[1]) * 1024 ** ' kmg'.indexOf((match[2] || ' ').toLowerCase());
  };
  const pids = Number(env.AGENT_PIDS || 512);
  if (!Number.isInteger(pids) || pids < 1) throw bad('AGENT_PIDS must be a positive whole number');
  const secretsDir = env.COPILOT_BRIDGE_SECRETS_DIR || undefined;
  const released = env.COPILOT_BRIDGE_RELEASED
    ? env.COPILOT_BRIDGE_RELEASED.split(',').filter(Boolean)
    : secretsDir && existsSync(secretsDir) ? readdirSync(secretsDir).filter((n) => !n.startsWith('.')) : [];
  return {
    scope: { project, image, network: env.AGENT_NETWORK || `${project}_mattermost-net`, memoryBytes: size('AGENT_MEMORY', '1g'), pids },
    agentsFile: env.AGENTS_FILE || 'agents.json',
    template: env.AGENT_TEMPLATE || resolve(import.meta.dirname, '..', '..', 'templates', 'agent.config.json.tpl'),
    secretsDir,
    released,
  };
}

/** The host path of the token an agent gets: its own sealed credential when released, else the shared one. */
export function tokenSource(settings: AgentSettings, agent: string): string {
  if (!settings.secretsDir) throw bad('COPILOT_BRIDGE_SECRETS_DIR is not set: run the stack with `npm run up`, which releases the tokens and sets it');
  const own = `agent-${agent}`;
  if (settings.released.includes(own)) return join(settings.secretsDir, own);
  if (settings.released.includes('op-sa-token')) return join(settings.secretsDir, 'op-sa-token');
  throw new StackError('agent-token', `no released token for ${agent}: seal one with \`npm run seal -- --name ${own}\` (or the shared op-sa-token), then \`npm run up\``, { step: 'token', exitCode: ExitCode.noInput });
}
