// The create policy compares, it does not interpret: a create passes only when
// the client's body is the one the builder makes for the agent named, read as
// the daemon reads JSON (struct field names folded as Go folds them, map keys
// exact), and what is forwarded is the builder's body. Shown here: the
// hostile client's rows from issue 9, every field of the builder's body
// changed or removed one at a time, Docker fields it does not emit added one
// at a time, and random mutations by property.
import fc from 'fast-check';
import t from 'tap';
import {
  type AgentPolicy,
  agentFromContainerName,
  reviewCreateBody,
  reviewVolumeBody,
} from '../../socket-guard/policy/create-policy.js';
import { Refusal } from '../../socket-guard/policy/refusal.js';
import { parseStrictJson } from '../../socket-guard/policy/strict-json.js';
import { readAgentsFile } from '../../src/agents/agents-file.js';
import { agentContainer } from '../../src/agents/container-spec.js';
import { AGENT_LABEL, PROJECT_LABEL } from '../../src/contract.js';
import { AGENTS, agentPolicy, SECRETS_DIR, STACK } from '../support/agent-stack.js';
import { runs } from '../support/runs.js';

type Body = Record<string, any>;
const policy: AgentPolicy = agentPolicy(t);

/** What the builder makes for `agent` (a fresh copy each call). */
const spec = (agent = 'lal') => agentContainer(STACK, readAgentsFile(policy.agentsFile).find((a) => a.name === agent)!);
const body = (agent = 'lal'): Body => spec(agent).body as Body;
const send = (sent: unknown, agent = 'lal') =>
  reviewCreateBody(policy, agent, parseStrictJson(typeof sent === 'string' ? sent : JSON.stringify(sent)));

/** The rule and message of a refusal, or 'passed'. */
function verdict(run: () => unknown): { rule: string; message: string } | 'passed' {
  try {
    run();
    return 'passed';
  } catch (error) {
    if (error instanceof Refusal) return { rule: error.rule, message: error.message };
    throw error;
  }
}

const patched = (patch: (b: Body) => void, agent = 'lal'): Body => {
  const b = body(agent);
  patch(b);
  return b;
};

t.test("the builder's body passes, and the builder's body is what goes on", async (t) => {
  for (const agent of ['lal', 'data']) {
    t.same(JSON.parse(send(body(agent), agent).toString()), body(agent), `${agent}: forwarded as built`);
  }
  const folded = JSON.stringify(body())
    .replace('"ReadonlyRootfs"', '"readonlyrootfs"')
    .replace('"Image"', '"\\u0049MAGE"')
    .replace('"Cmd"', '"CMD"')
    .replace('"Mounts"', '"mounts"');
  t.same(
    JSON.parse(send(folded).toString()),
    body(),
    'keys the daemon folds to the same field pass, and go on under its spelling',
  );
  const reordered = Object.fromEntries(Object.entries(body()).reverse());
  t.same(JSON.parse(send(reordered).toString()), body(), 'key order does not matter');
  t.equal(body('lal').HostConfig.Mounts[1].Source, `${SECRETS_DIR}/agent-lal`, 'lal gets its own released token');
  t.equal(
    body('data').HostConfig.Mounts[1].Source,
    `${SECRETS_DIR}/op-sa-token`,
    'data, with none of its own, the shared one',
  );
});

