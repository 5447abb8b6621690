// Removal of what the suite created: a compose project's containers,
// networks and volumes (by compose's own project label), its agents'
// containers and volumes (by the agent commands' project label, which the
// guard requires), containers the tests ran directly (by the test label), and
// leftovers of earlier runs whose test process is gone (project names carry
// the creating pid). Images are
// kept on purpose: they are the build cache (remove them with
// `docker image prune -a --filter label=com.copilot-bridge-stack.test=1`).
import { PROJECT_LABEL } from '../../../src/contract.js';
import { processAlive as alive } from '../alive.js';
import { PROJECT_PREFIX, TEST_LABEL_FILTER } from './paths.js';
import { dockerAttempt } from './run.js';

const ids = async (args: string[]) =>
  (await dockerAttempt(args)).stdout
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);

/** Force-removes the agent containers and volumes of a project (`agent up` labels them, not compose). */
export async function removeAgents(project: string): Promise<void> {
  const filter = `label=${PROJECT_LABEL}=${project}`;
  const containers = await ids(['ps', '-aq', '--filter', filter]);
  if (containers.length > 0) await dockerAttempt(['rm', '-f', '-v', ...containers]);
  const volumes = await ids(['volume', 'ls', '-q', '--filter', filter]);
  if (volumes.length > 0) await dockerAttempt(['volume', 'rm', '-f', ...volumes]);
}

/** Force-removes every container, network and volume labelled with this compose project, and its agents. */
export async function removeProject(project: string): Promise<void> {
  await removeAgents(project);
  const filter = `label=com.docker.compose.project=${project}`;
  const containers = await ids(['ps', '-aq', '--filter', filter]);
  if (containers.length > 0) await dockerAttempt(['rm', '-f', '-v', ...containers]);
  const networks = await ids(['network', 'ls', '-q', '--filter', filter]);
  if (networks.length > 0) await dockerAttempt(['network', 'rm', ...networks]);
  const volumes = await ids(['volume', 'ls', '-q', '--filter', filter]);
  if (volumes.length > 0) await dockerAttempt(['volume', 'rm', '-f', ...volumes]);
}

/** Removes the projects of earlier runs whose test process died before its teardown ran. */
export async function removeStaleProjects(): Promise<string[]> {
  const lines = await ids([
    'ps',
    '-a',
    '--filter',
    TEST_LABEL_FILTER,
    '--format',
    '{{.Label "com.docker.compose.project"}}',
  ]);
  const volumes = await ids(['volume', 'ls', '--format', '{{.Label "com.docker.compose.project"}}']);
  const networks = await ids(['network', 'ls', '--format', '{{.Label "com.docker.compose.project"}}']);
  const agents = await ids(['ps', '-a', '--format', `{{.Label "${PROJECT_LABEL}"}}`]);
  const agentVolumes = await ids(['volume', 'ls', '--format', `{{.Label "${PROJECT_LABEL}"}}`]);
  const stale = [...new Set([...lines, ...volumes, ...networks, ...agents, ...agentVolumes])].filter((project) => {
    if (!project.startsWith(PROJECT_PREFIX)) return false;
    const pid = Number(project.slice(PROJECT_PREFIX.length).split('-')[0]);
    return Number.isInteger(pid) && !alive(pid);
  });
  for (const project of stale) await removeProject(project);
  const containers = await ids([
    'ps',
    '-aq',
    '--filter',
    TEST_LABEL_FILTER,
    '--filter',
    'label=com.copilot-bridge-stack.test.pid',
  ]);
  for (const id of containers) {
    const pid = Number(
      (await dockerAttempt(['inspect', '--format', '{{index .Config.Labels "com.copilot-bridge-stack.test.pid"}}', id]))
        .stdout,
    );
    if (!alive(pid)) await dockerAttempt(['rm', '-f', '-v', id]);
  }
  return stale;
}
