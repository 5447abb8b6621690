// Agents end to end, on a real Docker engine: the real compose.yml (the test
// override swaps only images and the secret path), the real Dockerfile and
// the real socket guard. From inside the admin container, as its `bridge`
// user, `agent up lal` and `agent up data` go through the guard (DOCKER_HOST);
// lal has its own sealed service account (released as agent-lal), data uses
// the shared one (op-sa-token); each logs in to the Mattermost stand-in with
// its own bot token. Then issue 5's claims: volumes and secrets kept apart,
// the guard, Postgres and the other agent out of reach, a killed agent back
// by itself, `agent ls`, `agent logs`, `agent down [--purge]`, and the guard
// refusing a privileged create and host binds from the admin container.
// Everything the suite makes carries the project's labels and is removed at
// the end, also when a check or the start fails. Run after `npm run build`:
//   npx tap test/e2e/agents.e2e.ts
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { AGENT_LABEL, PROJECT_LABEL } from '../../src/contract.js';
import {
  AGENTS,
  type Agent,
  agentContainerName,
  agentContainers,
  agentVolumeName,
  agentVolumes,
  random,
  sha256,
  twoAgents,
} from '../support/e2e/agents.js';
import { removeStaleProjects } from '../support/e2e/cleanup.js';
import { ensureDockerEngine } from '../support/e2e/engine.js';
import { buildTestImages, type TestImages } from '../support/e2e/images.js';
import { attempt, docker, type RunResult } from '../support/e2e/run.js';
import { bridgeTree, containerPids, SecretScanner } from '../support/e2e/search.js';
import { type ContainerState, Stack } from '../support/e2e/stack.js';
import { waitFor } from '../support/e2e/wait.js';
import { assertNoSecrets } from '../support/no-secrets.js';

t.setTimeout(20 * 60_000);

/** The goal for `agent up` to the agent's bridge running, with the stand-in images. */
const UP_GOAL_MS = 1500;
/** Issue 4's goal: the admin bridge healthy within 2 s of Mattermost. */
const HEALTHY_GOAL_MS = 2000;

/** lal with its own service account (sealed as agent-lal), data with the shared one. */
const agents = twoAgents();
const { lalServiceAccount, botTokens } = agents;

let images: TestImages;
let stack: Stack;
/** When each service first turned healthy (ms since the epoch), from the engine's events. */
const healthyAt = new Map<string, number>();
let admin: string;
const ids: Partial<Record<Agent, string>> = {};
const upTimes: Partial<Record<Agent, { command: number; running: number }>> = {};

/** Every secret of the run: the shared token and vault items, lal's token, both bot tokens. */
const secrets = () => [
  ...stack.secrets(),
  lalServiceAccount,
  botTokens.lal,
  botTokens.data,
  agents.githubTokens.lal,
  agents.githubTokens.data,
];

const authLog = () => stack.authLog();

/** `agent ...` inside the admin container, as its bridge user (as the admin bot's shell commands would run it). */
const agentCli = (args: string[]) =>
  attempt('docker', ['exec', '-u', 'bridge', admin, 'agent', ...args], { timeoutMs: 120_000 });
const inspect = async (id: string) =>
  JSON.parse(await docker(['inspect', id]))[0] as ContainerState & {
    Mounts: Array<{ Type: string; Source: string; Destination: string; RW: boolean; Name?: string }>;
  };
const execIn = (id: string, argv: string[], options: { user?: string; input?: string } = {}): Promise<RunResult> =>
  attempt(
    'docker',
    [
      'exec',
      ...(options.input === undefined ? [] : ['-i']),
      ...(options.user ? ['-u', options.user] : []),
      id,
      ...argv,
    ],
    { timeoutMs: 60_000, ...(options.input === undefined ? {} : { input: options.input }) },
  );

/** When the stand-in saw `agent`'s bot list its channels (the bridge is logged in), after `since`. */
async function loggedInAt(agent: Agent, since: number, timeoutMs: number): Promise<number> {
  return waitFor(
    `${agent}'s bridge to log in to the Mattermost stand-in with its bot token`,
    async () => {
      const event = (await authLog()).find(
        (e) =>
          e.endpoint === 'users/channels' &&
          e.ok &&
          e.tokenSha256 === sha256(botTokens[agent]) &&
          Date.parse(e.at) >= since,
      );
      return event ? Date.parse(event.at) : undefined;
    },
    {
      timeoutMs,
      intervalMs: 50,
      detail: async () =>
        `agent logs ${agent}:\n${(await agentCli(['logs', agent])).stderr.split('\n').slice(-10).join('\n')}`,
    },
  );
}

