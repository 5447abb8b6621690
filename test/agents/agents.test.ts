// The agent commands' pure parts: the agents file, the per-agent template,
// the stack settings and the one builder of an agent's container (the guard
// compares with the same builder: test/guard/create-policy.test.ts).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { type AgentDefinition, findAgent, readAdminEntry, readAgentsFile } from '../../src/agents/agents-file.js';
import { agentContainer } from '../../src/agents/container-spec.js';
import { environmentReferences, renderAgentTemplate } from '../../src/agents/render-template.js';
import { readAgentStack } from '../../src/agents/stack-settings.js';
import { findReferences } from '../../src/template/references.js';
import { AGENTS, STACK, TEMPLATE as TEMPLATE_FILE } from '../support/agent-stack.js';

const ADMIN_TEMPLATE = resolve(import.meta.dirname, '..', '..', 'templates', 'config.json.tpl');

const TEMPLATE = readFileSync(TEMPLATE_FILE, 'utf8');
const [lal, data] = AGENTS as [AgentDefinition, AgentDefinition];

t.test('the template renders per agent, leaving op references for op inject', async (t) => {
  const text = renderAgentTemplate(TEMPLATE, lal);
  const refs = findReferences(text);
  t.same(
    refs.map((r) => r.ref),
    ['op://stack/mattermost-lal/token'],
    'one op reference, untouched by mustache',
  );
  const rendered = JSON.parse(text.replace(/\{\{[^}]*\}\}/, 'bot-token-value'));
  t.equal(rendered.platforms.mattermost.bots.lal.token, 'bot-token-value');
  t.equal(rendered.platforms.mattermost.bots.lal.agent, 'Lal "the" helper', 'values are JSON-escaped');
  t.same(
    rendered.channels.map((c: { id: string }) => c.id),
    ['abc12300000000000000000000', 'def45600000000000000000000'],
  );
  t.same(rendered.platforms.mattermost.access.users, ['ray']);
  t.same(
    environmentReferences(lal),
    { COPILOT_GITHUB_TOKEN: 'op://stack/github-lal/token' },
    'its GitHub token goes beside the config, into the environment',
  );
  const admin = renderAgentTemplate(readFileSync(ADMIN_TEMPLATE, 'utf8'), { ...lal, name: 'admin' });
  t.same(
    findReferences(admin).map((r) => r.ref),
    ['op://stack/mattermost-lal/token'],
    "the admin's template: only the bot token comes from 1Password",
  );
  t.match(
    JSON.parse(admin.replace(/\{\{[^}]*\}\}/, 'x')),
    {
      platforms: { mattermost: { bots: { admin: { admin: true } } } },
      channels: [{ id: 'abc12300000000000000000000', bot: 'admin' }, { id: 'def45600000000000000000000' }],
    },
    'channels and users are plain settings',
  );
});

