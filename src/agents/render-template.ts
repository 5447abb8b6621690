// Renders a bridge's config template with the non-secret values of its entry
// in the agents file. Mustache runs with `<% %>` delimiters so that
// `{{ op://... }}` references reach `op inject` untouched; values are
// JSON-escaped, since the template is JSON. The entry's GitHub token is not
// part of the config: it is rendered beside it (environmentReferences).
import Mustache from 'mustache';
import type { AgentDefinition } from './agents-file.js';

const TAGS: [string, string] = ['<%', '%>'];

/** Where each bridge's GitHub token goes: the one variable the Copilot CLI reads it from. */
export const GITHUB_TOKEN_VARIABLE = 'COPILOT_GITHUB_TOKEN';

export function renderAgentTemplate(template: string, agent: AgentDefinition): string {
  const json = (value: string) => JSON.stringify(value).slice(1, -1);
  const list = <T>(items: readonly T[], each: (item: T) => object) =>
    items.map((item, i) => ({ ...each(item), comma: i < items.length - 1 ? ',' : '' }));
  const view = {
    agentName: json(agent.name),
    botTokenItem: json(agent.botTokenItem),
    persona: json(agent.persona ?? agent.name),
    model: json(agent.model ?? 'gpt-5'),
    channels: list(agent.channels, (c) => ({ id: json(c.id), name: json(c.name) })),
    users: list(agent.users ?? [], (user) => ({ user: json(user) })),
  };
  return Mustache.render(template, view, {}, { tags: TAGS, escape: (text: string) => String(text) });
}

/** The references whose values go into the bridge's environment, by variable: its GitHub token. */
export function environmentReferences(agent: AgentDefinition): Record<string, string> {
  return { [GITHUB_TOKEN_VARIABLE]: `${agent.githubTokenItem}/token` };
}
