// The container-create policy, table-driven and by property: what it refuses,
// by rule, and that no body it allows could be read by the daemon (Go's
// case-insensitive JSON decoding) as privileged or host-mounting.
import fc from 'fast-check';
import t from 'tap';
import { AGENT_LABEL, PROJECT_LABEL, reviewCreateBody, type AgentPolicy } from '../../src/guard/create-policy.js';
import { goFold } from '../../src/guard/fields.js';
import { Refusal } from '../../src/guard/refusal.js';
import { parseStrictJson, stringifyJson } from '../../src/guard/strict-json.js';

const policy: AgentPolicy = { project: 'cbs', image: 'copilot-bridge-stack:test', network: 'cbs_mattermost-net', secretSources: ['/dev/shm/copilot-bridge-stack/agent-lal', '/dev/shm/copilot-bridge-stack/op-sa-token'] };

/** The body `agent up lal` sends. */
export function agentBody(): Record<string, any> {
  return {
    Image: policy.image,
    Env: ['BRIDGE_SUPERVISE=1', 'BRIDGE_CONFIG_TEMPLATE=/etc/copilot-bridge/agent.config.json.tpl'],
    Labels: { [AGENT_LABEL]: 'lal', [PROJECT_LABEL]: 'cbs' },
    HostConfig: {
      NetworkMode: policy.network,
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      CapAdd: ['SETUID', 'SETGID'],
      SecurityOpt: ['no-new-privileges:true'],
      Mounts: [
        { Type: 'volume', Source: 'cbs-agent-lal-home', Target: '/home/bridge' },
        { Type: 'bind', Source: '/dev/shm/copilot-bridge-stack/agent-lal', Target: '/run/secrets/op_sa_token', ReadOnly: true },
      ],
      Tmpfs: { '/tmp': 'size=64m,mode=1777' },
      Memory: 512 * 1024 * 1024,
      PidsLimit: 256,
      Init: true,
      RestartPolicy: { Name: 'unless-stopped' },
      Ulimits: [{ Name: 'core', Soft: 0, Hard: 0 }],
    },
    NetworkingConfig: { EndpointsConfig: { [policy.network]: { Aliases: ['lal'] } } },
  };
}

const check = (body: unknown, agent = 'lal') => stringifyJson(reviewCreateBody(policy, agent, parseStrictJson(typeof body === 'string' ? body : JSON.stringify(body))));
const hc = (patch: Record<string, unknown>) => {
  const body = agentBody();
  Object.assign(body.HostConfig, patch);
  return body;
};

t.test('the agent body passes, rebuilt under canonical names', async (t) => {
  t.same(JSON.parse(check(agentBody())), agentBody());
  const lower = JSON.stringify(agentBody()).replace('"ReadonlyRootfs"', '"readonlyrootfs"').replace('"Image"', '"\\u0049MAGE"');
  t.same(JSON.parse(check(lower)), agentBody(), 'keys the daemon folds are forwarded under its spelling');
});

