// What the guard adds to a container create now that it builds the agent's
// body itself and compares: the same create request, over keep-alive, sent in
// interleaved rounds straight to an upstream and through docker-socket-guard
// (agents' policy: it reads the agents file, builds the body, compares and
// forwards the builder's body) in front of the
// same upstream. The upstream is a Unix socket answering 201 at once, so
// that the engine's own tens of milliseconds per create do not drown the
// guard's share (the guard also asks it whether the agent's volume is the
// project's: that round trip is part of what it adds). Goal: the guard adds
// at most 1 ms at the median.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readAgentsFile } from '../src/agents/agents-file.js';
import { agentContainer } from '../src/agents/container-spec.js';
import type { AgentStack } from '../src/agents/stack-settings.js';
import { freePort } from '../test/support/e2e/stack.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const ROUNDS = 5;
const REQUESTS = 200;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const STACK: AgentStack = {
  project: 'cbs',
  image: 'copilot-bridge-stack/copilot-bridge:local',
  network: 'cbs_mattermost-net',
  memoryBytes: 1 << 30,
  pids: 512,
  nanoCpus: 1e9,
  logMaxSize: '10m',
  logMaxFile: 3,
  secretsDir: '/dev/shm/copilot-bridge-stack',
  source: '1password',
  released: ['op-sa-token', 'agent-lal'],
};
const LAL = {
  name: 'lal',
  botTokenItem: 'op://copilot-bridge/mattermost-lal',
  githubTokenItem: 'op://copilot-bridge/github-lal',
  persona: 'lal',
  channels: [{ id: 'abcdefghijklmnopqrstuvwxyz', name: 'lal' }],
  users: ['ray'],
};

function post(
  target: { socketPath?: string; host?: string; port?: number },
  agent: Agent,
  body: string,
): Promise<void> {
  return new Promise((done, fail) => {
    const req = request(
      {
        ...target,
        agent,
        method: 'POST',
        path: '/v1.41/containers/create?name=cbs-agent-lal',
        headers: { host: 'docker', 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          res.statusCode === 201
            ? done()
            : fail(
                new Error(`create answered ${res.statusCode}: ${Buffer.concat(chunks).toString('utf8').slice(0, 300)}`),
              ),
        );
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

export async function benchGuardCreate(): Promise<{ name: string; figures: Record<string, number | string> }> {
  const dir = mkdtempSync(join(tmpdir(), 'cbs-bench-create-'));
  const agentsFile = join(dir, 'agents.json');
  writeFileSync(agentsFile, JSON.stringify({ agents: [LAL] }));
  // The entry as the guard reads it back from the file (checked, its keys in the builder's order), as `agent up` sends
  // it.
  const body = JSON.stringify(agentContainer(STACK, readAgentsFile(agentsFile)[0]!).body);
  const upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      // The guard first asks whether the agent's home volume is this project's (an extra round trip, counted).
      if (req.method === 'GET' && req.url?.startsWith('/volumes/')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ Name: 'cbs-agent-lal-home', Labels: { 'com.copilot-bridge-stack.project': STACK.project } }),
        );
        return;
      }
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end('{"Id":"0000000000000000000000000000000000000000000000000000000000000000","Warnings":[]}');
    });
  });
  const socket = join(dir, 'docker.sock');
  await new Promise<void>((done) => upstream.listen(socket, done));
  const port = await freePort();
  const guard = spawn(process.execPath, [join(ROOT, 'dist', 'docker-socket-guard.mjs')], {
    env: {
      PATH: process.env.PATH,
      GUARD_LISTEN: `127.0.0.1:${port}`,
      GUARD_DOCKER_SOCKET: socket,
      GUARD_AGENTS_FILE: agentsFile,
      COMPOSE_PROJECT_NAME: STACK.project,
      AGENT_IMAGE: STACK.image,
      COPILOT_BRIDGE_SECRETS_DIR: STACK.secretsDir,
      COPILOT_BRIDGE_RELEASED: STACK.released.join(','),
    },
    stdio: 'ignore',
  });
  const targets = [
    { name: 'upstream alone', target: { socketPath: socket }, agent: new Agent({ keepAlive: true, maxSockets: 1 }) },
    {
      name: 'through the guard',
      target: { host: '127.0.0.1', port },
      agent: new Agent({ keepAlive: true, maxSockets: 1 }),
    },
  ];
  try {
    for (let i = 0; i < 200; i++) {
      const up = await post(targets[1]!.target, targets[1]!.agent, body).then(
        () => true,
        () => false,
      );
      if (up) break;
      if (guard.exitCode !== null) throw new Error(`docker-socket-guard exited (${guard.exitCode})`);
      await new Promise((r) => setTimeout(r, 25));
    }
    const times = new Map(targets.map((t) => [t.name, [] as number[]]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const { name, target, agent } of targets) {
        for (let i = 0; i < REQUESTS; i++) {
          const start = process.hrtime.bigint();
          await post(target, agent, body);
          times.get(name)!.push(Number(process.hrtime.bigint() - start) / 1e6);
        }
      }
    }
    const alone = median(times.get('upstream alone')!);
    const through = median(times.get('through the guard')!);
    const added = through - alone;
    return {
      name: 'guard create',
      figures: {
        'median ms, upstream alone': Number(alone.toFixed(3)),
        'median ms, through the guard (builds and compares the agent body)': Number(through.toFixed(3)),
        'guard adds to a create, median ms (goal <= 1)': Number(added.toFixed(3)),
        verdict: added <= 1 ? 'meets the goal' : 'MISSES the goal',
      },
    };
  } finally {
    targets.forEach((t) => t.agent.destroy());
    guard.kill('SIGTERM');
    upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { name, figures } = await benchGuardCreate();
  for (const [key, value] of Object.entries(figures)) console.log(`${name}: ${key}: ${value}`);
}
