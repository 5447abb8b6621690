// The agent boundary from the attacker's side (issue 9), on a real engine:
// an unprivileged process in the admin container (what the admin bot's shell
// is) that can reach only the socket guard sends everything the attack table
// sent, and more. Each attempt is refused with its rule; for rows 1-6 the
// suite then shows end to end that no canary secret crossed: it searches the
// guard's answers, every container's logs and inspect output, the agents'
// volumes and the host's Docker data and temporary directories. The attacks
// that need more than the guard (root in an agent, a container started with
// NODE_OPTIONS or LD_PRELOAD, a PATH of planted programs) are also played out
// directly on the engine, as an operator's compose edit would allow, to show
// that the second line of defence holds on its own. Run after `npm run build`:
//   npx tap test/e2e/hostile-client.e2e.ts
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { agentContainerName, agentVolumeName, PROJECT_LABEL } from '../../src/contract.js';
import { AGENTS, type Agent, agentContainers, random, sha256, twoAgents } from '../support/e2e/agents.js';
import { removeStaleProjects } from '../support/e2e/cleanup.js';
import { type DockerRelay, dockerRelay } from '../support/e2e/docker-relay.js';
import { ensureDockerEngine } from '../support/e2e/engine.js';
import { buildTestImages, type TestImages } from '../support/e2e/images.js';
import { ROOT, TEST_LABEL } from '../support/e2e/paths.js';
import { attempt, docker, type RunResult, run } from '../support/e2e/run.js';
import { SecretScanner } from '../support/e2e/search.js';
import { Stack } from '../support/e2e/stack.js';
import { waitFor } from '../support/e2e/wait.js';

t.setTimeout(25 * 60_000);

/** lal with its own service account (sealed as agent-lal), data with the shared one. */
const agents = twoAgents();
const { lalServiceAccount, botTokens, item } = agents;

let images: TestImages;
let stack: Stack;
let relay: DockerRelay;
let admin: string;
let probes: string;
const ids: Partial<Record<Agent, string>> = {};
/** Every secret of the run: the canaries that must never cross. */
const secrets = () => [
  ...stack.secrets(),
  lalServiceAccount,
  botTokens.lal,
  botTokens.data,
  agents.githubTokens.lal,
  agents.githubTokens.data,
];

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
    { timeoutMs: 120_000, ...(options.input === undefined ? {} : { input: options.input }) },
  );
const agentCli = (args: string[]) => execIn(admin, ['agent', ...args], { user: 'bridge' });

interface Sent {
  method: string;
  path: string;
  /** A JSON value (sent as JSON) or raw text (sent as is). */
  body?: unknown;
  raw?: string;
}
interface Answer {
  status: number;
  body: string;
}

/** Sends requests to the guard from inside the admin container, as its bridge user, one after another. */
async function hostile(requests: Sent[]): Promise<Answer[]> {
  const script =
    "let d='';process.stdin.on('data',c=>d+=c).on('end',async()=>{const out=[];for(const r of JSON.parse(d)){try{" +
    'const body=r.raw!==undefined?r.raw:r.body===undefined?undefined:JSON.stringify(r.body);' +
    "const res=await fetch('http://socket-proxy:2375'+r.path,{method:r.method,headers:body===undefined?{}:{'content-type':'application/json'},body});" +
    'out.push({status:res.status,body:(await res.text()).slice(0,262144)})}catch(e){out.push({status:-1,body:String(e)})}}' +
    'process.stdout.write(JSON.stringify(out))})';
  const sent = await execIn(admin, ['node', '-e', script], { user: 'bridge', input: JSON.stringify(requests) });
  if (sent.exitCode !== 0) throw new Error(`the hostile client failed: ${sent.stderr}`);
  return JSON.parse(sent.stdout) as Answer[];
}
const one = async (request: Sent) => (await hostile([request]))[0]!;
const rule = (answer: Answer) => (JSON.parse(answer.body || '{}') as { rule?: string }).rule;
const create = (agent: string, body: unknown): Sent => ({
  method: 'POST',
  path: `/v1.41/containers/create?name=${agentContainerName(stack.project, agent)}`,
  body,
});

/** The body `agent up NAME` sends, as `agent spec NAME` prints it inside the admin container. */
async function spec(agent: string): Promise<Record<string, any>> {
  const printed = await agentCli(['spec', agent]);
  if (printed.exitCode !== 0) throw new Error(`agent spec ${agent}: ${printed.stderr}`);
  return JSON.parse(printed.stdout) as Record<string, any>;
}

/**
 * The canaries are nowhere they must not be: the guard's answers, every
 * container's logs and inspect output, the agents' volumes (but the op
 * stand-in's seeded vault), and the host's Docker data and temporary
 * directories (but the release directory, where the tokens are meant to be).
 */