// Issue 9's attacks, as the hostile client sent them; each refused, naming the first differing path.
const attacks: Array<[string, unknown, string, RegExp]> = [
  [
    'row 1: CapAdd DAC_READ_SEARCH',
    patched((b) => b.HostConfig.CapAdd.push('DAC_READ_SEARCH')),
    'lal',
    /\$\.HostConfig\.CapAdd has 3 entries/,
  ],
  [
    'row 1: CAP_DAC_READ_SEARCH in place of SETGID',
    patched((b) => (b.HostConfig.CapAdd[1] = 'CAP_DAC_READ_SEARCH')),
    'lal',
    /\$\.HostConfig\.CapAdd\[1\] differs/,
  ],
  [
    'row 2: NODE_OPTIONS with an --import payload',
    patched((b) => b.Env.push('NODE_OPTIONS=--import=data:text/javascript;base64,Y29uc29sZS5sb2coMSk=')),
    'lal',
    /\$\.Env has 6 entries/,
  ],
  [
    'row 2: LD_PRELOAD from the agent volume',
    patched((b) => (b.Env[0] = 'LD_PRELOAD=/home/bridge/evil.so')),
    'lal',
    /\$\.Env\[0\] differs/,
  ],
  [
    'row 3: a healthcheck that prints the token',
    { ...body(), Healthcheck: { Test: ['CMD-SHELL', 'base64 -w0 /run/secrets/op_sa_token'] } },
    'lal',
    /\$\.Healthcheck is not part of the spec/,
  ],
  [
    'row 4: PATH with a planted op',
    patched((b) => b.Env.push('PATH=/home/bridge/bin:/usr/bin:/bin')),
    'lal',
    /\$\.Env has 6 entries/,
  ],
  [
    'row 4: the home volume mounted over /usr/local/sbin',
    patched((b) => (b.HostConfig.Mounts[0].Target = '/usr/local/sbin')),
    'lal',
    /\$\.HostConfig\.Mounts\[0\]\.Target differs/,
  ],
  ['row 5: a free command', { ...body(), Cmd: ['cat', '/tmp/config.json'] }, 'lal', /\$\.Cmd\[0\] differs/],
  [
    'row 5: rev to get past the redactor',
    { ...body(), Cmd: ['sh', '-c', 'rev /tmp/config.json'] },
    'lal',
    /\$\.Cmd has 3 entries/,
  ],
  [
    'row 5: a template naming another item',
    patched((b) => b.Env.push('BRIDGE_CONFIG_TEMPLATE_TEXT={"x":"{{ op://stack/mattermost-data/token }}"}')),
    'lal',
    /\$\.Env has 6 entries/,
  ],
  [
    "row 5: another entry, naming data's items",
    patched(
      (b) =>
        (b.Env[3] = `BRIDGE_AGENT_ENTRY=${JSON.stringify({ ...AGENTS[0], botTokenItem: 'op://stack/mattermost-data' })}`),
    ),
    'lal',
    /\$\.Env\[3\] differs/,
  ],
  [
    'another template file',
    patched((b) => (b.Env[2] = 'BRIDGE_CONFIG_TEMPLATE=/home/bridge/evil.tpl')),
    'lal',
    /\$\.Env\[2\] differs/,
  ],
  [
    "row 6: data's name with lal's token",
    patched((b) => (b.HostConfig.Mounts[1].Source = `${SECRETS_DIR}/agent-lal`), 'data'),
    'data',
    /\$\.HostConfig\.Mounts\[1\]\.Source differs/,
  ],
  ["row 6: lal's body under data's name", body('lal'), 'data', /differs|has \d+ entries/],
  [
    'row 6: another released file bound as the token',
    patched((b) => (b.HostConfig.Mounts[1].Source = `${SECRETS_DIR}/agent-data`)),
    'lal',
    /Mounts\[1\]\.Source differs/,
  ],
  [
    'row 7: alias mattermost',
    patched((b) => b.NetworkingConfig.EndpointsConfig[STACK.network].Aliases.push('mattermost')),
    'lal',
    /Aliases has 2 entries/,
  ],
  [
    'row 7: alias mattermost in place of lal',
    patched((b) => (b.NetworkingConfig.EndpointsConfig[STACK.network].Aliases = ['mattermost'])),
    'lal',
    /Aliases\[0\] differs/,
  ],
  ['row 9: no CPU limit', patched((b) => delete b.HostConfig.NanoCpus), 'lal', /\$\.HostConfig\.NanoCpus is missing/],
  [
    'row 9: no log rotation',
    patched((b) => (b.HostConfig.LogConfig = { Type: 'json-file', Config: {} })),
    'lal',
    /LogConfig\.Config\["max-file"\] is missing|LogConfig\.Config\["max-size"\] is missing/,
  ],
  [
    'row 9: log size raised',
    patched((b) => (b.HostConfig.LogConfig.Config['max-size'] = '100g')),
    'lal',
    /LogConfig\.Config\["max-size"\] differs/,
  ],
  [
    'privileged',
    patched((b) => (b.HostConfig.Privileged = true)),
    'lal',
    /\$\.HostConfig\.Privileged is not part of the spec/,
  ],
  [
    'privileged with a \\u-escaped key',
    JSON.stringify(body()).replace('"ReadonlyRootfs":true', '"ReadonlyRootfs":true,"\\u0050rivileged":true'),
    'lal',
    /\$\.HostConfig\.Privileged is not part of the spec/,
  ],
  [
    'binds with a long s',
    JSON.stringify(body()).replace('"ReadonlyRootfs":true', '"ReadonlyRootfs":true,"Bind\u017f":["/:/host"]'),
    'lal',
    /is not part of the spec/,
  ],
  [
    'case-variant duplicate key',
    JSON.stringify(body()).replace('"ReadonlyRootfs":true', '"ReadonlyRootfs":true,"readonlyrootfs":false'),
    'lal',
    /\$\.HostConfig\.ReadonlyRootfs is given twice/,
  ],
  ['User root by name', { ...body(), User: 'root' }, 'lal', /\$\.User differs/],
  ['User bridge (no root phase)', { ...body(), User: 'bridge' }, 'lal', /\$\.User differs/],
  [
    'Labels of another agent',
    patched((b) => (b.Labels[AGENT_LABEL] = 'data')),
    'lal',
    /\$\.Labels\["com\.copilot-bridge-stack\.agent"\] differs/,
  ],
  [
    'a label key differing only in case',
    patched((b) => {
      b.Labels['COM.COPILOT-BRIDGE-STACK.PROJECT'] = b.Labels[PROJECT_LABEL];
      delete b.Labels[PROJECT_LABEL];
    }),
    'lal',
    /\$\.Labels\["COM\.COPILOT-BRIDGE-STACK\.PROJECT"\] is not part of the spec/,
  ],
  [
    'a second network',
    patched((b) => (b.NetworkingConfig.EndpointsConfig['cbs_socket-proxy-net'] = {})),
    'lal',
    /EndpointsConfig\["cbs_socket-proxy-net"\] is not part of the spec/,
  ],
  [
    'a tmpfs over /etc',
    patched((b) => (b.HostConfig.Tmpfs['/etc'] = 'size=1m')),
    'lal',
    /Tmpfs\["\/etc"\] is not part of the spec/,
  ],
  ['the body is a list', [body()], 'lal', /\$ is not an object/],
  ['the body is empty', {}, 'lal', /\$\.Image is missing/],
];

