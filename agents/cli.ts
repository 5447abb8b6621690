// `agent up|down|ls|logs|spec NAME`: the edge where argv, the environment and
// exit codes meet the agent commands.
import { findAgent, readAgentsFile } from '../src/agents/agents-file.js';
import { type AgentContainer, agentContainer } from '../src/agents/container-spec.js';
import { failure } from '../src/cli-edge.js';
import { agentContainerName, agentVolumeName } from '../src/contract.js';
import { ExitCode, StackError } from '../src/errors.js';
import { AgentDocker } from './docker-client.js';
import { type AgentSettings, readAgentSettings } from './settings.js';

const USAGE =
  'usage: agent up NAME | agent down NAME [--purge] | agent ls | agent logs NAME [--follow] | agent spec NAME';

export async function cli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const say = (line: string) => process.stderr.write(`agent: ${line}\n`);
  try {
    const [command, name, ...flags] = args;
    const usage = (why: string) => new StackError('usage', `${why}; ${USAGE}`, { exitCode: ExitCode.usage });
    const known: Record<string, string[]> = { up: [], down: ['--purge'], ls: [], logs: ['--follow'], spec: [] };
    if (!command || !(command in known)) throw usage(command ? `unknown command '${command}'` : 'no command');
    if (command !== 'ls' && !name) throw usage(`${command} needs an agent name`);
    const extra = (command === 'ls' ? [name, ...flags] : flags).filter(
      (f): f is string => f !== undefined && !known[command]!.includes(f),
    );
    if (extra.length) throw usage(`unexpected '${extra[0]}'`);
    const settings = readAgentSettings(env);
    if (command === 'spec') {
      // Exactly the body `agent up` sends, and the guard builds to compare with.
      process.stdout.write(`${JSON.stringify(buildSpec(settings, name!).body, null, 2)}\n`);
      return ExitCode.ok;
    }
    const docker = new AgentDocker(settings.stack.project, say);
    const { project } = settings.stack;
    if (command === 'up') {
      await docker.up(buildSpec(settings, name!), upWait(env));
    } else if (command === 'down') {
      await docker.down(agentContainerName(project, name!), agentVolumeName(project, name!), flags.includes('--purge'));
    } else if (command === 'logs') {
      await docker.logs(agentContainerName(project, name!), flags.includes('--follow'), process.stdout, process.stderr);
    } else {
      const rows = (await docker.list()).map((a) => [
        a.agent,
        a.state,
        a.health,
        uptime(a.startedAt, a.state),
        String(a.restarts),
      ]);
      process.stdout.write(table([['AGENT', 'STATE', 'HEALTH', 'UPTIME', 'RESTARTS'], ...rows]));
    }
    return ExitCode.ok;
  } catch (error) {
    const { message, exitCode } = failure(error);
    process.stderr.write(`agent: ${message}\n`);
    return exitCode;
  }
}

/** The agent's container as the agents file defines it. */
function buildSpec(settings: AgentSettings, name: string): AgentContainer {
  return agentContainer(settings.stack, findAgent(readAgentsFile(settings.agentsFile), name));
}

function uptime(startedAt: string, state: string): string {
  if (state !== 'running' || !startedAt) return '-';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(startedAt)) / 1000));
  return s < 60
    ? `${s}s`
    : s < 3600
      ? `${Math.floor(s / 60)}m`
      : `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows
      .map((r) =>
        r
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/**
 * How long `agent up` watches a started agent for a crash: AGENT_UP_WAIT
 * seconds (default 8, longer than a bridge takes to fail on a missing item or
 * token; 0: not at all). It returns as soon as the agent is healthy.
 */
function upWait(env: NodeJS.ProcessEnv): number {
  const raw = env.AGENT_UP_WAIT ?? '8';
  if (!/^\d{1,4}$/.test(raw))
    throw new StackError('agent-settings', 'AGENT_UP_WAIT must be a whole number of seconds (0: do not wait)', {
      step: 'settings',
      exitCode: ExitCode.config,
    });
  return Number(raw) * 1000;
}
