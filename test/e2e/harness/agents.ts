// Agents in the end-to-end suite: what an agent needs from the stand-ins, and
// the agent containers `agent up` makes (found by the labels the guard
// requires, so cleanup.ts removes them with the project).
//
// The op stand-in reads its vault from a file (OP_FIXTURE_VAULT) where the
// real `op` asks 1Password over the network. An agent container can mount
// nothing but its own volume and its token file (the guard's policy), so the
// suite creates the agent's volume before `agent up`, with the labels `agent
// up` gives it, and puts the agent's fixture vault into it, root-only 0600,
// where the test image's OP_FIXTURE_VAULT points (images.ts). Docker copies
// the image's /home/bridge into the empty volume on that first mount, as it
// would for `agent up`; `agent up` then finds the volume and uses it.
import { createHash } from 'node:crypto';
import { AGENT_LABEL, PROJECT_LABEL } from '../../../src/guard/create-policy.js';
import { AGENT_VAULT } from './images.js';
import { TEST_LABEL } from './paths.js';
import { docker } from './run.js';

export const agentContainerName = (project: string, agent: string) => `${project}-agent-${agent}`;
export const agentVolumeName = (project: string, agent: string) => `${project}-agent-${agent}-home`;

/** Creates the agent's home volume as `agent up` would, and seeds the op stand-in's vault (token hash and items) into it. */
export async function seedAgentVolume(project: string, agent: string, image: string, token: string, items: Record<string, string>): Promise<string> {
  const volume = agentVolumeName(project, agent);
  await docker(['volume', 'create', '--label', `${PROJECT_LABEL}=${project}`, volume]);
  const vault = JSON.stringify({ tokenSha256: createHash('sha256').update(token).digest('hex'), items });
  const dir = AGENT_VAULT.slice(0, AGENT_VAULT.lastIndexOf('/'));
  // The vault goes in on stdin: never on a command line or in an environment.
  await docker(
    [
      'run', '--rm', '-i', '--label', `${TEST_LABEL}=1`, '--label', `${TEST_LABEL}.pid=${process.pid}`, '--network', 'none',
      '-v', `${volume}:/home/bridge`, '--entrypoint', 'sh', image,
      '-c', `umask 077 && mkdir -p ${dir} && cat > ${AGENT_VAULT} && chown -R 0:0 ${dir}`,
    ],
    { input: vault, timeoutMs: 60_000 },
  );
  return volume;
}

/** The agent containers of a project (all states), as `docker ps` sees them by the guard's labels. */
export async function agentContainers(project: string): Promise<Array<{ id: string; agent: string }>> {
  const out = await docker(['ps', '-a', '--filter', `label=${PROJECT_LABEL}=${project}`, '--format', `{{.ID}} {{.Label "${AGENT_LABEL}"}}`]);
  return out.split('\n').filter(Boolean).map((line) => {
    const [id, agent] = line.split(' ');
    return { id: id!, agent: agent ?? '' };
  });
}

/** The agent's volumes of a project. */
export async function agentVolumes(project: string): Promise<string[]> {
  return (await docker(['volume', 'ls', '-q', '--filter', `label=${PROJECT_LABEL}=${project}`])).split('\n').filter(Boolean);
}