const refusals: Array<[string, unknown, string]> = [
  ['privileged', hc({ Privileged: true }), 'privileged'],
  ['privileged, lower case', hc({ privileged: true }), 'privileged'],
  ['privileged, upper case', hc({ PRIVILEGED: true }), 'privileged'],
  ['privileged false is still not known', hc({ Privileged: false }), 'privileged'],
  ['privileged, \\u-escaped key', JSON.stringify(agentBody()).replace('"ReadonlyRootfs":true', '"ReadonlyRootfs":true,"\\u0050rivileged":true'), 'privileged'],
  ['binds of /', hc({ Binds: ['/:/host'] }), 'binds'],
  ['binds with a long s (Go folds ſ to s)', JSON.stringify(agentBody()).replace('"ReadonlyRootfs":true', '"ReadonlyRootfs":true,"Bind\u017f":["/:/host"]'), 'binds'],
  ['bind mount of /', hc({ Mounts: [{ Type: 'bind', Source: '/', Target: '/host' }] }), 'mounts'],
  ['bind mount of the docker socket', hc({ Mounts: [{ Type: 'bind', Source: '/var/run/docker.sock', Target: '/var/run/docker.sock' }] }), 'mounts'],
  ['token bind mounted writable', hc({ Mounts: [{ Type: 'bind', Source: '/dev/shm/copilot-bridge-stack/agent-lal', Target: '/run/secrets/op_sa_token', ReadOnly: false }] }), 'mounts'],
  ['token bind mounted elsewhere', hc({ Mounts: [{ Type: 'bind', Source: '/dev/shm/copilot-bridge-stack/agent-lal', Target: '/etc/passwd', ReadOnly: true }] }), 'mounts'],
  ["another agent's volume", hc({ Mounts: [{ Type: 'volume', Source: 'cbs-agent-data-home', Target: '/home/bridge' }] }), 'mounts'],
  ['volume with driver options (a bind in disguise)', hc({ Mounts: [{ Type: 'volume', Source: 'cbs-agent-lal-home', Target: '/home/bridge', VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'none', o: 'bind', device: '/' } } } }] }), 'mounts'],
  ['bind options (propagation)', hc({ Mounts: [{ Type: 'bind', Source: '/dev/shm/copilot-bridge-stack/agent-lal', Target: '/run/secrets/op_sa_token', ReadOnly: true, BindOptions: { Propagation: 'rshared' } }] }), 'mounts'],
  ['volumes-from', hc({ VolumesFrom: ['cbs-copilot-bridge-1'] }), 'volumes-from'],
  ['links', hc({ Links: ['postgres:db'] }), 'links'],
  ['devices', hc({ Devices: [{ PathOnHost: '/dev/sda', PathInContainer: '/dev/sda', CgroupPermissions: 'rwm' }] }), 'devices'],
  ['device requests (GPUs)', hc({ DeviceRequests: [{ Count: -1, Capabilities: [['gpu']] }] }), 'devices'],
  ['host pid namespace', hc({ PidMode: 'host' }), 'host-namespace'],
  ['host ipc namespace', hc({ IpcMode: 'host' }), 'host-namespace'],
  ['host uts namespace', hc({ UTSMode: 'host' }), 'host-namespace'],
  ['host userns', hc({ UsernsMode: 'host' }), 'host-namespace'],
  ['host cgroup namespace', hc({ CgroupnsMode: 'host' }), 'host-namespace'],
  ['host network', hc({ NetworkMode: 'host' }), 'network'],
  ['the socket-proxy network', hc({ NetworkMode: 'cbs_socket-proxy-net' }), 'network'],
  ['a second network endpoint', { ...agentBody(), NetworkingConfig: { EndpointsConfig: { 'cbs_db-net': {} } } }, 'network'],
  ['capability SYS_ADMIN', hc({ CapAdd: ['SYS_ADMIN'] }), 'cap-add'],
  ['capability CAP_SYS_PTRACE', hc({ CapAdd: ['CAP_SYS_PTRACE'] }), 'cap-add'],
  ['capability ALL', hc({ CapAdd: ['ALL'] }), 'cap-add'],
  ['cap-drop without ALL', hc({ CapDrop: ['NET_RAW'] }), 'cap-drop'],
  ['no cap-drop', (() => { const b = agentBody(); delete b.HostConfig.CapDrop; return b; })(), 'cap-drop'],
  ['seccomp unconfined', hc({ SecurityOpt: ['no-new-privileges:true', 'seccomp=unconfined'] }), 'security-opt'],
  ['apparmor unconfined', hc({ SecurityOpt: ['no-new-privileges:true', 'apparmor=unconfined'] }), 'security-opt'],
  ['selinux label disable', hc({ SecurityOpt: ['no-new-privileges:true', 'label=disable'] }), 'security-opt'],
  ['no no-new-privileges', hc({ SecurityOpt: [] }), 'security-opt'],
  ['unmasked /proc', hc({ MaskedPaths: [] }), 'security-opt'],
  ['writable root', hc({ ReadonlyRootfs: false }), 'readonly-rootfs'],
  ['no memory limit', hc({ Memory: 0 }), 'limits'],
  ['no pids limit', (() => { const b = agentBody(); delete b.HostConfig.PidsLimit; return b; })(), 'limits'],
  ['published ports', hc({ PortBindings: { '22/tcp': [{ HostPort: '2222' }] } }), 'ports'],
  ['sysctls', hc({ Sysctls: { 'kernel.core_pattern': '|/bin/sh' } }), 'sysctls'],
  ['another runtime', hc({ Runtime: 'runc-unsafe' }), 'runtime'],
  ['cgroup parent', hc({ CgroupParent: '/' }), 'host-namespace'],
  ['tmpfs over /etc', hc({ Tmpfs: { '/etc': 'size=1m' } }), 'tmpfs'],
  ['tmpfs with exec options', hc({ Tmpfs: { '/tmp': 'size=1m,exec,suid' } }), 'tmpfs'],
  ['another image', { ...agentBody(), Image: 'alpine' }, 'image'],
  ['no image', (() => { const b = agentBody(); delete b.Image; return b; })(), 'image'],
  ['an entrypoint override', { ...agentBody(), Entrypoint: ['/bin/sh'] }, 'entrypoint'],
  ['running as root', { ...agentBody(), User: 'root' }, 'user'],
  ['the token in the environment', { ...agentBody(), Env: ['OP_SERVICE_ACCOUNT_TOKEN=x'] }, 'env'],
  ['a Connect token in the environment', { ...agentBody(), Env: ['OP_CONNECT_TOKEN=x'] }, 'env'],
  ['labels of another agent', { ...agentBody(), Labels: { [AGENT_LABEL]: 'data', [PROJECT_LABEL]: 'cbs' } }, 'labels'],
  ['no labels', (() => { const b = agentBody(); delete b.Labels; return b; })(), 'labels'],
  ['an unknown field', { ...agentBody(), Shell: ['/bin/bash'] }, 'unknown-field'],
  ['an unknown host-config field', hc({ OomScoreAdj: -1000 }), 'unknown-field'],
  ['a syslog log driver to a remote host', hc({ LogConfig: { Type: 'syslog', Config: { 'syslog-address': 'tcp://evil:514' } } }), 'log-driver'],
  ['an rlimit other than core and nofile', hc({ Ulimits: [{ Name: 'memlock', Soft: -1, Hard: -1 }] }), 'ulimits'],
  ['case-variant duplicate keys', JSON.stringify(agentBody()).replace('"ReadonlyRootfs":true', '"ReadonlyRootfs":true,"readonlyrootfs":false'), 'json-duplicate-key'],
  ['exact duplicate keys', JSON.stringify(agentBody()).replace('"ReadonlyRootfs":true', '"ReadonlyRootfs":true,"ReadonlyRootfs":false'), 'json-duplicate-key'],
  ['the body is a list', [agentBody()], 'body-shape'],
  ['trailing data after the body', `${JSON.stringify(agentBody())}{"HostConfig":{"Privileged":true}}`, 'json-syntax'],
];