async function noCanaryCrossed(t: Test, after: string, answers: readonly Answer[] = []): Promise<void> {
  const scanner = new SecretScanner(secrets());
  const found: string[] = [];
  const note = (where: string, text: string) =>
    scanner.scan(Buffer.from(text), where).forEach((f) => found.push(`${f.where} (#${f.secret})`));
  answers.forEach((a, i) => note(`answer ${i}`, a.body));
  const containers = (await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${stack.project}`]))
    .split('\n')
    .filter(Boolean);
  const agents = (await docker(['ps', '-aq', '--filter', `label=${PROJECT_LABEL}=${stack.project}`]))
    .split('\n')
    .filter(Boolean);
  for (const id of [...containers, ...agents]) {
    const logs = await attempt('docker', ['logs', id]);
    note(`docker logs ${id.slice(0, 12)}`, `${logs.stdout}\n${logs.stderr}`);
    note(`docker inspect ${id.slice(0, 12)}`, (await attempt('docker', ['inspect', id])).stdout);
  }
  for (const agent of AGENTS) {
    const mountpoint = (
      await attempt('docker', [
        'volume',
        'inspect',
        '--format',
        '{{.Mountpoint}}',
        agentVolumeName(stack.project, agent),
      ])
    ).stdout.trim();
    if (mountpoint)
      found.push(
        ...scanner
          .scanTree(mountpoint, [join(mountpoint, '.op-fixture')])
          .findings.map((f) => `${f.where} (#${f.secret})`),
      );
  }
  for (const root of ['/var/lib/docker/containers', tmpdir(), '/dev/shm']) {
    found.push(
      ...scanner
        .scanTree(root, [stack.dir, '/dev/shm/cbs-op-fixture', relay.path])
        .findings.map((f) => `${f.where} (#${f.secret})`),
    );
  }
  t.same(
    found,
    [],
    `after ${after}: no canary in the answers, any container's logs or inspect output, the agents' volumes, or the host's Docker data and temporary files`,
  );
}

/**
 * What an attacker who is the bridge user does to its own home first: opens
 * it (0755) and makes a world-writable drop directory there, so that root in
 * a container without capabilities can reach what is planted and leave a
 * mark. Returns the drop directory on the host.
 */
async function openDrop(agent: Agent): Promise<string> {
  const volume = agentVolumeName(stack.project, agent);
  const opened = await runImage([
    '-v',
    `${volume}:/home/bridge`,
    '--entrypoint',
    '/bin/sh',
    images.bridge,
    '-c',
    'chmod 755 /home/bridge && mkdir -p /home/bridge/drop && chmod 1777 /home/bridge/drop',
  ]);
  if (opened.exitCode !== 0) throw new Error(`opening ${agent}'s home as bridge: ${opened.stderr}`);
  return join((await docker(['volume', 'inspect', '--format', '{{.Mountpoint}}', volume])).trim(), 'drop');
}

/** Runs the stack's image directly on the engine, as an operator's edited compose file could: labelled, removed after. */
const runImage = (args: string[], timeoutMs = 60_000) =>
  attempt(
    'docker',
    ['run', '--rm', '--label', `${TEST_LABEL}=1`, '--label', `${TEST_LABEL}.pid=${process.pid}`, ...args],
    { timeoutMs },
  );

t.before(async () => {
  t.comment(`Docker engine ${await ensureDockerEngine()}`);
  await removeStaleProjects();
  images = await buildTestImages();
  relay = await dockerRelay();
  t.teardown(() => relay.close());
  stack = await Stack.up(t, images, {
    pingDelayMs: 1000,
    ...agents.stackOptions(),
    dockerSocket: relay.path,
  });
  await agents.seed(stack, images.bridge);
  await stack.waitHealthy('copilot-bridge', 180_000);
  admin = await stack.container('copilot-bridge');
  // Probes compiled here, for the attacks that need root in an agent: the shocker's first step, and a preload library.
  probes = mkdtempSync(join(tmpdir(), 'cbs-probes-'));
  t.teardown(() => rmSync(probes, { recursive: true, force: true }));
  await run('musl-gcc', [
    '-static',
    '-O2',
    '-o',
    join(probes, 'open-by-handle'),
    join(ROOT, 'test', 'support', 'e2e', 'probes', 'open-by-handle.c'),
  ]);
  await run('gcc', [
    '-shared',
    '-fPIC',
    '-O2',
    '-o',
    join(probes, 'preload-marker.so'),
    join(ROOT, 'test', 'support', 'e2e', 'probes', 'preload-marker.c'),
  ]);
});

t.test(
  'agent up works for every agent of the agents file, with and without its own token, and agent spec is what the engine was sent',
  async (t) => {
    for (const agent of AGENTS) {
      const started = Date.now();
      const up = await agentCli(['up', agent]);
      t.equal(up.exitCode, 0, `agent up ${agent} (${up.stderr.trim().split('\n').join(' | ')})`);
      const sent = relay
        .requests()
        .filter(
          (r) =>
            r.method === 'POST' &&
            r.path.endsWith(`/containers/create?name=${agentContainerName(stack.project, agent)}`),
        );
      t.equal(sent.length, 1, `one create of ${agent} reached the engine`);
      t.same(
        JSON.parse(sent[0]!.body),
        await spec(agent),
        `the engine was sent exactly what agent spec ${agent} prints`,
      );
      await waitFor(
        `${agent}'s bridge to log in with its bot token`,
        async () =>
          (await stack.authLog()).some(
            (e) =>
              e.endpoint === 'users/channels' &&
              e.ok &&
              e.tokenSha256 === sha256(botTokens[agent]) &&
              Date.parse(e.at) >= started,
          ),
        { timeoutMs: 60_000, intervalMs: 100 },
      );
    }
    for (const { id, agent } of await agentContainers(stack.project)) ids[agent as Agent] = id;
    t.same(Object.keys(ids).sort(), ['data', 'lal']);
    const mounts = async (agent: Agent) =>
      (
        JSON.parse(await docker(['inspect', ids[agent]!]))[0] as {
          Mounts: Array<{ Source: string; Destination: string }>;
        }
      ).Mounts.find((m) => m.Destination === '/run/secrets/op_sa_token')?.Source;
    t.equal(await mounts('lal'), join(stack.dir, 'agent-lal'), 'lal runs with its own sealed token');
    t.equal(await mounts('data'), join(stack.dir, 'op-sa-token'), 'data, with none of its own, with the shared one');
  },
);