t.test(
  "issue 9's attacks are refused as not-the-agent-spec, naming the first differing path and no value",
  async (t) => {
    for (const [what, sent, agent, where] of attacks) {
      const result = verdict(() => send(sent, agent));
      t.match(result, { rule: 'not-the-agent-spec', message: where }, what);
      if (result !== 'passed') {
        t.notMatch(
          result.message,
          /base64|mattermost-data\/token|\/home\/bridge\/evil|100g|DAC_READ/,
          `${what}: the message holds no value the client sent`,
        );
        t.match(
          result.message,
          /start agents with `agent up \w+` \(`agent spec \w+` prints the body\)$/,
          `${what}: and says what to do`,
        );
      }
    }
  },
);

/** Every leaf of a JSON value: [path as keys and indices, value]. */
function leaves(value: unknown, path: Array<string | number> = []): Array<[Array<string | number>, unknown]> {
  if (Array.isArray(value)) return value.flatMap((v, i) => leaves(v, [...path, i]));
  if (value !== null && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => leaves(v, [...path, k]));
  return [[path, value]];
}

function setAt(target: any, path: Array<string | number>, change: (parent: any, key: string | number) => void): void {
  let at = target;
  for (const key of path.slice(0, -1)) at = at[key];
  change(at, path.at(-1)!);
}

const changed = (value: unknown): unknown =>
  typeof value === 'string'
    ? `${value}x`
    : typeof value === 'number'
      ? value + 1
      : typeof value === 'boolean'
        ? !value
        : 'x';

