// The agent command as a real process, through the real socket guard
// (dist/docker-socket-guard.mjs, with the agents' policy), to a FAKE Docker
// daemon: a Unix socket that keeps containers and volumes in memory and
// answers the few Engine API calls the two make. It proves that every call
// `agent up|ls|logs|down` makes is one the guard lets through, with the body
// (or no body) the guard expects. Before this test, `agent up` of a new agent
// was refused (the guard answered not-an-agent where Docker says 404), `agent
// down` was refused (dockerode sent stop's options as a body too) and `agent
// logs` failed (without follow, dockerode answers with a Buffer, not a
// stream). Against the real engine: test/e2e/agents.e2e.ts.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import t from 'tap';

const ROOT = resolve(import.meta.dirname, '..', '..');
const GUARD = join(ROOT, 'dist', 'docker-socket-guard.mjs');
const AGENT = join(ROOT, 'dist', 'agents', 'main.js');
const CLEAN_ENV = join(ROOT, 'test', 'support', 'clean-env');
const PROJECT = 'cbs';
const IMAGE = 'copilot-bridge-stack:test';
const SECRETS = '/dev/shm/copilot-bridge-stack';

interface FakeContainer {
  Id: string;
  Name: string;
  Config: { Image: string; Labels: Record<string, string> };
  HostConfig: Record<string, unknown>;
  State: { Status: string; Running: boolean; StartedAt: string };
  RestartCount: number;
}

/** The fake daemon: in-memory containers and volumes; records every request (method, path, body length). */
function fakeDaemon(socket: string): Promise<{
  server: Server;
  requests: Array<{ method: string; path: string; body: string }>;
  containers: Map<string, FakeContainer>;
  volumes: Map<string, Record<string, string>>;
}> {
  const containers = new Map<string, FakeContainer>();
  const volumes = new Map<string, Record<string, string>>();
  const requests: Array<{ method: string; path: string; body: string }> = [];
  const json = (res: ServerResponse, status: number, body?: unknown) => {
    res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };
  const find = (idOrName: string) =>
    [...containers.values()].find((c) => c.Id === idOrName || c.Id.startsWith(idOrName) || c.Name === `/${idOrName}`);
  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const url = new URL(req.url ?? '/', 'http://docker');
    const path = url.pathname.replace(/^\/v\d+\.\d+/, '');
    requests.push({ method: req.method ?? '', path: `${path}${url.search}`, body });
    let m: RegExpExecArray | null;
    if (req.method === 'GET' && (m = /^\/volumes\/([^/]+)$/.exec(path)))
      return volumes.has(m[1]!)
        ? json(res, 200, { Name: m[1], Driver: 'local', Labels: volumes.get(m[1]!) })
        : json(res, 404, { message: 'no such volume' });
    if (req.method === 'DELETE' && (m = /^\/volumes\/([^/]+)$/.exec(path)))
      return volumes.delete(m[1]!) ? json(res, 204) : json(res, 404, { message: 'no such volume' });
    if (req.method === 'POST' && path === '/volumes/create') {
      const { Name, Labels } = JSON.parse(body) as { Name: string; Labels: Record<string, string> };
      volumes.set(Name, Labels);
      return json(res, 201, { Name, Driver: 'local' });
    }
    if (req.method === 'POST' && path === '/containers/create') {
      const spec = JSON.parse(body) as {
        Image: string;
        Labels: Record<string, string>;
        HostConfig: Record<string, unknown>;
      };
      const name = url.searchParams.get('name')!;
      if (find(name)) return json(res, 409, { message: 'conflict' });
      const Id = randomBytes(32).toString('hex');
      containers.set(Id, {
        Id,
        Name: `/${name}`,
        Config: { Image: spec.Image, Labels: spec.Labels },
        HostConfig: spec.HostConfig,
        State: { Status: 'created', Running: false, StartedAt: '0001-01-01T00:00:00Z' },
        RestartCount: 0,
      });
      return json(res, 201, { Id, Warnings: [] });
    }
    if (req.method === 'GET' && path === '/containers/json') {
      const labels = (JSON.parse(url.searchParams.get('filters') ?? '{}') as { label?: string[] }).label ?? [];
      const matches = [...containers.values()].filter((c) =>
        labels.every((l) => {
          const [key, value] = l.split('=');
          return value === undefined ? key! in c.Config.Labels : c.Config.Labels[key!] === value;
        }),
      );
      return json(
        res,
        200,
        matches.map((c) => ({ Id: c.Id, Names: [c.Name], Labels: c.Config.Labels, State: c.State.Status })),
      );
    }
    if ((m = /^\/containers\/([^/]+)(\/[a-z]+)?$/.exec(path))) {
      const c = find(m[1]!);
      if (!c) return json(res, 404, { message: `No such container: ${m[1]}` });
      const action = `${req.method} ${m[2] ?? ''}`;
      if (action === 'GET /json') return json(res, 200, c);
      if (action === 'POST /start') {
        c.State = { Status: 'running', Running: true, StartedAt: new Date().toISOString() };
        return json(res, 204);
      }
      if (action === 'POST /stop') {
        c.State = { ...c.State, Status: 'exited', Running: false };
        return json(res, 204);
      }
      if (action === 'DELETE ') {
        containers.delete(c.Id);
        return json(res, 204);
      }
      if (action === 'GET /logs') {
        const frame = (stream: number, text: string) => {
          const head = Buffer.alloc(8);
          head[0] = stream;
          head.writeUInt32BE(Buffer.byteLength(text), 4);
          return Buffer.concat([head, Buffer.from(text)]);
        };
        res.writeHead(200, { 'content-type': 'application/vnd.docker.raw-stream' });
        return res.end(Buffer.concat([frame(1, 'copilot-bridge ready\n'), frame(2, 'entrypoint: started\n')]));
      }
    }
    return json(res, 500, { message: `the fake daemon does not know ${req.method} ${path}` });
  };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => handle(req, res, body));
  });
  return new Promise((done) => server.listen(socket, () => done({ server, requests, containers, volumes })));
}