/** The host pid of the bridge's worker in a container. */
async function workerPid(id: string): Promise<number> {
  const top = await docker(['top', id, '-eo', 'pid,args']);
  const line = top.split('\n').find((l) => l.includes('worker.js'));
  return Number(line?.trim().split(/\s+/)[0]);
}

/** A TCP connect from inside a container; exit 0 connected, 2 otherwise (with the reason on stdout). */
const connectProbe = (host: string, port: number) =>
  `const s=require('net').connect({host:${JSON.stringify(host)},port:${port},timeout:3000});` +
  `s.on('connect',()=>{console.log('connected');process.exit(0)});` +
  `s.on('timeout',()=>{console.log('timeout');process.exit(2)});s.on('error',e=>{console.log(e.code);process.exit(2)})`;

t.before(async () => {
  const started = Date.now();
  t.comment(`Docker engine ${await ensureDockerEngine()}`);
  const stale = await removeStaleProjects();
  if (stale.length > 0) t.comment(`removed leftovers of dead runs: ${stale.join(', ')}`);
  images = await buildTestImages();
  t.comment(`images ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const composeStarted = new Date();
  stack = await Stack.up(t, images, {
    pingDelayMs: 3000,
    ...agents.stackOptions(),
    // A third agent whose items are in no vault: its bridge fails at every start.
    agents: {
      agents: [
        ...agents.agentsFile.agents,
        {
          name: 'broken',
          botTokenItem: 'op://copilot-bridge/nowhere',
          githubTokenItem: 'op://copilot-bridge/nowhere-either',
          channels: [{ id: 'brokenchannel0000000000000', name: 'broken' }],
          users: ['ray'],
        },
      ],
    },
  });
  // Each agent's vault for the op stand-in, in its volume: lal's own account reads only lal's item;
  // the shared account reads the shared vault, which holds data's item too.
  await agents.seed(stack, images.bridge);
  await stack.waitHealthy('copilot-bridge', 180_000);
  admin = await stack.container('copilot-bridge');
  t.comment(`${stack.project} (${stack.composeLabel}) healthy after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // When each service turned healthy, from the engine's own events (a health log keeps only 5 checks).
  const events = await docker([
    'events',
    '--since',
    composeStarted.toISOString(),
    '--until',
    new Date().toISOString(),
    '--filter',
    `label=com.docker.compose.project=${stack.project}`,
    '--filter',
    'event=health_status',
    '--format',
    '{{.TimeNano}} {{index .Actor.Attributes "com.docker.compose.service"}} {{.Action}}',
  ]);
  for (const line of events.split('\n').filter(Boolean)) {
    const [nanos, service, ...action] = line.split(' ');
    if (action.join(' ') === 'health_status: healthy' && !healthyAt.has(service!))
      healthyAt.set(service!, Number(BigInt(nanos!) / 1_000_000n));
  }
});

t.test('the admin bridge turns healthy within 2 s of Mattermost (healthcheck every 1 s)', async (t) => {
  const mattermost = healthyAt.get('mattermost');
  const bridge = healthyAt.get('copilot-bridge');
  t.ok(mattermost && bridge, `the engine reported both healthy (${[...healthyAt.keys()].join(', ')})`);
  const gap = bridge! - mattermost!;
  t.comment(`admin bridge healthy ${(gap / 1000).toFixed(2)} s after Mattermost (goal ${HEALTHY_GOAL_MS / 1000} s)`);
  t.ok(gap > 0, 'the bridge turned healthy after Mattermost');
  t.ok(gap < 10_000, `and within 10 s of it: ${gap} ms (the goal is ${HEALTHY_GOAL_MS} ms; see the comment above)`);
  // The healthcheck reads the supervisor's verdict; verify (on demand) scans itself. Both clean; their wall time, and
  // the container's CPU over 10 s with the 1 s healthcheck and the supervisor's own scans.
  const wall = async (command: string) => {
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = process.hrtime.bigint();
      const run = await execIn(admin, ['copilot-bridge-entrypoint', command]);
      runs.push(Number(process.hrtime.bigint() - start) / 1e6);
      t.equal(run.exitCode, 0, `${command} #${i + 1} is clean`);
      if (command === 'health') t.match(run.stdout, /^clean: checked \d+ process\(es\)/, 'from the verdict');
    }
    return runs.sort((a, b) => a - b)[2]!;
  };
  const health = await wall('health');
  const verify = await wall('verify');
  const cpu = await containerCpuSeconds(admin, 10_000);
  t.comment(
    `median wall per run (docker exec included): health ${health.toFixed(0)} ms, verify ${verify.toFixed(0)} ms; the admin container used ${(cpu * 100).toFixed(1)} % of one core over 10 s`,
  );
});