t.test('refusals, each by its rule', async (t) => {
  for (const [name, body, rule] of refusals) {
    try {
      check(body);
      t.fail(`${name}: allowed`);
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      t.equal(error.rule, rule, `${name}: ${error.message}`);
    }
  }
});

/** What the daemon would see: every key at any depth, folded as Go folds, with its value (JSON.parse decodes escapes). */
function daemonView(text: string): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) (out.push([goFold(k), v]), walk(v));
  };
  walk(JSON.parse(text));
  return out;
}

const dangerous = (view: Array<[string, unknown]>) =>
  view.some(([k, v]) =>
    (k === 'privileged' && v !== false) ||
    (k === 'binds' && Array.isArray(v) && v.length > 0) ||
    (['pidmode', 'ipcmode', 'utsmode', 'usernsmode', 'networkmode'].includes(k) && v === 'host') ||
    (k === 'source' && (v === '/' || v === '/var/run/docker.sock')) ||
    (k === 'capadd' && Array.isArray(v) && v.some((c) => /SYS_ADMIN|ALL/i.test(String(c)))));

/** Spells a key the way an attacker might: random case, \u escapes, long s and Kelvin sign. */
const spelling = (key: string) =>
  fc.array(fc.integer({ min: 0, max: 4 }), { minLength: key.length, maxLength: key.length }).map((choices) =>
    key.split('').map((c, i) => {
      const choice = choices[i]!;
      if (choice === 1) return c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase();
      if (choice === 2) return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
      if (choice === 3 && /s/i.test(c)) return '\u017f';
      if (choice === 4 && /k/i.test(c)) return '\u212a';
      return c;
    }).join(''));