t.test("every field of the builder's body, changed or removed one at a time, is refused", async (t) => {
  const all = leaves(body());
  t.ok(all.length >= 30, `${all.length} leaves`);
  for (const [path, value] of all) {
    const changedBody = body();
    setAt(changedBody, path, (parent, key) => (parent[key] = changed(value)));
    t.match(
      verdict(() => send(changedBody)),
      { rule: 'not-the-agent-spec' },
      `${path.join('.')} changed`,
    );
    const removed = body();
    setAt(removed, path, (parent, key) => (Array.isArray(parent) ? parent.splice(Number(key), 1) : delete parent[key]));
    t.match(
      verdict(() => send(removed)),
      { rule: 'not-the-agent-spec' },
      `${path.join('.')} removed`,
    );
  }
});

// Docker fields the builder never emits, each added at the level the daemon reads it.
const notEmitted: Array<[string, string, unknown]> = [
  ['', 'Entrypoint', ['/bin/sh']],
  ['', 'Healthcheck', { Test: ['NONE'] }],
  ['', 'WorkingDir', '/'],
  ['', 'Hostname', 'mattermost'],
  ['', 'Domainname', 'x'],
  ['', 'ExposedPorts', { '22/tcp': {} }],
  ['', 'Volumes', { '/data': {} }],
  ['', 'StopSignal', 'SIGKILL'],
  ['', 'StopTimeout', 0],
  ['', 'Shell', ['/bin/sh']],
  ['', 'OnBuild', []],
  ['', 'Tty', true],
  ['', 'OpenStdin', true],
  ['', 'AttachStdin', true],
  ['', 'NetworkDisabled', false],
  ['', 'MacAddress', '02:42:ac:11:00:02'],
  ['', 'ArgsEscaped', false],
  ['HostConfig', 'Privileged', false],
  ['HostConfig', 'Binds', ['/:/host']],
  ['HostConfig', 'VolumesFrom', ['x']],
  ['HostConfig', 'Links', ['postgres:db']],
  ['HostConfig', 'Devices', []],
  ['HostConfig', 'DeviceRequests', []],
  ['HostConfig', 'DeviceCgroupRules', ['a *:* rwm']],
  ['HostConfig', 'PidMode', 'host'],
  ['HostConfig', 'IpcMode', 'host'],
  ['HostConfig', 'UTSMode', 'host'],
  ['HostConfig', 'UsernsMode', 'host'],
  ['HostConfig', 'CgroupnsMode', 'host'],
  ['HostConfig', 'CgroupParent', '/'],
  ['HostConfig', 'PortBindings', {}],
  ['HostConfig', 'PublishAllPorts', true],
  ['HostConfig', 'ExtraHosts', ['mattermost:10.0.0.1']],
  ['HostConfig', 'Dns', ['1.1.1.1']],
  ['HostConfig', 'DnsSearch', ['x']],
  ['HostConfig', 'Runtime', 'runc'],
  ['HostConfig', 'Sysctls', {}],
  ['HostConfig', 'OomKillDisable', true],
  ['HostConfig', 'OomScoreAdj', -1000],
  ['HostConfig', 'MaskedPaths', []],
  ['HostConfig', 'ReadonlyPaths', []],
  ['HostConfig', 'ShmSize', 1],
  ['HostConfig', 'CpuShares', 1024],
  ['HostConfig', 'CpusetCpus', '0'],
  ['HostConfig', 'BlkioWeight', 10],
  ['HostConfig', 'AutoRemove', true],
  ['HostConfig', 'VolumeDriver', 'local'],
  ['HostConfig', 'GroupAdd', ['0']],
  ['HostConfig', 'StorageOpt', {}],
  ['HostConfig', 'Isolation', 'default'],
  ['HostConfig', 'KernelMemory', 0],
  ['HostConfig', 'MemoryReservation', 0],
  ['HostConfig', 'Annotations', {}],
  ['HostConfig.LogConfig', 'Labels', 'x'],
  ['HostConfig.RestartPolicy', 'Extra', 1],
  [
    'HostConfig.Mounts.0',
    'VolumeOptions',
    { DriverConfig: { Name: 'local', Options: { type: 'none', o: 'bind', device: '/' } } },
  ],
  ['HostConfig.Mounts.1', 'BindOptions', { Propagation: 'rshared' }],
  ['HostConfig.Mounts.0', 'Consistency', 'cached'],
  [`NetworkingConfig.EndpointsConfig.${STACK.network}`, 'IPAMConfig', { IPv4Address: '10.0.0.9' }],
  [`NetworkingConfig.EndpointsConfig.${STACK.network}`, 'Links', ['x']],
];