/** CPU seconds a container used over `ms`, from its cgroup (v1 cpuacct or v2 cpu.stat), per second. */
async function containerCpuSeconds(id: string, ms: number): Promise<number> {
  const full = (await inspect(id)).Id;
  const read = () => {
    for (const [file, parse] of [
      [
        `/sys/fs/cgroup/system.slice/docker-${full}.scope/cpu.stat`,
        (s: string) => Number(/usage_usec (\d+)/.exec(s)?.[1]) / 1e6,
      ],
      [`/sys/fs/cgroup/docker/${full}/cpu.stat`, (s: string) => Number(/usage_usec (\d+)/.exec(s)?.[1]) / 1e6],
      [`/sys/fs/cgroup/cpuacct/docker/${full}/cpuacct.usage`, (s: string) => Number(s) / 1e9],
      [`/sys/fs/cgroup/cpu,cpuacct/docker/${full}/cpuacct.usage`, (s: string) => Number(s) / 1e9],
    ] as const) {
      try {
        return parse(readFileSync(file, 'utf8'));
      } catch {
        // try the next layout
      }
    }
    return NaN;
  };
  const before = read();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return (read() - before) / (ms / 1000);
}

t.test('agent up lal and agent up data, from inside the admin container through the guard', async (t) => {
  for (const agent of AGENTS) {
    const start = Date.now();
    const up = await agentCli(['up', agent]);
    const command = Date.now() - start;
    t.equal(up.exitCode, 0, `agent up ${agent} exits 0 (${up.stderr.trim().split('\n').join(' | ')})`);
    t.match(
      up.stderr,
      new RegExp(`created ${agentContainerName(stack.project, agent)} \\([0-9a-f]{12}\\)`),
      'it created the container',
    );
    t.match(up.stderr, /started /, 'and started it');
    const running = (await loggedInAt(agent, start, 60_000)) - start;
    upTimes[agent] = { command, running };
    t.comment(
      `agent up ${agent}: the command took ${command} ms; the agent's bridge was logged in ${running} ms after it began (goal ${UP_GOAL_MS} ms)`,
    );
    t.ok(running < 15_000, `${agent}'s bridge runs within 15 s of agent up (${running} ms)`);
    const again = await agentCli(['up', agent]);
    t.equal(again.exitCode, 0, `agent up ${agent} again exits 0`);
    t.match(again.stderr, /is already running/, 'and changes nothing (idempotent)');
  }
  for (const { id, agent } of await agentContainers(stack.project)) ids[agent as Agent] = id;
  t.same(Object.keys(ids).sort(), ['data', 'lal'], 'two agent containers carry the project and agent labels');
});