t.test('row 1: DAC_READ_SEARCH is refused, and root in an agent cannot open files by handle', async (t) => {
  const body = await spec('lal');
  const attempts = [
    create('lal', {
      ...body,
      HostConfig: { ...body.HostConfig, CapAdd: [...body.HostConfig.CapAdd, 'DAC_READ_SEARCH'] },
    }),
    create('lal', { ...body, HostConfig: { ...body.HostConfig, CapAdd: ['SETUID', 'CAP_DAC_READ_SEARCH'] } }),
  ];
  const answers = await hostile(attempts);
  for (const answer of answers) {
    t.equal(answer.status, 403, 'refused');
    t.equal(rule(answer), 'not-the-agent-spec', 'as not the agent spec');
    t.match(answer.body, /\$\.HostConfig\.CapAdd/, 'naming where it differs');
  }
  // Root in an agent, the worst that rows 2-4 once gave: the shocker's first step fails without the capability.
  const drop = await openDrop('lal');
  copyFileSync(join(probes, 'open-by-handle'), join(drop, 'open-by-handle'));
  chmodSync(join(drop, 'open-by-handle'), 0o755);
  const inAgent = await execIn(ids.lal!, ['/home/bridge/drop/open-by-handle', '/etc/hostname'], { user: '0:0' });
  t.equal(
    inAgent.stdout.trim(),
    'open_by_handle_at: Operation not permitted',
    `root in lal: opening the host's root by a made-up handle is refused (${inAgent.stderr.trim()})`,
  );
  const status = await execIn(ids.lal!, ['cat', '/proc/1/status']);
  const bounding = BigInt(`0x${/CapBnd:\s+([0-9a-f]+)/.exec(status.stdout)?.[1] ?? '0'}`);
  t.equal(bounding & (1n << 2n), 0n, 'CAP_DAC_READ_SEARCH is not even in the bounding set');
  const control = await runImage([
    '--cap-drop',
    'ALL',
    '--cap-add',
    'DAC_READ_SEARCH',
    '-u',
    '0:0',
    '-v',
    `${agentVolumeName(stack.project, 'lal')}:/home/bridge`,
    '--entrypoint',
    '/home/bridge/drop/open-by-handle',
    images.bridge,
    '/etc/hostname',
  ]);
  // (On ext4, the host's root opens; on another file system the made-up handle may name nothing, but the call is let
  // through.)
  t.match(
    control.stdout.trim(),
    /^open_by_handle_at: (?!Operation not permitted)/,
    `control: with DAC_READ_SEARCH the same call is let through: ${control.stdout.trim()} ${control.stderr.trim()}`,
  );
  await noCanaryCrossed(t, 'row 1', answers);
});

t.test(
  'row 2: NODE_OPTIONS and LD_PRELOAD are refused by the guard, and by the launcher before anything loads',
  async (t) => {
    const body = await spec('lal');
    const payload = `import('node:fs').then((fs) => console.log('TOKEN:' + fs.readFileSync('/run/secrets/op_sa_token', 'utf8')))`;
    const answers = await hostile([
      create('lal', {
        ...body,
        Env: [
          ...body.Env,
          `NODE_OPTIONS=--import=data:text/javascript;base64,${Buffer.from(payload).toString('base64')}`,
        ],
      }),
      create('lal', { ...body, Env: [...body.Env, 'LD_PRELOAD=/home/bridge/preload-marker.so'] }),
      create('lal', {
        ...body,
        Env: body.Env.map((e: string) =>
          e.startsWith('BRIDGE_SUPERVISE=') ? 'LD_PRELOAD=/home/bridge/preload-marker.so' : e,
        ),
      }),
    ]);
    for (const answer of answers)
      t.match(
        { status: answer.status, rule: rule(answer) },
        { status: 403, rule: 'not-the-agent-spec' },
        'refused by the guard',
      );
    // As an edited compose file could still start it: the launcher refuses before Node or the loader act.
    const drop = await openDrop('lal');
    copyFileSync(join(probes, 'preload-marker.so'), join(drop, 'preload-marker.so'));
    chmodSync(join(drop, 'preload-marker.so'), 0o755);
    const marks = () => {
      try {
        return readFileSync(join(drop, 'preload-ran'), 'utf8').split('\n').filter(Boolean);
      } catch {
        return [];
      }
    };
    const token = [
      '-v',
      `${join(stack.dir, 'agent-lal')}:/run/secrets/op_sa_token:ro`,
      '-v',
      `${agentVolumeName(stack.project, 'lal')}:/home/bridge`,
    ];
    const hardened = [
      '--read-only',
      '--tmpfs',
      '/tmp:size=16m,mode=1777',
      '--cap-drop',
      'ALL',
      '--cap-add',
      'SETUID',
      '--cap-add',
      'SETGID',
      '--security-opt',
      'no-new-privileges:true',
      '-u',
      '0:0',
      '--network',
      'none',
    ];
    const nodeOptions = await runImage([
      ...hardened,
      ...token,
      '-e',
      `NODE_OPTIONS=--import=data:text/javascript;base64,${Buffer.from(payload).toString('base64')}`,
      images.bridge,
    ]);
    t.equal(nodeOptions.exitCode, 77, 'NODE_OPTIONS: the container exits 77');
    t.match(
      nodeOptions.stderr,
      /environment: NODE_OPTIONS is set, and it changes what a root process loads/,
      'naming the variable',
    );
    t.notMatch(nodeOptions.stdout, /TOKEN:/, 'the payload never ran');
    const preload = await runImage([
      ...hardened,
      ...token,
      '-e',
      'LD_PRELOAD=/home/bridge/drop/preload-marker.so',
      images.bridge,
    ]);
    t.equal(preload.exitCode, 77, 'LD_PRELOAD: the container exits 77');
    t.same(marks(), [], 'the planted library was never loaded');
    const control = await runImage([
      ...hardened,
      ...token,
      '-e',
      'LD_PRELOAD=/home/bridge/drop/preload-marker.so',
      '--entrypoint',
      '/usr/local/bin/node',
      images.bridge,
      '-e',
      '0',
    ]);
    t.equal(control.exitCode, 0, `control ran (${control.stderr.trim()})`);
    t.same(marks(), ['0'], 'control: the same library loads into a root Node started without the launcher');
    const controlPayload = await runImage([
      ...hardened,
      ...token,
      '-e',
      `NODE_OPTIONS=--import=data:text/javascript;base64,${Buffer.from(payload).toString('base64')}`,
      '--entrypoint',
      '/usr/local/bin/node',
      images.bridge,
      '-e',
      '0',
    ]);
    t.match(
      controlPayload.stdout,
      /^TOKEN:/,
      'control: the same payload reads the token in a root Node started without the launcher',
    );
    await noCanaryCrossed(t, 'row 2', [
      ...answers,
      { status: 0, body: `${nodeOptions.stdout}\n${nodeOptions.stderr}\n${preload.stdout}\n${preload.stderr}` },
    ]);
    rmSync(join(drop, 'preload-ran'), { force: true });
  },
);