t.test('the builder: the agent names its container, the stack settings shape it', async (t) => {
  const spec = agentContainer(STACK, lal);
  const body = spec.body as Record<string, any>;
  t.equal(spec.name, 'cbs-agent-lal');
  t.equal(spec.volume, 'cbs-agent-lal-home');
  t.same(spec.volumeBody, {
    Name: 'cbs-agent-lal-home',
    Driver: 'local',
    Labels: { 'com.copilot-bridge-stack.project': 'cbs' },
  });
  t.equal(body.Image, STACK.image, "the stack's image");
  t.equal(body.User, '0:0', 'root for the root phase, asked for explicitly');
  t.same(body.Cmd, ['copilot-bridge', 'start'], 'the bridge command only');
  t.same(
    body.Env.map((e: string) => e.slice(0, e.indexOf('='))),
    ['BRIDGE_SUPERVISE', 'BRIDGE_WAIT_FOR', 'BRIDGE_CONFIG_TEMPLATE', 'BRIDGE_AGENT_ENTRY', 'BRIDGE_SECRETS_SOURCE'],
    'a fixed environment',
  );
  t.ok(
    body.Env.includes('BRIDGE_SECRETS_SOURCE=1password'),
    "the stack's source of secrets, which the entrypoint never guesses",
  );
  t.equal(
    body.Env[2],
    'BRIDGE_CONFIG_TEMPLATE=/etc/copilot-bridge/agent.config.json.tpl',
    "the image's agent template",
  );
  t.same(
    JSON.parse(body.Env[3].slice('BRIDGE_AGENT_ENTRY='.length)),
    lal,
    "lal's entry of the agents file, whole: the entrypoint fills the template with it",
  );
  t.match(body.Labels['com.copilot-bridge-stack.spec'], /^[0-9a-f]{64}$/, 'its spec as a label');
  t.notOk('Healthcheck' in body, "no healthcheck of its own: the image's");
  t.notOk('Entrypoint' in body, "no entrypoint of its own: the image's");
  const host = body.HostConfig;
  t.same(host.CapAdd, ['SETUID', 'SETGID'], 'exactly SETUID and SETGID added back');
  t.same(host.CapDrop, ['ALL']);
  t.same(host.SecurityOpt, ['no-new-privileges:true']);
  t.equal(host.ReadonlyRootfs, true);
  t.same(
    host.Mounts,
    [
      { Type: 'volume', Source: 'cbs-agent-lal-home', Target: '/home/bridge' },
      {
        Type: 'bind',
        Source: '/dev/shm/copilot-bridge-stack/agent-lal',
        Target: '/run/secrets/op_sa_token',
        ReadOnly: true,
      },
    ],
    'its home at /home/bridge, its own token read-only',
  );
  t.match(
    host,
    { Memory: STACK.memoryBytes, MemorySwap: STACK.memoryBytes, PidsLimit: STACK.pids, NanoCpus: STACK.nanoCpus },
    'memory (no swap), pids and CPU limits',
  );
  t.same(host.LogConfig, { Type: 'json-file', Config: { 'max-file': '3', 'max-size': '10m' } }, 'log rotation');
  t.same(
    body.NetworkingConfig,
    { EndpointsConfig: { 'cbs_mattermost-net': { Aliases: ['lal'] } } },
    'its name as its only alias, on the one network',
  );
  t.equal(
    (agentContainer(STACK, data).body as any).HostConfig.Mounts[1].Source,
    '/dev/shm/copilot-bridge-stack/op-sa-token',
    'data has no token of its own: the shared one',
  );
  t.throws(() => agentContainer({ ...STACK, released: [] }, lal), {
    code: 'agent-token',
    exitCode: 66,
    message: /no released token for lal: seal one with `npm run seal -- --name agent-lal`/,
  });
  t.throws(() => agentContainer({ ...STACK, secretsDir: undefined }, lal), { code: 'agent-token', exitCode: 78 });
  t.throws(() => agentContainer(STACK, { ...lal, name: 'cbs-mattermost-1' }), {
    code: 'agent-name',
    message: /starts with the project's name/,
  });
});

t.test('the stack settings: from the environment, each bad value named', async (t) => {
  const env = {
    COMPOSE_PROJECT_NAME: 'cbs',
    AGENT_IMAGE: 'img:1',
    COPILOT_BRIDGE_SECRETS_DIR: '/dev/shm/x',
    COPILOT_BRIDGE_RELEASED: 'op-sa-token, agent-lal',
  };
  t.match(
    readAgentStack(env),
    {
      project: 'cbs',
      image: 'img:1',
      network: 'cbs_mattermost-net',
      memoryBytes: 1 << 30,
      pids: 512,
      nanoCpus: 1e9,
      logMaxSize: '10m',
      logMaxFile: 3,
      secretsDir: '/dev/shm/x',
      released: ['op-sa-token', 'agent-lal'],
    },
    'defaults',
  );
  t.match(
    readAgentStack({
      ...env,
      AGENT_MEMORY: '512m',
      AGENT_PIDS: '64',
      AGENT_CPUS: '0.5',
      AGENT_LOG_MAX_SIZE: '1m',
      AGENT_LOG_MAX_FILE: '2',
    }),
    { memoryBytes: 512 << 20, pids: 64, nanoCpus: 5e8, logMaxSize: '1m', logMaxFile: 2 },
  );
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ COMPOSE_PROJECT_NAME: 'Bad Name' }, /COMPOSE_PROJECT_NAME/],
    [{ AGENT_IMAGE: '' }, /AGENT_IMAGE/],
    [{ AGENT_MEMORY: '1t' }, /AGENT_MEMORY must be a size/],
    [{ AGENT_MEMORY: '1k' }, /at least 6m/],
    [{ AGENT_PIDS: '-1' }, /AGENT_PIDS must be a positive whole number/],
    [{ AGENT_CPUS: '0' }, /AGENT_CPUS/],
    [{ AGENT_CPUS: 'all' }, /AGENT_CPUS/],
    [{ AGENT_LOG_MAX_SIZE: '10' }, /AGENT_LOG_MAX_SIZE/],
    [{ AGENT_LOG_MAX_FILE: '0' }, /AGENT_LOG_MAX_FILE/],
    [{ COPILOT_BRIDGE_SECRETS_DIR: 'relative' }, /COPILOT_BRIDGE_SECRETS_DIR must be an absolute path/],
  ];
  for (const [patch, message] of bad)
    t.throws(
      () => readAgentStack({ ...env, ...patch }),
      { code: 'agent-settings', exitCode: 78, message },
      JSON.stringify(patch),
    );
});

