// The agent commands' settings. In the admin container compose.yml hands over
// the stack's block (AGENT_IMAGE and the rest) in the environment. On the
// host nothing does: there they come as Compose would make them, from `.env`
// of the checkout, the environment over it and compose.yml's defaults, and
// the release directory is the one `npm run up` used. The stack's part is
// shared with the socket guard (src/agents/stack-settings.ts).
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { type AgentStack, readAgentStack } from '../src/agents/stack-settings.js';
import { isOwnReleaseDir } from '../src/stack/release-dir.js';
import { releaseDir, stackSettings } from '../src/stack/settings.js';

export interface AgentSettings {
  stack: AgentStack;
  agentsFile: string;
}

export function readAgentSettings(
  env: NodeJS.ProcessEnv,
  cwd = process.cwd(),
  platform = process.platform,
): AgentSettings {
  if (env.AGENT_IMAGE) return { stack: readAgentStack(env), agentsFile: env.AGENTS_FILE || 'agents.json' };
  const settings = stackSettings(env, cwd);
  const secretsDir = settings.COPILOT_BRIDGE_SECRETS_DIR || releaseDir(env, platform);
  // Its files are what the agent mounts: the directory must be proven ours (another user could have made it first).
  const released = isOwnReleaseDir(secretsDir)
    ? readdirSync(secretsDir)
        .filter((name) => !name.startsWith('.'))
        .join(',')
    : '';
  const onHost: Record<string, string | undefined> = {
    ...settings,
    AGENT_IMAGE: settings.BRIDGE_IMAGE,
    AGENT_SECRETS_SOURCE: settings.SECRETS_SOURCE,
    COPILOT_BRIDGE_SECRETS_DIR: secretsDir,
    COPILOT_BRIDGE_RELEASED: settings.COPILOT_BRIDGE_RELEASED ?? released,
  };
  return { stack: readAgentStack(onHost), agentsFile: resolve(cwd, onHost.AGENTS_FILE!) };
}