t.test(
  "row 3: a healthcheck of the client's is refused; the image runs as bridge unless root is asked for",
  async (t) => {
    const body = await spec('lal');
    const answers = await hostile([
      create('lal', { ...body, Healthcheck: { Test: ['CMD-SHELL', 'base64 -w0 /run/secrets/op_sa_token'] } }),
      create('lal', { ...body, healthcheck: { test: ['CMD', 'cat', '/run/secrets/op_sa_token'] } }),
    ]);
    for (const answer of answers)
      t.match(
        { status: answer.status, rule: rule(answer), body: answer.body },
        { status: 403, rule: 'not-the-agent-spec', body: /\$\.healthcheck is not part of the spec/i },
        'refused',
      );
    const id = await runImage(['--entrypoint', 'id', images.bridge, '-u']);
    t.equal(
      id.stdout.trim(),
      '61001',
      "the image's user is bridge: a healthcheck or exec that does not ask for root runs as bridge",
    );
    const health = JSON.parse(await docker(['inspect', '--format', '{{json .State.Health}}', ids.lal!])) as {
      Log?: Array<{ Output: string }>;
    } | null;
    t.ok(!health?.Log?.some((entry) => /ops_/.test(entry.Output)), "the agent's own health log holds no token");
    await noCanaryCrossed(t, 'row 3', answers);
  },
);