t.test(
  'each agent has the hardened shape: the stack image, mattermost-net only, its own volume and token',
  async (t) => {
    for (const agent of AGENTS) {
      const info = await inspect(ids[agent]!);
      const host = info.HostConfig as Record<string, any>;
      t.equal(info.Name, `/${agentContainerName(stack.project, agent)}`, `${agent}: named after the project`);
      t.same(
        Object.keys(info.NetworkSettings.Networks),
        [stack.agentNetwork],
        `${agent}: on ${stack.agentNetwork} only`,
      );
      t.equal(host.ReadonlyRootfs, true, `${agent}: read-only root`);
      t.same(host.CapDrop, ['ALL'], `${agent}: every capability dropped`);
      t.same(host.CapAdd, ['SETUID', 'SETGID'], `${agent}: exactly SETUID and SETGID added back (no DAC_READ_SEARCH)`);
      t.equal(info.Config.User, '0:0', `${agent}: root for the root phase, asked for explicitly`);
      t.same(info.Config.Cmd, ['copilot-bridge', 'start'], `${agent}: the bridge command only`);
      t.equal(
        info.Config.Healthcheck?.Test?.slice(1).join(' '),
        '/usr/local/lib/copilot-bridge-stack/copilot-bridge-launcher health',
        `${agent}: the image's own healthcheck, which reads the supervisor's verdict`,
      );
      t.ok(host.NanoCpus > 0, `${agent}: CPU limited (${host.NanoCpus / 1e9} CPUs)`);
      t.match(
        host.LogConfig,
        { Type: 'json-file', Config: { 'max-size': /^\d+[kmg]$/, 'max-file': /^\d+$/ } },
        `${agent}: its log rotates`,
      );
      t.same(
        (info.NetworkSettings.Networks[stack.agentNetwork] as unknown as { Aliases: string[] }).Aliases.filter(
          (a) => !/^[0-9a-f]{12}$/.test(a),
        ),
        [agent],
        `${agent}: its name is its only alias (besides Docker's short id)`,
      );
      t.same(host.SecurityOpt, ['no-new-privileges:true'], `${agent}: no-new-privileges`);
      t.equal(host.RestartPolicy.Name, 'unless-stopped', `${agent}: restart unless-stopped`);
      t.ok(host.Memory > 0 && host.PidsLimit > 0, `${agent}: memory ${host.Memory} and pids ${host.PidsLimit} limited`);
      t.equal(host.Privileged, false, `${agent}: not privileged`);
      t.same(info.Config.Labels[AGENT_LABEL], agent, `${agent}: agent label`);
      t.same(info.Config.Labels[PROJECT_LABEL], stack.project, `${agent}: project label`);
      const token = agent === 'lal' ? join(stack.dir, 'agent-lal') : join(stack.dir, 'op-sa-token');
      const mounts = info.Mounts.map(
        (m) => `${m.Type} ${m.Type === 'volume' ? m.Name : m.Source} ${m.Destination} ${m.RW ? 'rw' : 'ro'}`,
      ).sort();
      t.same(
        mounts,
        [
          `bind ${token} /run/secrets/op_sa_token ro`,
          `volume ${agentVolumeName(stack.project, agent)} /home/bridge rw`,
        ].sort(),
        `${agent}: mounts only its own volume and ${agent === 'lal' ? 'its own token agent-lal' : 'the shared token op-sa-token'}, read-only`,
      );
    }
  },
);