t.test('Docker fields the builder does not emit, added one at a time, are refused', async (t) => {
  t.ok(notEmitted.length >= 30, `${notEmitted.length} fields`);
  for (const [where, key, value] of notEmitted) {
    const b = body();
    let at: any = b;
    for (const part of where ? where.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)) : []) at = at[part];
    at[key] = value;
    t.match(
      verdict(() => send(b)),
      { rule: 'not-the-agent-spec', message: /is not part of the spec/ },
      `${where || '$'}.${key} added`,
    );
  }
});

t.test('names: only listed agents, never a reserved one', async (t) => {
  t.match(
    verdict(() => send(body(), 'ghost')),
    { rule: 'unknown-agent', message: /ghost is not in the agents file/ },
    'an agent not in the file',
  );
  for (const name of ['mattermost', 'postgres', 'copilot-bridge', 'socket-proxy', 'localhost', 'host', 'none']) {
    t.match(
      verdict(() => agentFromContainerName('cbs', `cbs-agent-${name}`)),
      { rule: 'reserved-name' },
      `${name} is reserved`,
    );
  }
  for (const name of [
    null,
    'cbs-agent-',
    'cbs-agent-Lal',
    'cbs-agent-lal_x',
    'other-agent-lal',
    'cbs-agent-../x',
    `cbs-agent-${'a'.repeat(32)}`,
  ]) {
    t.match(
      verdict(() => agentFromContainerName('cbs', name)),
      { rule: 'container-name' },
      `${name}: refused`,
    );
  }
  t.equal(agentFromContainerName('cbs', 'cbs-agent-lal'), 'lal');
  const broken = agentPolicy(t, [{ ...AGENTS[0]!, name: 'mattermost' }]);
  t.match(
    verdict(() => reviewCreateBody(broken, 'lal', parseStrictJson(JSON.stringify(body())))),
    { rule: 'agents-file', message: /reserved/ },
    'an agents file naming a reserved agent is refused whole',
  );
  const noToken = { ...policy, stack: { ...STACK, released: ['agent-data'] } };
  t.match(
    verdict(() => reviewCreateBody(noToken, 'lal', parseStrictJson(JSON.stringify(body())))),
    { rule: 'agent-token', message: /no released token for lal/ },
    'no released token: nothing to build, refused',
  );
});

t.test("the home volume: only a listed agent's, exactly as built", async (t) => {
  const volume = (agent = 'lal') => spec(agent).volumeBody as Body;
  const sendVolume = (sent: unknown) => verdict(() => reviewVolumeBody(policy, parseStrictJson(JSON.stringify(sent))));
  t.equal(sendVolume(volume()), 'passed', 'the built body passes');
  t.same(
    JSON.parse(
      reviewVolumeBody(
        policy,
        parseStrictJson(JSON.stringify({ name: 'cbs-agent-lal-home', driver: 'local', labels: volume().Labels })),
      ).toString(),
    ),
    volume(),
    'folded keys pass, forwarded as built',
  );
  t.match(
    sendVolume({ ...volume(), DriverOpts: { type: 'none', o: 'bind', device: '/' } }),
    { rule: 'not-the-agent-spec', message: /\$\.DriverOpts is not part of the spec/ },
    'a bind in disguise',
  );
  t.match(
    sendVolume({ ...volume(), Driver: 'nfs' }),
    { rule: 'not-the-agent-spec', message: /\$\.Driver differs/ },
    'another driver',
  );
  t.match(sendVolume({ ...volume(), Labels: {} }), { rule: 'not-the-agent-spec' }, 'no labels');
  t.match(
    sendVolume({ ...volume(), Name: 'cbs-agent-ghost-home' }),
    { rule: 'unknown-agent' },
    'an agent not in the file',
  );
  t.match(
    sendVolume({ ...volume(), Name: 'cbs-postgres-data' }),
    { rule: 'volume-name' },
    'a volume that is not an agent home',
  );
  t.equal(sendVolume(volume('data')), 'passed', "data's home passes too");
  t.match(
    sendVolume({ ...volume(), Name: 'cbs-agent-lal-home', Labels: { ...volume().Labels, [AGENT_LABEL]: 'x' } }),
    { rule: 'not-the-agent-spec', message: /\$\.Labels\["com\.copilot-bridge-stack\.agent"\] is not part of the spec/ },
    'an extra label',
  );
});