t.test(
  'row 4: a PATH of planted programs, or the volume over a system directory, is refused; the root phase runs none of them',
  async (t) => {
    const body = await spec('lal');
    const answers = await hostile([
      create('lal', { ...body, Env: [...body.Env, 'PATH=/home/bridge/bin:/usr/local/bin:/usr/bin:/bin'] }),
      create('lal', {
        ...body,
        HostConfig: {
          ...body.HostConfig,
          Mounts: [{ ...body.HostConfig.Mounts[0], Target: '/usr/local/sbin' }, body.HostConfig.Mounts[1]],
        },
      }),
      create('lal', {
        ...body,
        HostConfig: {
          ...body.HostConfig,
          Mounts: [
            ...body.HostConfig.Mounts,
            { Type: 'volume', Source: agentVolumeName(stack.project, 'lal'), Target: '/usr/local/sbin' },
          ],
        },
      }),
    ]);
    for (const answer of answers)
      t.match({ status: answer.status, rule: rule(answer) }, { status: 403, rule: 'not-the-agent-spec' }, 'refused');
    // Played out: traps named op, prlimit, tini, node, sh and env in the agent's volume, first on PATH.
    const drop = await openDrop('lal');
    const volume = agentVolumeName(stack.project, 'lal');
    const planted = ['op', 'prlimit', 'tini', 'node', 'sh', 'env'];
    const plant = `mkdir -p /home/bridge/bin && for n in ${planted.join(' ')}; do printf '#!/bin/sh\\necho "%s $(id -u)" >> /home/bridge/drop/caught\\n' "$n" > /home/bridge/bin/$n; chmod 755 /home/bridge/bin/$n; done`;
    const planting = await runImage([
      '-v',
      `${volume}:/home/bridge`,
      '--entrypoint',
      '/bin/sh',
      images.bridge,
      '-c',
      plant,
    ]);
    t.equal(
      planting.exitCode,
      0,
      `the bridge user planted ${planted.join(', ')} in its own volume (${planting.stderr.trim()})`,
    );
    const catches = () => {
      try {
        return readFileSync(join(drop, 'caught'), 'utf8').split('\n').filter(Boolean);
      } catch {
        return [];
      }
    };
    const control = await runImage([
      '-u',
      '0:0',
      '-v',
      `${volume}:/home/bridge`,
      '-e',
      'PATH=/home/bridge/bin:/usr/bin:/bin',
      '--entrypoint',
      '/usr/bin/env',
      images.bridge,
      'op',
      '--version',
    ]);
    t.same(
      catches(),
      ['op 0'],
      `control: a planted program found on that PATH by root runs and is caught (${control.stderr.trim()})`,
    );
    rmSync(join(drop, 'caught'), { force: true });
    const started = await runImage([
      '-u',
      '0:0',
      '--read-only',
      '--tmpfs',
      '/tmp:size=16m,mode=1777',
      '--cap-drop',
      'ALL',
      '--cap-add',
      'SETUID',
      '--cap-add',
      'SETGID',
      '--security-opt',
      'no-new-privileges:true',
      '--network',
      stack.agentNetwork,
      '-v',
      `${join(stack.dir, 'agent-lal')}:/run/secrets/op_sa_token:ro`,
      '-v',
      `${volume}:/home/bridge`,
      '-e',
      'PATH=/home/bridge/bin:/opt/copilot-bridge/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '-e',
      'BRIDGE_SUPERVISE=1',
      '-e',
      'STANDIN_EXIT_AFTER_MS=500',
      ...body.Env.filter((e: string) => /^BRIDGE_(CONFIG_TEMPLATE|AGENT_ENTRY)=/.test(e)).flatMap((e: string) => [
        '-e',
        e,
      ]),
      images.bridge,
    ]);
    t.match(
      started.stderr,
      /supervise: running copilot-bridge start/,
      `the root phase rendered with the real op and reached the bridge (${started.stderr.trim().split('\n').slice(-1)})`,
    );
    const caught = catches();
    t.same(
      caught.filter((line) => line.endsWith(' 0')),
      [],
      `no planted program ran as root (${caught.length ? `caught: ${caught.join(', ')}` : 'none ran at all'})`,
    );
    await run('sh', ['-c', `rm -rf '${drop}/caught' '${join(drop, '..', 'bin')}'`]);
    await noCanaryCrossed(t, 'row 4', [...answers, { status: 0, body: `${started.stdout}\n${started.stderr}` }]);
  },
);

t.test("row 5: a command or a template of the client's is refused", async (t) => {
  const body = await spec('lal');
  const template = (text: string) => [...body.Env, `BRIDGE_CONFIG_TEMPLATE_TEXT=${text}`];
  const entry = (patch: Record<string, unknown>) =>
    body.Env.map((e: string) =>
      e.startsWith('BRIDGE_AGENT_ENTRY=')
        ? `BRIDGE_AGENT_ENTRY=${JSON.stringify({ ...JSON.parse(e.slice('BRIDGE_AGENT_ENTRY='.length)), ...patch })}`
        : e,
    );
  const answers = await hostile([
    create('lal', { ...body, Cmd: ['cat', '/tmp/config.json'] }),
    create('lal', { ...body, Cmd: ['sh', '-c', 'rev /tmp/config.json'] }),
    create('lal', { ...body, Cmd: ['copilot-bridge', 'start', '--debug'] }),
    create('lal', { ...body, Env: template(`{"x": "{{ ${item('data')} }}"}`) }),
    create('lal', { ...body, Env: template(`{"x": "op://copilot-bridge/mattermost-admin-bot/token"}`) }),
    create('lal', { ...body, Env: entry({ botTokenItem: 'op://copilot-bridge/mattermost-data' }) }),
    create('lal', { ...body, Env: entry({ githubTokenItem: 'op://copilot-bridge/github-admin' }) }),
    create('lal', {
      ...body,
      Env: body.Env.map((e: string) =>
        e.startsWith('BRIDGE_CONFIG_TEMPLATE=') ? 'BRIDGE_CONFIG_TEMPLATE=/home/bridge/drop/evil.tpl' : e,
      ),
    }),
    create('lal', { ...body, Entrypoint: ['/bin/sh', '-c', 'cat /run/secrets/op_sa_token'] }),
  ]);
  for (const answer of answers)
    t.match({ status: answer.status, rule: rule(answer) }, { status: 403, rule: 'not-the-agent-spec' }, 'refused');
  await noCanaryCrossed(t, 'row 5', answers);
});

t.test("row 6: another agent's token, under any name, is refused", async (t) => {
  const lal = await spec('lal');
  const data = await spec('data');
  await agentCli(['down', 'data']);
  const withToken = (b: Record<string, any>, source: string) => ({
    ...b,
    HostConfig: { ...b.HostConfig, Mounts: [b.HostConfig.Mounts[0], { ...b.HostConfig.Mounts[1], Source: source }] },
  });
  const answers = await hostile([
    create('data', withToken(data, join(stack.dir, 'agent-lal'))),
    create('data', lal),
    create('probe', withToken(lal, join(stack.dir, 'agent-lal'))),
    create('data', withToken(data, join(stack.dir, 'vault.json'))),
    create('data', withToken(data, stack.dir)),
  ]);
  t.match(
    { status: answers[0]!.status, rule: rule(answers[0]!) },
    { status: 403, rule: 'not-the-agent-spec' },
    "data's name with lal's token",
  );
  t.match(
    { status: answers[1]!.status, rule: rule(answers[1]!) },
    { status: 403, rule: 'not-the-agent-spec' },
    "lal's whole body under data's name",
  );
  t.match(
    { status: answers[2]!.status, rule: rule(answers[2]!) },
    { status: 403, rule: 'unknown-agent' },
    'a name not in the agents file',
  );
  t.match(
    { status: answers[3]!.status, rule: rule(answers[3]!) },
    { status: 403, rule: 'not-the-agent-spec' },
    'another file of the release directory as the token',
  );
  t.match(
    { status: answers[4]!.status, rule: rule(answers[4]!) },
    { status: 403, rule: 'not-the-agent-spec' },
    'the whole release directory',
  );
  t.same(
    (await agentContainers(stack.project)).map((c) => c.agent),
    ['lal'],
    'no container was made',
  );
  const up = await agentCli(['up', 'data']);
  t.equal(up.exitCode, 0, 'data comes back with agent up');
  for (const { id, agent } of await agentContainers(stack.project)) ids[agent as Agent] = id;
  await noCanaryCrossed(t, 'row 6', answers);
});