t.test('the agents file: clear errors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cbs-agents-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'agents.json');
  t.throws(() => readAgentsFile(file), {
    code: 'agents-file',
    exitCode: 66,
    message: /does not exist; create it from agents.example.json/,
  });
  writeFileSync(file, '{ nope');
  t.throws(() => readAgentsFile(file), { exitCode: 65, message: /is not valid JSON/ });
  // A FIFO at the path (no writer): refused at once, where a blocking read would wait for ever.
  const fifo = join(dir, 'fifo.json');
  execFileSync('mkfifo', [fifo]);
  t.throws(() => readAgentsFile(fifo), {
    code: 'agents-file',
    exitCode: 78,
    message: `${fifo} is not a regular file; point AGENTS_FILE at the agents file itself`,
  });
  t.throws(() => readAdminEntry(dir), {
    exitCode: 78,
    message: `${dir} is not a regular file; point AGENTS_FILE at the agents file itself`,
  });
  writeFileSync(file, JSON.stringify({ agents: [{ ...lal, name: 'Bad Name' }] }));
  t.throws(() => readAgentsFile(file), { exitCode: 78, message: /agents\[0\]\.name must be lower-case/ });
  writeFileSync(file, JSON.stringify({ agents: [{ ...lal, botTokenItem: 'token-in-clear' }] }));
  t.throws(() => readAgentsFile(file), {
    exitCode: 78,
    message:
      /botTokenItem must be op:\/\/VAULT\/ITEM: the 1Password item whose field 'token' holds the bot's Mattermost token/,
  });
  writeFileSync(file, JSON.stringify({ agents: [{ ...lal, githubTokenItem: undefined }] }));
  t.throws(() => readAgentsFile(file), {
    exitCode: 78,
    message:
      /agents\[0\]\.githubTokenItem must be op:\/\/VAULT\/ITEM: the 1Password item whose field 'token' holds a GitHub token with Copilot access/,
  });
  writeFileSync(file, JSON.stringify({ admin: { ...lal, githubTokenItem: 'ghp_in_clear' }, agents: [] }));
  t.throws(
    () => readAdminEntry(file),
    { exitCode: 78, message: /^admin\.githubTokenItem must be/ },
    'the admin entry is checked the same way',
  );
  t.same(readAgentsFile(file), [], 'a bad admin entry does not stop the agents');
  writeFileSync(
    file,
    JSON.stringify({ admin: { ...lal, name: 'ignored' }, agents: [{ ...data, botTokenItem: 'token-in-clear' }] }),
  );
  t.match(
    readAdminEntry(file),
    { name: 'admin', botTokenItem: lal.botTokenItem },
    "the admin entry's name is admin, whatever it says",
  );
  t.throws(
    () => readAgentsFile(file),
    { exitCode: 78, message: /agents\[0\]\.botTokenItem/ },
    'while a bad agent entry is refused when agents are read',
  );
  writeFileSync(file, JSON.stringify({ agents: [] }));
  t.equal(readAdminEntry(file), undefined, 'a file without an admin entry has none');
  writeFileSync(file, JSON.stringify({ agents: [{ ...lal, name: 'admin' }] }));
  t.throws(
    () => readAgentsFile(file),
    { exitCode: 78, message: /agents\[0\]\.name 'admin' is reserved/ },
    'no agent may be called admin',
  );
  for (const name of ['mattermost', 'postgres', 'copilot-bridge', 'socket-proxy', 'localhost']) {
    writeFileSync(file, JSON.stringify({ agents: [{ ...lal, name }] }));
    t.throws(
      () => readAgentsFile(file),
      { exitCode: 78, message: new RegExp(`agents\\[0\\]\\.name '${name}' is reserved`) },
      `${name} is reserved`,
    );
  }
  writeFileSync(file, JSON.stringify({ agents: [lal, { ...data, name: 'lal' }] }));
  t.throws(() => readAgentsFile(file), { exitCode: 78, message: /agents\[1\]\.name 'lal' is listed twice/ });
  for (const [where, patch] of [
    ['channels[0].name', { channels: [{ id: 'a', name: '{{ op://stack/other/token }}' }] }],
    ['persona', { persona: 'op://stack/other/token' }],
    ['users[0]', { users: ['}}'] }],
  ] as const) {
    writeFileSync(file, JSON.stringify({ agents: [{ ...lal, ...patch }] }));
    t.throws(
      () => readAgentsFile(file),
      {
        exitCode: 78,
        message: `agents[0].${where} must not contain '{{', '}}' or 'op://'; only botTokenItem and githubTokenItem name 1Password items`,
      },
      `${where}: no reference of its own`,
    );
  }
  writeFileSync(file, JSON.stringify({ agents: [{ ...lal, users: 'ray' }] }));
  t.throws(() => readAgentsFile(file), { exitCode: 78, message: /users must be a list/ });
  // An allow list of fields at each level: a misspelt one is named, not passed over as if it were not there.
  for (const [json, message] of [
    [
      { agents: [{ ...lal, modle: 'gpt-5' }] },
      "agents[0] has a field 'modle' this file does not know (a typo?); its fields are name, botTokenItem, githubTokenItem, persona, model, channels, users",
    ],
    [
      { agents: [{ ...lal, channels: [{ ...lal.channels[0], bot: 'lal' }] }] },
      "agents[0].channels[0] has a field 'bot' this file does not know (a typo?); its fields are id, name",
    ],
    [
      { agent: [lal] },
      `${file} has a field 'agent' this file does not know (a typo?); its fields are admin, agents, $comment, $schema`,
    ],
    [
      { agents: [{ ...lal, channels: [{ id: 'town-square', name: 'town-square' }] }] },
      "agents[0].channels[0].id must be Mattermost's channel id, 26 lower-case letters and digits (in Mattermost: the channel's name, then View Info; or npm run init fills it)",
    ],
  ] as const) {
    writeFileSync(file, JSON.stringify(json));
    t.throws(() => readAgentsFile(file), { exitCode: 78, message }, String(message.split(';')[0]));
  }
  // A value pasted where a field's name goes (a token) is not printed in the refusal.
  const pasted = 'a-value-pasted-where-a-field-name-goes-0123456789';
  writeFileSync(file, JSON.stringify({ agents: [{ ...lal, [pasted]: true }] }));
  t.throws(() => readAgentsFile(file), {
    exitCode: 78,
    message: `agents[0] has a field (not shown: ${pasted.length} characters that are no field name) this file does not know (a typo?); its fields are name, botTokenItem, githubTokenItem, persona, model, channels, users`,
  });
  writeFileSync(file, JSON.stringify({ $comment: 'mine', agents: [lal] }));
  t.equal(readAgentsFile(file).length, 1, 'a $comment is no field of the agents');
  writeFileSync(file, JSON.stringify({ agents: [lal] }));
  t.equal(findAgent(readAgentsFile(file), 'lal').name, 'lal');
  t.throws(() => findAgent(readAgentsFile(file), 'data'), {
    exitCode: 64,
    message: /no agent named data in the agents file; known: lal/,
  });
});