t.test('a hostile name or volume body: refused with the rule and the exact message', async (t) => {
  const badName = {
    rule: 'container-name',
    message: 'agent containers must be named cbs-agent-NAME (lower-case letters, digits, dashes)',
  };
  for (const name of [
    null,
    '',
    'cbs-postgres-1',
    'cbs-agentlal',
    'lal',
    'xcbs-agent-lal',
    'CBS-agent-lal',
    'cbs-agent-',
  ]) {
    t.same(
      verdict(() => agentFromContainerName('cbs', name)),
      badName,
      `${JSON.stringify(name)}: refused`,
    );
  }
  t.same(
    verdict(() => agentFromContainerName('cbs', 'cbs-agent-host-gateway')),
    {
      rule: 'reserved-name',
      message: 'host-gateway is reserved for the stack or by Docker; it cannot be an agent',
    },
  );
  t.equal(agentFromContainerName('cbs', 'cbs-agent-cbs-agent-x'), 'cbs-agent-x', 'the prefix is taken once');
  t.same(
    verdict(() => send(body(), 'ghost')),
    { rule: 'unknown-agent', message: 'ghost is not in the agents file; only listed agents may be created' },
    'an agent not in the file',
  );

  const volume = (agent = 'lal') => spec(agent).volumeBody as Body;
  const sendVolume = (sent: unknown) =>
    verdict(() => reviewVolumeBody(policy, parseStrictJson(typeof sent === 'string' ? sent : JSON.stringify(sent))));
  const wrongName = {
    rule: 'volume-name',
    message: '$.Name must be cbs-agent-NAME-home for an agent NAME of the agents file',
  };
  const { Name: _name, ...unnamed } = volume();
  for (const [label, sent] of [
    ['no Name', unnamed],
    ['an empty object', {}],
    ['Name a number', { ...unnamed, Name: 5 }],
    ['Name a list', { ...unnamed, Name: ['cbs-agent-lal-home'] }],
    ['Name an object', { ...unnamed, Name: { 'cbs-agent-lal-home': true } }],
    ['Name null', { ...unnamed, Name: null }],
    ["another project's agent home", { ...unnamed, Name: 'other-agent-lal-home' }],
    ['not a home', { ...unnamed, Name: 'cbs-agent-lal' }],
    ['a list body', [volume()]],
    ['a string body', '"cbs-agent-lal-home"'],
    ['null', null],
  ] as const) {
    t.same(sendVolume(sent), wrongName, label);
  }
  const reordered = { ...unnamed, Name: 'cbs-agent-lal-home' };
  t.not(Object.keys(reordered)[0], 'Name', 'the Name is not the first key');
  t.equal(sendVolume(reordered), 'passed', 'the Name found wherever it is in the object');
  t.equal(sendVolume({ ...unnamed, nAmE: 'cbs-agent-lal-home' }), 'passed', 'and in any case, as Go matches fields');
});

t.test("a fault in the guard's own code stays an error: it is not dressed up as a policy refusal", async (t) => {
  const broken = { ...policy, stack: { ...STACK, released: undefined as unknown as string[] } };
  let thrown: unknown;
  try {
    reviewCreateBody(broken, 'lal', parseStrictJson(JSON.stringify(body())));
  } catch (error) {
    thrown = error;
  }
  t.ok(thrown instanceof TypeError, 'the TypeError itself');
  t.notOk(thrown instanceof Refusal, 'no refusal with an invented rule');
});

// Mutations for the property, applied in place; some leave the body the same for the daemon (case of struct keys, key
// order).
type Mutation = (b: Body) => void;
/** A struct field whatever its case (an earlier step may have renamed it); undefined once removed. */
const field = (object: any, name: string): any =>
  object && typeof object === 'object'
    ? object[Object.keys(object).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name]
    : undefined;