t.test('row 7: an alias for a service is refused; inside an agent, mattermost is Mattermost only', async (t) => {
  const body = await spec('lal');
  const endpoint = (aliases: string[]) => ({
    ...body,
    NetworkingConfig: { EndpointsConfig: { [stack.agentNetwork]: { Aliases: aliases } } },
  });
  const answers = await hostile([
    create('lal', endpoint(['lal', 'mattermost'])),
    create('lal', endpoint(['mattermost'])),
    create('mattermost', endpoint(['mattermost'])),
  ]);
  t.match(
    { status: answers[0]!.status, rule: rule(answers[0]!) },
    { status: 403, rule: 'not-the-agent-spec' },
    'an extra alias',
  );
  t.match(
    { status: answers[1]!.status, rule: rule(answers[1]!) },
    { status: 403, rule: 'not-the-agent-spec' },
    'another alias',
  );
  t.match(
    { status: answers[2]!.status, rule: rule(answers[2]!) },
    { status: 403, rule: 'reserved-name' },
    'an agent named mattermost',
  );
  const mattermost = (
    (await stack.inspect('mattermost')).NetworkSettings.Networks[stack.agentNetwork] as { IPAddress: string }
  ).IPAddress;
  const lookup =
    "require('dns').lookup(process.argv[1],{all:true},(e,a)=>console.log(JSON.stringify(e?e.code:a.map((x)=>x.address).sort())))";
  for (const agent of AGENTS) {
    const seen = await execIn(ids[agent]!, ['node', '-e', lookup, 'mattermost'], { user: 'bridge' });
    t.same(JSON.parse(seen.stdout), [mattermost], `from ${agent}, mattermost resolves to Mattermost alone`);
  }
});

t.test("row 8: events are this project's agents' only, without command lines", async (t) => {
  const since = Math.floor(Date.now() / 1000) - 1;
  const canary = `exec-canary-${random(12)}`;
  await docker(['exec', await stack.container('postgres'), 'sh', '-c', `echo ${canary} > /dev/null`]);
  await docker(['exec', ids.lal!, 'sh', '-c', `echo ${canary} > /dev/null`]);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const until = Math.floor(Date.now() / 1000) + 1;
  const raw = await docker(['events', '--since', String(since), '--until', String(until), '--format', '{{json .}}']);
  t.match(raw, canary, 'control: the engine itself reports the command lines');
  const [all, widened] = await hostile([
    { method: 'GET', path: `/v1.41/events?since=${since}&until=${until}` },
    {
      method: 'GET',
      path: `/v1.41/events?since=${since}&until=${until}&filters=${encodeURIComponent(JSON.stringify({ type: ['container', 'network', 'daemon'], label: [`${PROJECT_LABEL}=other`] }))}`,
    },
  ]);
  t.equal(all!.status, 200, 'events answer');
  t.notMatch(all!.body, canary, 'no command line');
  const names = new Set(
    all!.body
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { Actor: { Attributes: { name: string } } }).Actor.Attributes.name),
  );
  t.ok(names.has(agentContainerName(stack.project, 'lal')), "lal's exec shows, named");
  t.same(
    [...names].filter((name) => !name.startsWith(agentContainerName(stack.project, ''))),
    [],
    'nothing of any other container',
  );
  t.equal(widened!.status, 200);
  t.equal(widened!.body.trim(), '', 'a client that asks for more, or for another project, gets nothing');
  const refused = await one({
    method: 'GET',
    path: `/v1.41/events?filters=${encodeURIComponent(JSON.stringify({ image: ['postgres'] }))}`,
  });
  t.match(
    { status: refused.status, rule: rule(refused) },
    { status: 403, rule: 'events-filter' },
    'filters other than type, event, container and label are refused',
  );
});

