// Agents in the end-to-end suite: what an agent needs from the stand-ins, and
// the agent containers `agent up` makes (found by the labels the guard
// requires, so cleanup.ts removes them with the project).
//
// The op stand-in reads its vault from a file where the real `op` asks
// 1Password over the network. An agent container can mount nothing but its
// own volume and its token file (the guard's policy), so the suite creates
// the agent's volume before `agent up`, with the labels `agent up` gives it,
// and puts the agent's fixture vault into it, root-only 0600, at
// AGENT_VAULT, one of the places the stand-in looks. Docker copies the
// image's /home/bridge into the empty volume on that first mount, as it
// would for `agent up`; `agent up` then finds the volume and uses it. The
// stand-in runs as root without any capability (agents have none but SETUID
// and SETGID), so the home is made 0711 for it to pass through, where the
// image leaves it 0700: a concession of the stand-in only (the real op asks
// 1Password, and the root phase never reads the home).
import { createHash, randomBytes } from 'node:crypto';
import { AGENT_LABEL, agentContainerName, agentVolumeName, PROJECT_LABEL } from '../../../src/contract.js';
import { fakeServiceAccountToken } from '../../fixtures/tokens.js';
import { AGENT_VAULT } from './images.js';
import { TEST_LABEL } from './paths.js';
import { docker } from './run.js';

export { agentContainerName, agentVolumeName };

/** Creates the agent's home volume as `agent up` would, and seeds the op stand-in's vault (token hash and items) into it. */
export async function seedAgentVolume(
  project: string,
  agent: string,
  image: string,
  token: string,
  items: Record<string, string>,
): Promise<string> {
  const volume = agentVolumeName(project, agent);
  await docker(['volume', 'create', '--label', `${PROJECT_LABEL}=${project}`, volume]);
  const vault = JSON.stringify({ tokenSha256: createHash('sha256').update(token).digest('hex'), items });
  const dir = AGENT_VAULT.slice(0, AGENT_VAULT.lastIndexOf('/'));
  // The vault goes in on stdin: never on a command line or in an environment.
  await docker(
    [
      'run',
      '--rm',
      '-i',
      '--label',
      `${TEST_LABEL}=1`,
      '--label',
      `${TEST_LABEL}.pid=${process.pid}`,
      '--network',
      'none',
      '-v',
      `${volume}:/home/bridge`,
      '-u',
      '0:0',
      '--entrypoint',
      'sh',
      image,
      '-c',
      `umask 077 && mkdir -p ${dir} && cat > ${AGENT_VAULT} && chown -R 0:0 ${dir} && chmod 0711 /home/bridge`,
    ],
    { input: vault, timeoutMs: 60_000 },
  );
  return volume;
}

/** The agent containers of a project (all states), as `docker ps` sees them by the guard's labels. */
export async function agentContainers(project: string): Promise<Array<{ id: string; agent: string }>> {
  const out = await docker([
    'ps',
    '-a',
    '--filter',
    `label=${PROJECT_LABEL}=${project}`,
    '--format',
    `{{.ID}} {{.Label "${AGENT_LABEL}"}}`,
  ]);
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id, agent] = line.split(' ');
      return { id: id!, agent: agent ?? '' };
    });
}

/** The agent's volumes of a project. */
export async function agentVolumes(project: string): Promise<string[]> {
  return (await docker(['volume', 'ls', '-q', '--filter', `label=${PROJECT_LABEL}=${project}`]))
    .split('\n')
    .filter(Boolean);
}

export const AGENTS = ['lal', 'data'] as const;
export type Agent = (typeof AGENTS)[number];
const VAULT = 'copilot-bridge';
/** n random lower-case letters and digits (ids, tokens and names of a run). */
export const random = (n: number) =>
  Array.from(randomBytes(n), (b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join('');
export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * The agents of the agent suites, with fresh secrets: lal with a service
 * account of its own (released as agent-lal, reading only lal's item), data
 * with the shared one; a random bot token and channel id each.
 */
export function twoAgents() {
  const lalServiceAccount = fakeServiceAccountToken();
  const botTokens: Record<Agent, string> = { lal: random(26), data: random(26) };
  const githubTokens: Record<Agent, string> = { lal: random(40), data: random(40) };
  const item = (agent: Agent) => `op://${VAULT}/mattermost-${agent}/token`;
  const githubItem = (agent: Agent) => `op://${VAULT}/github-${agent}/token`;
  const agentsFile = {
    agents: AGENTS.map((name) => ({
      name,
      botTokenItem: `op://${VAULT}/mattermost-${name}`,
      githubTokenItem: `op://${VAULT}/github-${name}`,
      persona: name,
      channels: [{ id: random(26), name }],
      users: [`e2e-${random(6)}`],
    })),
  };
  return {
    lalServiceAccount,
    botTokens,
    githubTokens,
    item,
    agentsFile,
    /** What Stack.up needs for them: the stand-in's bots, lal's released token, the agents file. */
    stackOptions: () => ({
      bots: AGENTS.map((name) => ({ token: botTokens[name], username: `${name}-bot` })),
      released: { 'agent-lal': lalServiceAccount },
      agents: agentsFile,
    }),
    /** Seeds each agent's vault: lal's account reads lal's item; the shared one the shared vault and data's item. */
    seed: async (stack: { project: string; token: string; items: Record<string, string> }, image: string) => {
      await seedAgentVolume(stack.project, 'lal', image, lalServiceAccount, {
        [item('lal')]: botTokens.lal,
        [githubItem('lal')]: githubTokens.lal,
      });
      await seedAgentVolume(stack.project, 'data', image, stack.token, {
        ...stack.items,
        [item('data')]: botTokens.data,
        [githubItem('data')]: githubTokens.data,
      });
    },
  };
}
