// docker-socket-guard's edge: settings from the environment, start listening,
// stop on SIGTERM/SIGINT. Failures map to one line and a documented exit code.
import { failure } from '../src/cli-edge.js';
import { ExitCode, errnoCode } from '../src/errors.js';
import { agentRoutes } from './policy/agent-routes.js';
import { BASE_ROUTES } from './policy/policy.js';
import { createGuard } from './server.js';
import { readGuardSettings } from './settings.js';
import { dockerGet } from './upstream.js';

export async function cli(env: NodeJS.ProcessEnv): Promise<number> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  let settings;
  try {
    settings = readGuardSettings(env);
  } catch (error) {
    const { message, exitCode } = failure(error);
    log(`docker-socket-guard: ${message}`);
    return exitCode;
  }
  const routes = settings.agents ? agentRoutes(settings.agents, dockerGet(settings.dockerSocket)) : BASE_ROUTES;
  const server = createGuard(settings, routes, log);
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', (error: Error & { code?: string }) => {
      log(
        `docker-socket-guard: cannot listen on ${settings.host}:${settings.port} (${errnoCode(error) ?? error.name}); check GUARD_LISTEN`,
      );
      resolve(false);
    });
    server.listen(settings.port, settings.host, () => resolve(true));
  });
  if (!listening) return ExitCode.unavailable;
  const scope = settings.agents
    ? `agent calls and agent events of project ${settings.agents.stack.project}`
    : 'ping and version';
  log(
    `docker-socket-guard: listening on ${settings.host}:${settings.port}, forwarding ${scope} to ${settings.dockerSocket}`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => {
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return ExitCode.ok;
}