t.test("row 9: the limits are not the client's to drop", async (t) => {
  const body = await spec('lal');
  const without = (key: string) => {
    const host = { ...body.HostConfig };
    delete host[key];
    return { ...body, HostConfig: host };
  };
  const answers = await hostile([
    create('lal', without('NanoCpus')),
    create('lal', without('Memory')),
    create('lal', without('PidsLimit')),
    create('lal', { ...body, HostConfig: { ...body.HostConfig, LogConfig: { Type: 'json-file', Config: {} } } }),
    create('lal', {
      ...body,
      HostConfig: {
        ...body.HostConfig,
        LogConfig: { Type: 'json-file', Config: { ...body.HostConfig.LogConfig.Config, 'max-size': '100g' } },
      },
    }),
    create('lal', { ...body, HostConfig: { ...body.HostConfig, Ulimits: [] } }),
  ]);
  for (const answer of answers)
    t.match({ status: answer.status, rule: rule(answer) }, { status: 403, rule: 'not-the-agent-spec' }, 'refused');
  for (const agent of AGENTS) {
    const host = (JSON.parse(await docker(['inspect', ids[agent]!]))[0] as { HostConfig: Record<string, any> })
      .HostConfig;
    t.ok(host.NanoCpus > 0 && host.Memory > 0 && host.PidsLimit > 0, `${agent}: CPU, memory and pids limited`);
    t.match(
      host.LogConfig,
      { Type: 'json-file', Config: { 'max-size': /\d/, 'max-file': /\d/ } },
      `${agent}: its log rotates`,
    );
  }
});

t.test(
  'every field of the spec changed, or a field added, one at a time: each refused by the real guard',
  async (t) => {
    const body = await spec('lal');
    const leaves: Array<[Array<string | number>, unknown]> = [];
    const walk = (value: unknown, path: Array<string | number>) => {
      if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, i]));
      else if (value && typeof value === 'object') Object.entries(value).forEach(([k, v]) => walk(v, [...path, k]));
      else leaves.push([path, value]);
    };
    walk(body, []);
    const mutated: Array<[string, unknown]> = leaves.map(([path, value]) => {
      const copy = structuredClone(body);
      let at: any = copy;
      for (const key of path.slice(0, -1)) at = at[key];
      at[path.at(-1)!] = typeof value === 'string' ? `${value}x` : typeof value === 'number' ? value + 1 : !value;
      return [`${path.join('.')} changed`, copy];
    });
    const added: Array<[string, unknown]> = [
      ['Privileged', true],
      ['Binds', ['/:/host']],
      ['PidMode', 'host'],
      ['NetworkMode', 'host'],
      ['Devices', [{ PathOnHost: '/dev/kmsg', PathInContainer: '/dev/kmsg', CgroupPermissions: 'r' }]],
      ['SecurityOpt', ['no-new-privileges:true', 'seccomp=unconfined']],
      ['Sysctls', { 'kernel.core_pattern': '|/bin/sh' }],
      ['ExtraHosts', ['mattermost:10.0.0.9']],
      ['OomScoreAdj', -1000],
      ['Runtime', 'runc'],
    ].map(([key, value]) => [
      `HostConfig.${key} added`,
      { ...body, HostConfig: { ...body.HostConfig, [key as string]: value } },
    ]);
    const cases = [
      ...mutated,
      ...added,
      ['User root', { ...body, User: 'root' }],
      ['WorkingDir', { ...body, WorkingDir: '/' }],
      ['Volumes', { ...body, Volumes: { '/x': {} } }],
    ] as Array<[string, unknown]>;
    t.ok(cases.length >= 30, `${cases.length} cases`);
    const answers = await hostile(cases.map(([, b]) => create('lal', b)));
    cases.forEach(([what], i) =>
      t.match(
        { status: answers[i]!.status, rule: rule(answers[i]!) },
        { status: 403, rule: 'not-the-agent-spec' },
        what,
      ),
    );
  },
);

t.test('property: random mutations through the real guard pass only when the daemon reads the same body', async (t) => {
  const body = await spec('lal');
  // lal exists, so a body that passes the guard reaches the engine and gets its 409 (name in use): proof it passed.
  const mutate = (seed: number, kind: number): [unknown, boolean] => {
    const copy: any = structuredClone(body);
    switch (kind) {
      case 0: {
        // a struct key in other ASCII case: the same field for the daemon
        const keys = Object.keys(copy.HostConfig);
        const key = keys[seed % keys.length]!;
        const value = copy.HostConfig[key];
        delete copy.HostConfig[key];
        copy.HostConfig[key.toLowerCase() === key ? key.toUpperCase() : key.toLowerCase()] = value;
        return [copy, true];
      }
      case 1: {
        // a label key in other case: another label
        const key = Object.keys(copy.Labels)[seed % 2]!;
        copy.Labels[key.toUpperCase()] = copy.Labels[key];
        delete copy.Labels[key];
        return [copy, false];
      }
      case 2: // an Env entry changed
        copy.Env[seed % copy.Env.length] += ' ';
        return [copy, false];
      default: // top-level keys reordered and a top key lower-cased
        return [
          Object.fromEntries(
            Object.entries(copy)
              .reverse()
              .map(([k, v], i) => [i === seed % 5 ? k.toLowerCase() : k, v]),
          ),
          true,
        ];
    }
  };
  const samples = fc.sample(fc.tuple(fc.nat(1000), fc.nat(3)), 60).map(([seed, kind]) => mutate(seed, kind));
  const answers = await hostile(samples.map(([b]) => create('lal', b)));
  samples.forEach(([, same], i) => {
    const answer = answers[i]!;
    if (same)
      t.equal(
        answer.status,
        409,
        `a body the daemon reads as the spec passes the guard (the engine answers 409: lal exists) ${answer.body.slice(0, 120)}`,
      );
    else
      t.match(
        { status: answer.status, rule: rule(answer) },
        { status: 403, rule: 'not-the-agent-spec' },
        'a different body is refused',
      );
  });
  t.ok(samples.some(([, same]) => same) && samples.some(([, same]) => !same), 'both kinds were sent');
  t.same(
    (await agentContainers(stack.project)).map((c) => c.agent).sort(),
    ['data', 'lal'],
    'still exactly the two agents',
  );
});