t.test('each agent authenticates to the Mattermost stand-in with its own bot token', async (t) => {
  const events = await authLog();
  for (const agent of AGENTS) {
    const mine = sha256(botTokens[agent]);
    t.ok(
      events.some((e) => e.endpoint === 'users/me' && e.ok && e.tokenSha256 === mine),
      `${agent} asked users/me with its bot token`,
    );
    t.ok(
      events.some((e) => e.endpoint === 'users/channels' && e.ok && e.tokenSha256 === mine),
      `${agent} listed its channels`,
    );
    const socket = await waitFor(
      `${agent}'s websocket`,
      async () => (await authLog()).some((e) => e.endpoint === 'websocket' && e.ok && e.tokenSha256 === mine),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    t.ok(socket, `${agent} opened its websocket with its bot token`);
    const log = await execIn(ids[agent]!, ['cat', '/home/bridge/.copilot-bridge/copilot-bridge.log'], {
      user: 'bridge',
    });
    t.match(
      log.stdout,
      new RegExp(`bot ${agent} authenticated as ${agent}-bot`),
      `${agent}'s bridge logged its login as ${agent}-bot`,
    );
  }
  t.same(
    events.filter((e) => !e.ok),
    [],
    'no authentication attempt failed',
  );
});

t.test("lal cannot see data's volume, and neither agent holds the other's secrets", async (t) => {
  const marker = `data-workspace-${random(16)}`;
  const wrote = await execIn(
    ids.data!,
    [
      'sh',
      '-c',
      `mkdir -p ~/.copilot-bridge/workspaces/data && echo ${marker} > ~/.copilot-bridge/workspaces/data/marker`,
    ],
    { user: 'bridge' },
  );
  t.equal(wrote.exitCode, 0, 'data wrote a file into its workspace');
  const roots = ['/home', '/tmp', '/run', '/etc', '/opt', '/root', '/var', '/srv', '/mnt', '/media', '/usr/local'];
  // From the host, through /proc/PID/root: whatever the agent's filesystem holds, readable or not by anyone in it.
  const find = async (id: string, patterns: string[]) => {
    const root = `/proc/${(await containerPids(id))[0]}/root`;
    const scanner = new SecretScanner(patterns);
    return roots.flatMap((dir) => scanner.scanTree(`${root}${dir}`).findings.map((f) => f.where.slice(root.length)));
  };
  t.same(await find(ids.lal!, [marker]), [], "data's workspace file is nowhere in lal's filesystem");
  t.match(
    (await find(ids.data!, [marker])).join('\n'),
    /workspaces\/data\/marker/,
    'control: the search finds it in data',
  );
  const lalMounts = await execIn(ids.lal!, ['cat', '/proc/self/mountinfo']);
  t.notMatch(lalMounts.stdout, agentVolumeName(stack.project, 'data'), "data's volume is not mounted in lal");
  t.same(
    await find(ids.lal!, [stack.token, botTokens.data]),
    [],
    "neither data's service-account token nor its bot token is in lal's filesystem",
  );
  t.same(
    await find(ids.data!, [lalServiceAccount, botTokens.lal]),
    [],
    "neither lal's service-account token nor its bot token is in data's filesystem",
  );
  t.match(
    (await find(ids.lal!, [lalServiceAccount])).join('\n'),
    /\/run\/secrets\/op_sa_token/,
    "control: lal's own token is found where it is mounted",
  );
  for (const agent of AGENTS) {
    const read = await execIn(ids[agent]!, ['cat', '/run/secrets/op_sa_token'], { user: 'bridge' });
    t.not(read.exitCode, 0, `${agent}'s bridge user cannot read its own token file`);
    t.equal(read.stdout, '', 'and gets nothing from it');
  }
});

t.test('neither agent can reach the guard, Postgres, or the other agent over the network', async (t) => {
  const address = async (service: string, network: string) =>
    Object.entries((await stack.inspect(service)).NetworkSettings.Networks).find(([name]) =>
      name.endsWith(`_${network}`),
    )?.[1].IPAddress;
  const guardIp = await address('socket-proxy', 'socket-proxy-net');
  t.ok(guardIp, `the guard has an address (${guardIp})`);
  t.same(
    Object.keys((await stack.inspect('postgres')).NetworkSettings.Networks),
    ['none'],
    'Postgres has no network at all (its socket is its only way in)',
  );
  for (const agent of AGENTS) {
    for (const [host, port] of [
      ['socket-proxy', 2375],
      [guardIp!, 2375],
      ['postgres', 5432],
    ] as const) {
      const probe = await execIn(ids[agent]!, ['node', '-e', connectProbe(host, port)], { user: 'bridge' });
      t.equal(probe.exitCode, 2, `${agent} cannot reach ${host}:${port} (${probe.stdout.trim()})`);
    }
  }
  const control = await execIn(ids.lal!, ['node', '-e', connectProbe('mattermost', 8065)], { user: 'bridge' });
  t.equal(control.exitCode, 0, 'control: lal reaches mattermost:8065');
  // Nothing listens in an agent beyond loopback (Docker's embedded DNS answers on 127.0.0.11 in
  // every container), so the other agent, on the same network, has nothing to talk to.
  const loopback = (local: string) =>
    /^[0-9A-F]{6}7F:/.test(local) || local.startsWith('00000000000000000000000001000000:');
  for (const agent of AGENTS) {
    const pids = await containerPids(ids[agent]!);
    const tables = ['tcp', 'tcp6']
      .map((file) => {
        try {
          return readFileSync(`/proc/${pids[0]}/net/${file}`, 'utf8');
        } catch {
          return '';
        }
      })
      .join('\n');
    const listening = tables
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((f) => f[3] === '0A' && !loopback(f[1]!));
    t.same(
      listening,
      [],
      `no TCP socket listens in ${agent} but on loopback (read from the host, in its network namespace)`,
    );
  }
});

t.test('no secret in docker inspect, docker logs or agent logs of the agents', async (t) => {
  for (const agent of AGENTS) {
    assertNoSecrets(t, `docker inspect ${agent}`, await docker(['inspect', ids[agent]!]), secrets());
    const logs = await attempt('docker', ['logs', ids[agent]!]);
    assertNoSecrets(t, `docker logs ${agent}`, `${logs.stdout}\n${logs.stderr}`, secrets());
    const viaCli = await agentCli(['logs', agent]);
    t.equal(viaCli.exitCode, 0, `agent logs ${agent} exits 0`);
    t.match(`${viaCli.stdout}\n${viaCli.stderr}`, /./, 'and prints its log');
    assertNoSecrets(t, `agent logs ${agent}`, `${viaCli.stdout}\n${viaCli.stderr}`, secrets());
    // The declared exception: the agent's own GitHub token, as COPILOT_GITHUB_TOKEN, in its bridge's tree only.
    const own = `COPILOT_GITHUB_TOKEN=${agents.githubTokens[agent]}`;
    const tree = await bridgeTree(ids[agent]!);
    let holders = 0;
    for (const pid of await containerPids(ids[agent]!)) {
      for (const file of ['environ', 'cmdline']) {
        let text = '';
        try {
          text = readFileSync(`/proc/${pid}/${file}`, 'latin1');
        } catch {
          continue;
        }
        if (file === 'environ' && tree.has(pid) && `\0${text}`.includes(`\0${own}\0`)) {
          holders++;
          text = `\0${text}`.replace(`\0${own}\0`, '\0').slice(1);
        }
        assertNoSecrets(t, `/proc/${pid}/${file} of ${agent}`, text, secrets());
      }
    }
    t.ok(
      holders >= 3,
      `${agent}'s own GitHub token is in its bridge's tree (${holders} processes: launcher, worker, Copilot CLI), and nowhere else`,
    );
  }
});

t.test("killing an agent's process brings it back within seconds (restart policy)", async (t) => {
  const before = await inspect(ids.lal!);
  const pid = await workerPid(ids.lal!);
  t.ok(pid > 0, `lal's worker has host pid ${pid}`);
  const killed = Date.now();
  process.kill(pid, 'SIGKILL');
  await waitFor(
    'Docker to restart lal after its worker was killed',
    async () => (await inspect(ids.lal!)).RestartCount > before.RestartCount,
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  const back = (await loggedInAt('lal', killed, 30_000)) - killed;
  t.comment(`lal logged in again ${back} ms after its worker was killed`);
  t.ok(back < 10_000, `lal was back within 10 s (${back} ms)`);
  const after = await inspect(ids.lal!);
  t.equal(after.RestartCount, before.RestartCount + 1, 'restarted once');
  t.equal(after.State.Status, 'running', 'and running');
  t.equal(after.Id, before.Id, 'the same container');
});

t.test('agent ls shows both agents with state, health, uptime and restarts', async (t) => {
  // The image's HEALTHCHECK (health) runs every 30 s, so a fresh agent reads `starting` until then.
  const rows = await waitFor(
    'agent ls to show both agents healthy',
    async () => {
      const ls = await agentCli(['ls']);
      if (ls.exitCode !== 0) return undefined;
      const lines = ls.stdout.trim().split('\n');
      const table = new Map(
        lines.slice(1).map((line) => {
          const [agent, state, health, uptime, restarts] = line.split(/\s+/);
          return [agent!, { state, health, uptime, restarts }];
        }),
      );
      return (
        lines[0]!.split(/\s+/).join(' ') === 'AGENT STATE HEALTH UPTIME RESTARTS' &&
        AGENTS.every((a) => table.get(a)?.health === 'healthy') &&
        table
      );
    },
    { timeoutMs: 90_000, intervalMs: 2000, detail: async () => (await agentCli(['ls'])).stdout },
  );
  t.match(
    rows.get('lal'),
    { state: 'running', health: 'healthy', uptime: /^\d+[smh]/, restarts: '1' },
    'lal: running, healthy, its uptime, restarted once',
  );
  t.match(
    rows.get('data'),
    { state: 'running', health: 'healthy', uptime: /^\d+[smh]/, restarts: '0' },
    'data: running, healthy, its uptime, never restarted',
  );
});

t.test('a crash-looping agent: agent up says so, with its last log lines, and exits 69', async (t) => {
  const up = await agentCli(['up', 'broken']);
  t.equal(up.exitCode, 69, `agent up broken exits 69 (${up.stderr.trim().split('\n').at(-1)})`);
  t.match(
    up.stderr,
    /agent: .*-agent-broken is (restarting \(\d+\)|exited \(status \d+\)); its last log lines:\n/,
    'it names the state',
  );
  t.match(up.stderr, /render: op inject exited/, "with the agent's own last lines, which say why");
  t.match(
    up.stderr.trim().split('\n').at(-1),
    /it keeps failing; see its log above \(agent logs broken\), fix its entry or its items, then agent up broken again/,
    'and what to do',
  );
  t.notMatch(up.stderr, /is healthy|runs, without a restart/, 'never reported as running');
  assertNoSecrets(t, 'agent up broken', `${up.stdout}${up.stderr}`, secrets());
  const again = await agentCli(['up', 'broken']);
  t.equal(again.exitCode, 69, 'agent up again: the same, not "already running"');
  t.notMatch(again.stderr, /already running/);
  t.match(
    again.stderr,
    /-agent-broken is restarting \(\d+\); restarting it now|-agent-broken is (restarting|exited)/,
    'it starts it afresh (a fix of its items would be picked up now), and watches it again',
  );
  t.equal((await agentCli(['down', 'broken', '--purge'])).exitCode, 0, 'agent down removes it');
});

t.test(
  'agent down stops the agent cleanly, removes the container and keeps the volume; --purge removes the volume too',
  async (t) => {
    const mountpoint = (
      await docker(['volume', 'inspect', '--format', '{{.Mountpoint}}', agentVolumeName(stack.project, 'lal')])
    ).trim();
    const started = Date.now();
    const down = await agentCli(['down', 'lal']);
    const took = Date.now() - started;
    t.equal(down.exitCode, 0, `agent down lal exits 0 (${down.stderr.trim()})`);
    // No init in an agent: the entrypoint is PID 1 and passes docker stop's SIGTERM to the bridge's whole group.
    t.ok(took < 8000, `it took ${took} ms: a clean stop, not the kill after 10 s`);
    t.equal(
      readFileSync(join(mountpoint, '.copilot-bridge', 'shutdown-clean'), 'utf8'),
      'SIGTERM',
      "lal's worker shut down cleanly on SIGTERM",
    );
    t.match(down.stderr, /removed .*-agent-lal/, 'and says it removed lal');
    t.same(
      (await agentContainers(stack.project)).map((c) => c.agent),
      ['data'],
      "lal's container is gone",
    );
    t.ok((await agentVolumes(stack.project)).includes(agentVolumeName(stack.project, 'lal')), "lal's volume stays");
    const again = await agentCli(['down', 'lal']);
    t.equal(again.exitCode, 0, 'agent down lal again exits 0');
    t.match(again.stderr, /already gone/, 'absent counts as done');
    const purge = await agentCli(['down', 'data', '--purge']);
    t.equal(purge.exitCode, 0, `agent down data --purge exits 0 (${purge.stderr.trim()})`);
    t.match(purge.stderr, /removed volume .*-agent-data-home/, 'and says it removed the volume');
    const purgeLal = await agentCli(['down', 'lal', '--purge']);
    t.equal(purgeLal.exitCode, 0, 'agent down lal --purge removes the volume left behind');
    t.same(await agentContainers(stack.project), [], 'no agent container is left');
    t.same(await agentVolumes(stack.project), [], 'no agent volume is left');
    const ls = await agentCli(['ls']);
    t.equal(ls.stdout.trim(), 'AGENT  STATE  HEALTH  UPTIME  RESTARTS', 'agent ls lists none');
  },
);

t.teardown(() => {
  for (const agent of AGENTS) {
    const times = upTimes[agent];
    if (times)
      t.comment(
        `agent up ${agent}: command ${times.command} ms, bridge logged in after ${times.running} ms (goal ${UP_GOAL_MS} ms)`,
      );
  }
});
