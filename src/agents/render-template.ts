// Renders an agent's config template with its non-secret values. Mustache
// runs with `<% %>` delimiters so that `{{ op://... }}` references reach
// `op inject` untouched; values are JSON-escaped, since the template is JSON.
import Mustache from 'mustache';
import type { AgentDefinition } from './agents-file.js';

const TAGS: [string, string] = ['<%', '%>'];

export function renderAgentTemplate(template: string, agent: AgentDefinition): string {
  const json = (value: string) => JSON.stringify(value).slice(1, -1);
  const list = <T>(items: readonly T[], each: (item: T) => object) => items.map((item, i) => ({ ...each(item), comma: i < items.length - 1 ? ',' : '' }));
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