t.test(
  "what the admin bot's shell can and cannot reach, proven from inside the admin container as bridge",
  async (t) => {
    const asBridge = (argv: string[]) => execIn(admin, argv, { user: 'bridge' });
    const token = await asBridge(['cat', '/run/secrets/op_sa_token']);
    t.not(token.exitCode, 0, 'cannot read the service-account token file');
    const config = await asBridge(['cat', '/tmp/config.json']);
    t.equal(config.exitCode, 0, 'can read its own rendered config (the bridge needs its bot token): by design');
    const environ = await asBridge([
      'sh',
      '-c',
      'for p in /proc/[0-9]*; do cat $p/environ 2>/dev/null; done | tr "\\0" "\\n"',
    ]);
    t.notMatch(environ.stdout, /ops_/, 'no service-account token in any environment it can read');
    // By design: the admin bridge's own GitHub token, in its own processes' environment (the Copilot CLI reads it from
    // nowhere else, and its shell commands run as the same user). It is left out of the search below.
    const github = `COPILOT_GITHUB_TOKEN=${stack.items['op://copilot-bridge/github-admin/token']}`;
    t.ok(environ.stdout.split('\n').includes(github), "can read its own bridge's GitHub token: by design");
    environ.stdout = environ.stdout
      .split('\n')
      .filter((line) => line !== github)
      .join('\n');
    const supervisor = await asBridge([
      'sh',
      '-c',
      'cat /proc/1/environ >/dev/null 2>&1 && echo readable || echo refused',
    ]);
    t.equal(supervisor.stdout.trim(), 'refused', "cannot read PID 1's environment (root's init)");
    const socket = await asBridge(['sh', '-c', 'ls /var/run/docker.sock 2>&1 || true']);
    t.match(socket.stdout, /No such file/, 'has no Docker socket');
    const connect = (host: string, port: number) =>
      asBridge([
        'node',
        '-e',
        `const s=require('net').connect({host:${JSON.stringify(host)},port:${port},timeout:3000});s.on('connect',()=>{console.log('connected');process.exit(0)});s.on('timeout',()=>{console.log('timeout');process.exit(2)});s.on('error',e=>{console.log(e.code);process.exit(2)})`,
      ]);
    t.equal((await connect('postgres', 5432)).exitCode, 2, 'cannot reach PostgreSQL');
    t.equal(
      (await connect('socket-proxy', 2375)).exitCode,
      0,
      'reaches the guard (and only through its policy, above)',
    );
    t.equal((await connect('mattermost', 8065)).exitCode, 0, 'reaches Mattermost');
    // The supervisor runs as bridge too (after the drop) and holds the token in its memory; being non-dumpable keeps
    // /proc/PID/mem and ptrace out, and --disable-sigusr1 keeps SIGUSR1 from opening Node's inspector on port 9229.
    const inspector =
      "const fs=require('fs');const pid=fs.readdirSync('/proc').filter((p)=>/^\\d+$/.test(p)).find((p)=>{try{return p!==String(process.pid)&&fs.readFileSync('/proc/'+p+'/cmdline','utf8').includes('copilot-bridge-entrypoint.mjs')}catch{return false}});" +
      "process.kill(Number(pid),'SIGUSR1');setTimeout(()=>{const s=require('net').connect(9229,'127.0.0.1');" +
      "s.on('connect',()=>{console.log('inspector open');process.exit(0)});s.on('error',(e)=>{console.log(pid+' '+e.code);process.exit(2)})},1500)";
    const usr1 = await asBridge(['node', '-e', inspector]);
    t.match(
      usr1.stdout.trim(),
      /^\d+ ECONNREFUSED$/,
      `SIGUSR1 to the supervisor opens no inspector (${usr1.stdout.trim()})`,
    );
    const supervisorAlive = await asBridge(['sh', '-c', `kill -0 ${usr1.stdout.trim().split(' ')[0]} && echo alive`]);
    t.equal(supervisorAlive.stdout.trim(), 'alive', 'and the supervisor goes on');
    const regain = await asBridge([
      'node',
      '-e',
      'try{process.setuid(0);console.log("root")}catch(e){console.log(e.code)}',
    ]);
    t.equal(regain.stdout.trim(), 'EPERM', 'cannot become root again');
    const exec = await one({
      method: 'POST',
      path: `/v1.41/containers/${ids.lal}/exec`,
      body: { Cmd: ['cat', '/run/secrets/op_sa_token'] },
    });
    t.match(
      { status: exec.status, rule: rule(exec) },
      { status: 403, rule: 'default-deny' },
      'cannot exec into an agent through the guard',
    );
    const archive = await one({
      method: 'GET',
      path: `/v1.41/containers/${ids.lal}/archive?path=/run/secrets/op_sa_token`,
    });
    t.equal(archive.status, 403, "cannot copy an agent's files out through the guard");
    const logs = await agentCli(['logs', 'lal']);
    t.equal(logs.exitCode, 0, "can read an agent's logs (redacted by the agent's supervisor)");
    // (The admin's own rendered config, which holds its bot token by design, is left out of the search.)
    await noCanaryCrossed(
      t,
      "the admin shell's reach",
      [token, environ].map((r) => ({ status: 0, body: `${r.stdout}${r.stderr}` })).concat([exec, archive]),
    );
  },
);
