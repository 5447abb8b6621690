// An agent stack for unit tests: settings as compose.yml gives them, an
// agents file with lal (its own sealed token) and data (the shared one), and
// the checkout's agent template; the guard's policy built from them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AgentPolicy } from '../../socket-guard/policy/create-policy.js';
import type { AgentDefinition } from '../../src/agents/agents-file.js';
import type { AgentStack } from '../../src/agents/stack-settings.js';

interface Teardown {
  teardown(fn: () => void): void;
}

export const TEMPLATE = resolve(import.meta.dirname, '..', '..', 'templates', 'agent.config.json.tpl');
export const SECRETS_DIR = '/dev/shm/copilot-bridge-stack';

export const STACK: AgentStack = {
  project: 'cbs',
  image: 'copilot-bridge-stack:test',
  network: 'cbs_mattermost-net',
  memoryBytes: 512 * 1024 * 1024,
  pids: 256,
  nanoCpus: 1_000_000_000,
  logMaxSize: '10m',
  logMaxFile: 3,
  secretsDir: SECRETS_DIR,
  source: '1password',
  released: ['op-sa-token', 'agent-lal'],
};

export const AGENTS: AgentDefinition[] = [
  {
    name: 'lal',
    botTokenItem: 'op://stack/mattermost-lal',
    githubTokenItem: 'op://stack/github-lal',
    persona: 'Lal "the" helper',
    channels: [
      { id: 'abc12300000000000000000000', name: 'town-square' },
      { id: 'def45600000000000000000000', name: 'dev' },
    ],
    users: ['ray'],
  },
  {
    name: 'data',
    botTokenItem: 'op://stack/mattermost-data',
    githubTokenItem: 'op://stack/github-data',
    channels: [{ id: 'ghi78900000000000000000000', name: 'data' }],
  },
];

/** Writes the agents file into a fresh directory (removed in teardown); returns the guard's policy. */
export function agentPolicy(
  t: Teardown,
  agents: readonly AgentDefinition[] = AGENTS,
  stack: AgentStack = STACK,
): AgentPolicy {
  const dir = mkdtempSync(join(tmpdir(), 'cbs-agent-stack-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const agentsFile = join(dir, 'agents.json');
  writeFileSync(agentsFile, JSON.stringify({ agents }));
  return { stack, agentsFile };
}