t.test('agent up, ls, logs and down pass the guard, each call as the policy expects it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cbs-agent-guard-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const daemon = await fakeDaemon(join(dir, 'docker.sock'));
  t.teardown(() => daemon.server.close());
  const port = 20000 + Math.floor(Math.random() * 20000);
  const agentsFile = join(dir, 'agents.json');
  writeFileSync(
    agentsFile,
    JSON.stringify({
      agents: [
        {
          name: 'lal',
          botTokenItem: 'op://stack/mattermost-lal',
          githubTokenItem: 'op://stack/github-lal',
          channels: [{ id: 'abc00000000000000000000000', name: 'lal' }],
        },
      ],
    }),
  );
  // The same stack settings for both, as compose.yml gives the admin and the guard one block.
  const stackEnv = {
    COMPOSE_PROJECT_NAME: PROJECT,
    AGENT_IMAGE: IMAGE,
    COPILOT_BRIDGE_SECRETS_DIR: SECRETS,
    COPILOT_BRIDGE_RELEASED: 'op-sa-token,agent-lal',
  };
  const guard = execa(CLEAN_ENV, [process.execPath, GUARD], {
    env: {
      PATH: process.env.PATH!,
      GUARD_LISTEN: `127.0.0.1:${port}`,
      GUARD_DOCKER_SOCKET: join(dir, 'docker.sock'),
      GUARD_AGENTS_FILE: agentsFile,
      ...stackEnv,
    },
    extendEnv: false,
    reject: false,
  });
  t.teardown(() => {
    guard.kill('SIGTERM');
  });
  let guardLog = '';
  guard.stderr!.on('data', (chunk: Buffer) => (guardLog += chunk.toString()));
  for (let i = 0; i < 200 && !guardLog.includes('listening on'); i++) await new Promise((r) => setTimeout(r, 25));
  t.match(guardLog, /forwarding agent calls .*of project cbs/, "the guard runs with the agents' policy");

  const agent = (...args: string[]) =>
    execa(CLEAN_ENV, [process.execPath, AGENT, ...args], {
      env: {
        PATH: process.env.PATH!,
        DOCKER_HOST: `tcp://127.0.0.1:${port}`,
        AGENTS_FILE: agentsFile,
        AGENT_UP_WAIT: '1',
        ...stackEnv,
      },
      extendEnv: false,
      reject: false,
      stripFinalNewline: false,
    });

  const up = await agent('up', 'lal');
  t.equal(up.exitCode, 0, `agent up lal exits 0 (${up.stderr.trim()})`);
  t.match(
    up.stderr,
    /created volume cbs-agent-lal-home\nagent: created cbs-agent-lal \([0-9a-f]{12}\)\nagent: started cbs-agent-lal/,
    'creates the volume and the container, and starts it',
  );
  const lal = [...daemon.containers.values()][0]!;
  t.equal(lal.Name, '/cbs-agent-lal', 'the daemon has cbs-agent-lal');
  const spec = await agent('spec', 'lal');
  t.equal(spec.exitCode, 0, `agent spec lal exits 0 (${spec.stderr.trim()})`);
  const created = daemon.requests.filter(
    (r) => r.method === 'POST' && r.path === '/containers/create?name=cbs-agent-lal',
  );
  t.equal(created.length, 1, 'one create reached the daemon');
  t.same(JSON.parse(created[0]!.body), JSON.parse(spec.stdout), 'and its body is what agent spec prints');
  t.match(
    lal.HostConfig,
    { Mounts: [{ Source: 'cbs-agent-lal-home' }, { Source: `${SECRETS}/agent-lal`, ReadOnly: true }] },
    "with lal's own token (released as agent-lal)",
  );
  const again = await agent('up', 'lal');
  t.equal(again.exitCode, 0, 'agent up lal again exits 0');
  t.match(again.stderr, /is already running/, 'and changes nothing');
  // The agents file changes: agent up makes what agent spec now prints, not what ran before.
  writeFileSync(
    agentsFile,
    JSON.stringify({
      agents: [
        {
          name: 'lal',
          botTokenItem: 'op://stack/mattermost-lal',
          githubTokenItem: 'op://stack/github-lal',
          persona: 'changed',
          channels: [{ id: 'abc00000000000000000000000', name: 'lal' }],
        },
      ],
    }),
  );
  const changed = await agent('up', 'lal');
  t.equal(changed.exitCode, 0, `agent up lal after a change exits 0 (${changed.stderr.trim()})`);
  t.match(
    changed.stderr,
    /cbs-agent-lal \([0-9a-f]{12}\) was made from another spec; recreating it\n[\s\S]*agent: created cbs-agent-lal/,
    'it recreates the container',
  );
  const recreated = [...daemon.containers.values()];
  t.equal(recreated.length, 1, 'one lal, the new one');
  t.not(recreated[0]!.Id, lal.Id, 'not the old one');
  const specNow = await agent('spec', 'lal');
  t.same(
    JSON.parse(daemon.requests.filter((r) => r.path === '/containers/create?name=cbs-agent-lal').at(-1)!.body),
    JSON.parse(specNow.stdout),
    'made from what agent spec prints now',
  );

  const ls = await agent('ls');
  t.equal(ls.exitCode, 0, `agent ls exits 0 (${ls.stderr.trim()})`);
  t.match(
    ls.stdout,
    /^AGENT\s+STATE\s+HEALTH\s+UPTIME\s+RESTARTS\nlal\s+running\s+-\s+\d+s\s+0\n$/,
    'lists lal, running',
  );

  const logs = await agent('logs', 'lal');
  t.equal(logs.exitCode, 0, `agent logs lal exits 0 (${logs.stderr.trim()})`);
  t.equal(logs.stdout, 'copilot-bridge ready\n', "the container's stdout goes to stdout");
  t.equal(logs.stderr, 'entrypoint: started\n', 'and its stderr to stderr');

  const down = await agent('down', 'lal');
  t.equal(down.exitCode, 0, `agent down lal exits 0 (${down.stderr.trim()})`);
  const lalNow = recreated[0]!;
  t.equal(daemon.containers.size, 0, 'the container is gone');
  t.ok(daemon.volumes.has('cbs-agent-lal-home'), 'the volume stays');
  const gone = await agent('down', 'lal', '--purge');
  t.equal(gone.exitCode, 0, `agent down lal --purge exits 0 (${gone.stderr.trim()})`);
  t.match(
    gone.stderr,
    /cbs-agent-lal is already gone\nagent: removed volume cbs-agent-lal-home/,
    'absent counts as done; the volume is removed',
  );
  t.equal(daemon.volumes.size, 0, 'no volume is left');

  t.notMatch(guardLog, /refused/, 'the guard refused nothing');
  const stop = daemon.requests.find((r) => r.method === 'POST' && r.path.startsWith(`/containers/${lalNow.Id}/stop`));
  t.same(
    stop,
    { method: 'POST', path: `/containers/${lalNow.Id}/stop?t=10`, body: '' },
    'stop reached the daemon by full id, with t=10 and no body',
  );

  // A raw container list, as a hostile client would send it rather than the agent command: whatever the
  // filters asked, the daemon is asked for this project's agent containers only.
  const agentLabels = ['com.copilot-bridge-stack.project=cbs', 'com.copilot-bridge-stack.agent'];
  for (const [label, query] of [
    ['no filters at all', ''],
    ['all, no filters', '?all=1'],
    ['another project', `?all=1&filters=${encodeURIComponent('{"label":["com.copilot-bridge-stack.project=other"]}')}`],
    ['the compose services', `?filters=${encodeURIComponent('{"label":["com.docker.compose.project=cbs"]}')}`],
    ['labels as a map', `?filters=${encodeURIComponent('{"label":{"com.docker.compose.service=postgres":true}}')}`],
    ['by name', `?filters=${encodeURIComponent('{"name":["postgres"]}')}`],
  ] as const) {
    for (const prefix of ['', '/v1.41']) {
      const before = daemon.requests.length;
      const answer = await fetch(`http://127.0.0.1:${port}${prefix}/containers/json${query}`);
      t.equal(answer.status, 200, `${label}${prefix}: answered`);
      await answer.arrayBuffer();
      const asked = daemon.requests.slice(before).filter((r) => r.path.includes('/containers/json'));
      t.equal(asked.length, 1, `${label}${prefix}: one list reached the daemon`);
      const filters = JSON.parse(new URL(`http://x${asked[0]?.path ?? ''}`).searchParams.get('filters') ?? '{}');
      const labels: unknown = filters.label;
      t.ok(
        Array.isArray(labels) && agentLabels.every((l) => labels.includes(l)),
        `${label}${prefix}: the daemon was asked with this project's agent labels (${JSON.stringify(filters)})`,
      );
    }
  }
});