const dig = (object: any, ...names: string[]): any => names.reduce((at, name) => field(at, name), object);
const objects = (list: any[]) => list.filter((o) => o && typeof o === 'object' && !Array.isArray(o));
const STRUCT_OBJECTS = (b: Body): any[] =>
  objects([
    b,
    dig(b, 'HostConfig'),
    dig(b, 'HostConfig', 'RestartPolicy'),
    dig(b, 'HostConfig', 'LogConfig'),
    dig(b, 'HostConfig', 'Ulimits')?.[0],
    ...(dig(b, 'HostConfig', 'Mounts') ?? []),
    dig(b, 'NetworkingConfig'),
    dig(b, 'NetworkingConfig', 'EndpointsConfig')?.[STACK.network],
  ]);
const MAP_OBJECTS = (b: Body): any[] =>
  objects([
    dig(b, 'Labels'),
    dig(b, 'HostConfig', 'Tmpfs'),
    dig(b, 'HostConfig', 'LogConfig', 'Config'),
    dig(b, 'NetworkingConfig', 'EndpointsConfig'),
  ]).filter((o) => Object.keys(o).length > 0);
const asciiCase = (key: string, seed: number) =>
  [...key].map((c, i) => ((seed >> (i % 16)) & 1 ? c.toUpperCase() : c.toLowerCase())).join('');

function mutation(kind: number, pick: number, seed: number): Mutation {
  return (b) => {
    const structs = STRUCT_OBJECTS(b);
    const maps = MAP_OBJECTS(b);
    const leafList = leaves(b);
    switch (kind) {
      case 0: {
        // a struct key in another ASCII case: the same field for Go
        const object = structs[pick % structs.length];
        const keys = Object.keys(object);
        if (keys.length === 0) return;
        const key = keys[seed % keys.length]!;
        const renamed = asciiCase(key, seed);
        if (renamed === key) return;
        const value = object[key];
        delete object[key];
        object[renamed] = value;
        return;
      }
      case 1: {
        // a map key in another case: another key
        if (maps.length === 0) return;
        const object = maps[pick % maps.length];
        const key = Object.keys(object)[seed % Object.keys(object).length]!;
        const renamed = key.toUpperCase() === key ? key.toLowerCase() : key.toUpperCase();
        if (renamed === key) return;
        const value = object[key];
        delete object[key];
        object[renamed] = value;
        return;
      }
      case 2: {
        // a leaf changed
        if (leafList.length === 0) return;
        const [path, value] = leafList[pick % leafList.length]!;
        setAt(b, path, (parent, key) => (parent[key] = changed(value)));
        return;
      }
      case 3: {
        // a leaf removed
        if (leafList.length === 0) return;
        const [path] = leafList[pick % leafList.length]!;
        setAt(b, path, (parent, key) => (Array.isArray(parent) ? parent.splice(Number(key), 1) : delete parent[key]));
        return;
      }
      case 4: {
        // a field added to a struct
        const object = structs[pick % structs.length];
        object[`Extra${seed % 7}`] = seed % 2 ? true : 'x';
        return;
      }
      case 5: {
        // keys reordered: nothing changes
        const object = [...structs, ...maps][pick % (structs.length + maps.length)];
        const entries = Object.entries(object).reverse();
        for (const [key] of entries) delete object[key];
        for (const [key, value] of entries) object[key] = value;
        return;
      }
      default: {
        // a list entry duplicated
        const lists = [
          dig(b, 'Cmd'),
          dig(b, 'Env'),
          dig(b, 'HostConfig', 'CapAdd'),
          dig(b, 'HostConfig', 'CapDrop'),
          dig(b, 'HostConfig', 'Mounts'),
          dig(b, 'HostConfig', 'SecurityOpt'),
        ].filter((l) => Array.isArray(l) && l.length > 0);
        if (lists.length === 0) return;
        const list = lists[pick % lists.length];
        list.push(list[seed % list.length]);
        return;
      }
    }
  };
}

/**
 * The test's own reading of a body as the daemon would: struct keys matched
 * to the built body's field names ignoring ASCII case (the mutations change
 * no other letters), map keys exactly. Undefined when two keys name one field.
 */