t.test('property: no body the guard allows reads as privileged or host-mounting to the daemon', async (t) => {
  const injections = fc.oneof(
    fc.tuple(spelling('Privileged'), fc.constant('true')),
    fc.tuple(spelling('Binds'), fc.constant('["/:/host"]')),
    fc.tuple(spelling('PidMode'), fc.constant('"host"')),
    fc.tuple(spelling('NetworkMode'), fc.constant('"host"')),
    fc.tuple(spelling('CapAdd'), fc.constant('["SYS_ADMIN"]')),
    fc.tuple(spelling('Mounts'), fc.constant('[{"Type":"bind","Source":"/","Target":"/host"}]')),
    fc.tuple(spelling('ReadonlyRootfs'), fc.constant('false')),
  );
  let allowed = 0;
  fc.assert(
    fc.property(fc.array(injections, { minLength: 0, maxLength: 3 }), fc.boolean(), spelling('Memory'), (extra, atEnd, memory) => {
      const fields = extra.map(([k, v]) => `"${k}":${v},`).join('');
      const base = JSON.stringify(agentBody()).replace('"Memory"', `"${memory}"`);
      const text = atEnd ? base.replace('"Ulimits"', `${fields}"Ulimits"`) : base.replace('"NetworkMode"', `${fields}"NetworkMode"`);
      let forwarded: string;
      try {
        forwarded = check(text);
      } catch (error) {
        if (error instanceof Refusal) return true;
        throw error;
      }
      allowed++;
      return !dangerous(daemonView(text)) && !dangerous(daemonView(forwarded));
    }),
    { numRuns: 2000 },
  );
  t.ok(allowed > 0, `2000 mutated bodies: none the daemon would read as dangerous got through (${allowed} allowed, all benign)`);
});

t.test('released token files: a listed file, or the shared token or the agent\'s own in a listed directory; nothing else there', async (t) => {
  const dirPolicy: AgentPolicy = { ...policy, secretSources: ['/dev/shm/copilot-bridge-stack/'] };
  const withToken = (source: string, agent = 'lal') => {
    const body = agentBody();
    body.Labels[AGENT_LABEL] = agent;
    body.HostConfig.Mounts = [
      { Type: 'volume', Source: `cbs-agent-${agent}-home`, Target: '/home/bridge' },
      { Type: 'bind', Source: source, Target: '/run/secrets/op_sa_token', ReadOnly: true },
    ];
    return JSON.stringify(body);
  };
  const verdict = (p: AgentPolicy, source: string, agent = 'lal') => {
    try {
      reviewCreateBody(p, agent, parseStrictJson(withToken(source, agent)));
      return 'allowed';
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      return error.rule;
    }
  };
  const cases: Array<[AgentPolicy, string, string, string]> = [
    [dirPolicy, 'lal', '/dev/shm/copilot-bridge-stack/agent-lal', 'allowed'],
    [dirPolicy, 'lal', '/dev/shm/copilot-bridge-stack/op-sa-token', 'allowed'],
    [dirPolicy, 'data', '/dev/shm/copilot-bridge-stack/op-sa-token', 'allowed'],
    [dirPolicy, 'data', '/dev/shm/copilot-bridge-stack/agent-lal', 'mounts'],
    [policy, 'data', '/dev/shm/copilot-bridge-stack/agent-lal', 'mounts'],
    [dirPolicy, 'lal', '/dev/shm/copilot-bridge-stack/.agent-lal.0a1b2c.tmp', 'mounts'],
    [dirPolicy, 'lal', '/dev/shm/copilot-bridge-stack/vault.json', 'mounts'],
    [dirPolicy, 'lal', '/dev/shm/copilot-bridge-stack/mm-db-password', 'mounts'],
    [dirPolicy, 'lal', '/dev/shm/copilot-bridge-stack/another-credential', 'mounts'],
    [dirPolicy, 'lal', '/dev/shm/copilot-bridge-stack/../../etc/shadow', 'mounts'],
    [dirPolicy, 'lal', '/dev/shm/copilot-bridge-stack/sub/op-sa-token', 'mounts'],
    [dirPolicy, 'lal', '/dev/shm/copilot-bridge-stack', 'mounts'],
    [dirPolicy, 'lal', '/dev/shm/copilot-bridge-stack/', 'mounts'],
    [dirPolicy, 'lal', '/dev/shm/copilot-bridge-stackx/op-sa-token', 'mounts'],
    [dirPolicy, 'lal', '/dev/shm/op-sa-token', 'mounts'],
    [policy, 'lal', '/dev/shm/copilot-bridge-stack/agent-data', 'mounts'],
  ];
  for (const [p, agent, source, expected] of cases) {
    t.equal(verdict(p, source, agent), expected, `${agent} binding ${source} with sources ${p.secretSources.join(' ')}: ${expected}`);
  }
});
