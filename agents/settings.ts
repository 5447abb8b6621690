// The agent commands' settings, from the environment only (compose passes
// them to the admin container; on the host they come from the shell). The
// stack's part is shared with the socket guard (src/agents/stack-settings.ts).
import { readAgentStack, type AgentStack } from '../src/agents/stack-settings.js';

export interface AgentSettings {
  stack: AgentStack;
  agentsFile: string;
}

export function readAgentSettings(env: NodeJS.ProcessEnv): AgentSettings {
  return {
    stack: readAgentStack(env),
    agentsFile: env.AGENTS_FILE || 'agents.json',
  };
}
