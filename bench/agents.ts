// `agent up` to the agent's bridge logged in to Mattermost (stand-in images,
// real engine), side by side with its baseline: the very same body (as
// `agent spec` prints it) created and started straight on the Docker socket,
// without the agent command, the admin container or the guard. Goal: agent
// up to logged in within 1.5 s.
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { pathToFileURL } from 'node:url';
import { agentContainerName } from '../src/contract.js';
import { fakeServiceAccountToken } from '../test/fixtures/tokens.js';
import { seedAgentVolume } from '../test/support/e2e/agents.js';
import { ensureDockerEngine } from '../test/support/e2e/engine.js';
import { buildTestImages } from '../test/support/e2e/images.js';
import { attempt } from '../test/support/e2e/run.js';
import { Stack } from '../test/support/e2e/stack.js';
import { waitFor } from '../test/support/e2e/wait.js';

const RUNS = 5;
const GOAL_MS = 1500;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const random = (n: number) =>
  Array.from(randomBytes(n), (b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join('');

function engine(method: string, path: string, body?: string): Promise<number> {
  return new Promise((done, fail) => {
    const req = request(
      {
        socketPath: '/var/run/docker.sock',
        method,
        path,
        headers: {
          host: 'docker',
          ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode ?? 0));
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

export async function benchAgents(): Promise<{ name: string; figures: Record<string, number | string> }> {
  await ensureDockerEngine();
  const images = await buildTestImages();
  const teardowns: Array<() => void | Promise<void>> = [];
  try {
    const botToken = random(26);
    const serviceAccount = fakeServiceAccountToken();
    const agents = {
      agents: [
        {
          name: 'lal',
          botTokenItem: 'op://copilot-bridge/mattermost-lal',
          githubTokenItem: 'op://copilot-bridge/github-lal',
          channels: [{ id: random(26), name: 'lal' }],
          users: ['ray'],
        },
      ],
    };
    const stack = await Stack.up({ teardown: (fn) => teardowns.push(fn) }, images, {
      pingDelayMs: 500,
      bots: [{ token: botToken, username: 'lal-bot' }],
      released: { 'agent-lal': serviceAccount },
      agents,
    });
    await seedAgentVolume(stack.project, 'lal', images.bridge, serviceAccount, {
      'op://copilot-bridge/mattermost-lal/token': botToken,
      'op://copilot-bridge/github-lal/token': random(40),
    });
    await stack.waitHealthy('copilot-bridge', 180_000);
    const admin = await stack.container('copilot-bridge');
    const agentCli = (args: string[]) =>
      attempt('docker', ['exec', '-u', 'bridge', admin, 'agent', ...args], { timeoutMs: 120_000 });
    const loggedIn = (since: number) =>
      waitFor(
        'lal to log in',
        async () => {
          const event = (await stack.authLog()).find(
            (e) =>
              e.endpoint === 'users/channels' &&
              e.ok &&
              e.tokenSha256 === createHash('sha256').update(botToken).digest('hex') &&
              Date.parse(e.at) >= since,
          );
          return event ? Date.parse(event.at) : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 20 },
      );
    const spec = (await agentCli(['spec', 'lal'])).stdout;
    const name = agentContainerName(stack.project, 'lal');
    const viaAgentUp: number[] = [];
    const direct: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      let start = Date.now();
      const up = await agentCli(['up', 'lal']);
      if (up.exitCode !== 0) throw new Error(`agent up lal: ${up.stderr}`);
      viaAgentUp.push((await loggedIn(start)) - start);
      await agentCli(['down', 'lal']);
      start = Date.now();
      const created = await engine('POST', `/v1.41/containers/create?name=${name}`, spec);
      if (created !== 201) throw new Error(`a direct create answered ${created}`);
      await engine('POST', `/v1.41/containers/${name}/start`);
      direct.push((await loggedIn(start)) - start);
      await engine('DELETE', `/v1.41/containers/${name}?force=true`);
    }
    const ms = median(viaAgentUp);
    return {
      name: 'agents',
      figures: {
        runs: RUNS,
        'agent up (in the admin container, through the guard) to logged in, median ms (goal <= 1500)': ms,
        'the same body created and started on the socket directly, median ms': median(direct),
        'agent up / direct': Number((ms / median(direct)).toFixed(2)),
        verdict: ms <= GOAL_MS ? 'meets the goal' : 'MISSES the goal',
      },
    };
  } finally {
    for (const fn of teardowns.reverse()) await fn();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { name, figures } = await benchAgents();
  for (const [key, value] of Object.entries(figures)) console.log(`${name}: ${key}: ${value}`);
}
