// The template a bridge's config is rendered from, and the references whose
// values go into its environment instead. With an entry of the agents file
// (the admin's, by name from the mounted file; an agent's, inline as the
// agent builder gives it), the template is first filled with the entry's
// non-secret values, and the entry's GitHub token becomes COPILOT_GITHUB_TOKEN
// of the bridge alone. Without one, the template is used as it is.
import { readFileSync } from 'node:fs';
import {
  ADMIN,
  type AgentDefinition,
  checkEntry,
  findAgent,
  readAdminEntry,
  readAgentsFile,
} from '../src/agents/agents-file.js';
import { environmentReferences, renderAgentTemplate } from '../src/agents/render-template.js';
import { ExitCode, errnoCode, hasErrno, StackError } from '../src/errors.js';
import type { Settings } from './settings.js';

export interface TemplateSource {
  /** What op renders into the config file. */
  text: string;
  /** Where it came from, for messages. */
  name: string;
  /** References whose values go into the bridge's environment, by variable (never into a file). */
  environment: Record<string, string>;
}

export function templateSource(settings: Settings, step: string): TemplateSource {
  const raw = settings.templateText ?? readTemplate(settings.template, step);
  const name = settings.templateText === undefined ? settings.template : 'BRIDGE_CONFIG_TEMPLATE_TEXT';
  const entry = bridgeEntry(settings, step);
  if (!entry) return { text: raw, name, environment: {} };
  return {
    text: renderAgentTemplate(raw, entry),
    name: `${name} (for ${entry.name})`,
    environment: environmentReferences(entry),
  };
}

function bridgeEntry(settings: Settings, step: string): AgentDefinition | undefined {
  if (settings.agentEntry !== undefined) {
    let entry: unknown;
    try {
      entry = JSON.parse(settings.agentEntry);
    } catch (error) {
      throw new StackError(
        'agent-entry',
        'BRIDGE_AGENT_ENTRY is not JSON; the agent builder sets it: start agents with `agent up NAME`',
        { step, exitCode: ExitCode.config, cause: error },
      );
    }
    const name = (entry as { name?: unknown })?.name;
    return checkEntry(entry, typeof name === 'string' ? name : '?', 'BRIDGE_AGENT_ENTRY', (message) => {
      throw new StackError('agent-entry', message, { step, exitCode: ExitCode.config });
    });
  }
  if (settings.agentsFile === undefined || settings.agent === undefined) return undefined;
  if (settings.agent !== ADMIN) return findAgent(readAgentsFile(settings.agentsFile), settings.agent);
  const admin = readAdminEntry(settings.agentsFile);
  if (!admin) {
    throw new StackError(
      'agent-entry',
      `${settings.agentsFile} has no "admin" entry; add one with the admin bot's items, channels and users (see agents.example.json)`,
      { step, exitCode: ExitCode.config },
    );
  }
  return admin;
}

function readTemplate(file: string, step: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = errnoCode(error);
    throw new StackError(
      'template-unreadable',
      `cannot read the template ${file} (${code ?? 'error'}); set BRIDGE_CONFIG_TEMPLATE to the config.json.tpl file`,
      {
        step,
        exitCode: hasErrno(error, 'ENOENT') ? ExitCode.noInput : ExitCode.config,
        cause: error,
      },
    );
  }
}