const MAP_PATHS = new Set([
  'Labels',
  'HostConfig.Tmpfs',
  'HostConfig.LogConfig.Config',
  'NetworkingConfig.EndpointsConfig',
]);
function asDaemonReads(value: unknown, like: unknown, schema = ''): unknown {
  if (Array.isArray(value))
    return value.map((v, i) => asDaemonReads(v, Array.isArray(like) ? like[i] : undefined, schema));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  const isMap = MAP_PATHS.has(schema);
  for (const [key, v] of Object.entries(value)) {
    const name = isMap
      ? key
      : (Object.keys((like as object) ?? {}).find((k) => k.toLowerCase() === key.toLowerCase()) ?? key);
    if (Object.hasOwn(out, name)) return undefined;
    out[name] = asDaemonReads(
      v,
      (like as Record<string, unknown>)?.[name],
      isMap ? `${schema}.*` : schema ? `${schema}.${name}` : name,
    );
  }
  return out;
}
const sameJson = (a: unknown, b: unknown): boolean => {
  if (Array.isArray(a) || Array.isArray(b))
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const [ka, kb] = [Object.keys(a), Object.keys(b)];
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && sameJson((a as any)[k], (b as any)[k]));
  }
  return a === b;
};

t.test('property: a mutated body passes exactly when the daemon would read it as the built body', async (t) => {
  let passed = 0;
  let refused = 0;
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(6), fc.nat(1000), fc.nat(1 << 16)), { minLength: 1, maxLength: 4 }),
      (steps) => {
        const mutated = body();
        for (const [kind, pick, seed] of steps) mutation(kind, pick, seed)(mutated);
        const same = sameJson(asDaemonReads(mutated, body()), body());
        const result = verdict(() => send(mutated));
        if (same) {
          passed++;
          return result === 'passed';
        }
        refused++;
        return result !== 'passed' && result.rule === 'not-the-agent-spec';
      },
    ),
    { numRuns: runs(2000) },
  );
  const enough = runs(2000) / 20;
  t.ok(passed > enough && refused > enough, `both outcomes were exercised (${passed} same, ${refused} different)`);
});

/** Every Linux capability (capabilities(7), through CAP_CHECKPOINT_RESTORE, Linux 5.9), without its CAP_ prefix. */
const LINUX_CAPABILITIES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
  'PERFMON',
  'BPF',
  'CHECKPOINT_RESTORE',
];

t.test('capabilities: the builder adds exactly SETUID and SETGID, and every other one is refused', async (t) => {
  t.equal(LINUX_CAPABILITIES.length, 41, 'the whole list (0..40)');
  for (const agent of ['lal', 'data']) {
    t.same([...body(agent).HostConfig.CapAdd].sort(), ['SETGID', 'SETUID'], `${agent}: the exact set added`);
    t.same(body(agent).HostConfig.CapDrop, ['ALL'], `${agent}: every other one dropped`);
  }
  for (const cap of LINUX_CAPABILITIES.filter((c) => c !== 'SETUID' && c !== 'SETGID')) {
    for (const form of [cap, `CAP_${cap}`, cap.toLowerCase()]) {
      const added = verdict(() => send(patched((b) => b.HostConfig.CapAdd.push(form))));
      t.not(added, 'passed', `${form} added: refused`);
      const swapped = verdict(() => send(patched((b) => (b.HostConfig.CapAdd[0] = form))));
      t.not(swapped, 'passed', `${form} instead of SETUID: refused`);
    }
  }
  for (const all of ['ALL', 'all', 'CAP_ALL']) {
    t.not(
      verdict(() => send(patched((b) => (b.HostConfig.CapAdd = [all])))),
      'passed',
      `CapAdd [${all}]: refused`,
    );
  }
  t.not(
    verdict(() => send(patched((b) => (b.HostConfig.Privileged = true)))),
    'passed',
    'Privileged: refused',
  );
  const reordered = verdict(() => send(patched((b) => b.HostConfig.CapAdd.reverse())));
  t.equal(
    reordered === 'passed' ? 'passed' : reordered.rule,
    'not-the-agent-spec',
    'even the same two in another order are refused: the body is compared, not interpreted',
  );
});
