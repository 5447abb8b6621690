// The container-create policy for agents: the body is rebuilt field by field
// under Docker's canonical names, and only this shape passes: the stack's own
// image, the agents' network only, read-only root, all capabilities dropped
// (plus what the privilege drop needs), no-new-privileges, memory and pids
// limits, and mounts that are the agent's own volume or a released token file
// bound read-only. Anything the policy does not know is refused.
import { Refusal } from './refusal.js';
import type { Json, JsonObject } from './strict-json.js';
import { canonicalObject, equals, isBoolean, isNumber, isString, isStringList, isStringMap, type FieldCheck } from './fields.js';

export interface AgentPolicy {
  /** The compose project: agent containers are `${project}-agent-NAME`, volumes `${project}-agent-NAME-home`. */
  project: string;
  image: string;
  network: string;
  /**
   * Released token files that may be bound read-only: host paths of files, or
   * directories (ending in `/`) whose direct entries named like a sealed
   * credential may be bound. `agent-NAME` is agent NAME's own, never another's.
   */
  secretSources: readonly string[];
}

export const AGENT_LABEL = 'com.copilot-bridge-stack.agent';
export const PROJECT_LABEL = 'com.copilot-bridge-stack.project';
export const ALLOWED_CAPS = ['SETUID', 'SETGID', 'DAC_READ_SEARCH'];
const SECRET_TARGET = '/run/secrets/op_sa_token';
const AGENT_NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;
/** The service-account token shared by every agent that has no credential of its own. */
const SHARED_TOKEN = 'op-sa-token';

/**
 * Whether `agent` may bind the host file `source` as its token: a listed file,
 * or, inside a listed directory, the shared token or the agent's own
 * `agent-NAME`; never another agent's, nor any other released secret (such as
 * the database password) that lives in the same directory.
 */
export function maySecretSource(policy: AgentPolicy, agent: string, source: string): boolean {
  const slash = source.lastIndexOf('/');
  const [dir, name] = [source.slice(0, slash + 1), source.slice(slash + 1)];
  if (name.startsWith('agent-') && name !== `agent-${agent}`) return false;
  return policy.secretSources.some((entry) => (entry.endsWith('/') ? entry === dir && (name === SHARED_TOKEN || name === `agent-${agent}`) : entry === source));
}

/** The agent's name from a container name `${project}-agent-NAME`, or a refusal. */
export function agentFromContainerName(policy: AgentPolicy, name: string | null): string {
  const prefix = `${policy.project}-agent-`;
  const agent = name?.startsWith(prefix) ? name.slice(prefix.length) : '';
  if (!AGENT_NAME.test(agent)) throw new Refusal('container-name', `agent containers must be named ${prefix}NAME (lower-case letters, digits, dashes)`);
  return agent;
}

const capName = (cap: string) => cap.toUpperCase().replace(/^CAP_/, '');

/** Checks and rebuilds a POST /containers/create body for agent `agent`. */
export function reviewCreateBody(policy: AgentPolicy, agent: string, body: Json): JsonObject {
  const home = `${policy.project}-agent-${agent}-home`;
  const mount: FieldCheck = (value, where) => {
    const m = canonicalObject(value, { Type: isString('mounts'), Source: isString('mounts'), Target: isString('mounts'), ReadOnly: isBoolean }, { BindOptions: 'mounts', VolumeOptions: 'mounts', TmpfsOptions: 'mounts', Consistency: 'mounts' }, where);
    const [type, source, target] = [m.get('Type'), m.get('Source'), m.get('Target')];
    if (type === 'volume' && source === home && typeof target === 'string' && target.startsWith('/')) return m;
    if (type === 'bind' && typeof source === 'string' && maySecretSource(policy, agent, source) && target === SECRET_TARGET && m.get('ReadOnly') === true) return m;
    throw new Refusal('mounts', `${where} may only be the agent's own volume ${home} or a released token file (${agent}'s own or a shared one) bound read-only at ${SECRET_TARGET}`);
  };
  const hostConfig: FieldCheck = (value, where) => {
    const h = canonicalObject(value, {
      NetworkMode: equals(policy.network, 'network'),
      ReadonlyRootfs: equals(true, 'readonly-rootfs'),
      CapDrop: isStringList(),
      CapAdd: isStringList((cap, w) => {
        if (!ALLOWED_CAPS.includes(capName(cap))) throw new Refusal('cap-add', `${w} adds a capability outside ${ALLOWED_CAPS.join(', ')}`);
      }),
      SecurityOpt: isStringList((opt, w) => {
        if (!/^no-new-privileges([:=]true)?$/.test(opt)) throw new Refusal('security-opt', `${w}: only no-new-privileges may be set`);
      }),
      Mounts: (v, w) => {
        if (!Array.isArray(v)) throw new Refusal('body-shape', `${w} must be a list`);
        return v.map((item, i) => mount(item, `${w}[${i}]`));
      },
      Tmpfs: isStringMap((path, options, w) => {
        if (path !== '/tmp' || !/^((size=\d+[kmg]?|mode=[0-7]{3,4}|noexec|nosuid|nodev|rw),?)*$/.test(options)) throw new Refusal('tmpfs', `${w}: only /tmp with size, mode, noexec, nosuid, nodev`);
      }),
      Memory: isNumber,
      MemorySwap: (v, w) => (v === -1 ? v : isNumber(v, w)),
      PidsLimit: isNumber,
      NanoCpus: isNumber,
      Init: isBoolean,
      RestartPolicy: (v, w) => canonicalObject(v, { Name: (n, ww) => {
        if (!['no', 'always', 'unless-stopped', 'on-failure'].includes(n as string)) throw new Refusal('body-shape', `${ww} is not a restart policy`);
        return n;
      }, MaximumRetryCount: isNumber }, {}, w),
      Ulimits: (v, w) => {
        if (!Array.isArray(v)) throw new Refusal('body-shape', `${w} must be a list`);
        return v.map((u, i) => canonicalObject(u, { Name: (n, ww) => {
          if (n !== 'core' && n !== 'nofile') throw new Refusal('ulimits', `${ww}: only core and nofile limits may be set`);
          return n;
        }, Soft: isNumber, Hard: isNumber }, {}, `${w}[${i}]`));
      },
      LogConfig: (v, w) => canonicalObject(v, { Type: (n, ww) => {
        if (n !== 'json-file' && n !== 'local') throw new Refusal('log-driver', `${ww}: only the json-file and local log drivers`);
        return n;
      }, Config: isStringMap() }, {}, w),
    }, {
      Privileged: 'privileged', Binds: 'binds', VolumesFrom: 'volumes-from', Links: 'links', VolumeDriver: 'mounts',
      Devices: 'devices', DeviceRequests: 'devices', DeviceCgroupRules: 'devices',
      PidMode: 'host-namespace', IpcMode: 'host-namespace', UTSMode: 'host-namespace', UsernsMode: 'host-namespace', CgroupnsMode: 'host-namespace', Cgroup: 'host-namespace', CgroupParent: 'host-namespace',
      PortBindings: 'ports', PublishAllPorts: 'ports', ExtraHosts: 'network', Dns: 'network', Runtime: 'runtime', Sysctls: 'sysctls', OomKillDisable: 'limits', MaskedPaths: 'security-opt', ReadonlyPaths: 'security-opt',
    }, where);
    const required: Array<[string, string]> = [['NetworkMode', 'network'], ['ReadonlyRootfs', 'readonly-rootfs'], ['CapDrop', 'cap-drop'], ['SecurityOpt', 'security-opt'], ['Memory', 'limits'], ['PidsLimit', 'limits']];
    for (const [name, rule] of required) if (!h.has(name)) throw new Refusal(rule, `${where}.${name} is required`);
    if (!(h.get('CapDrop') as string[]).some((c) => capName(c) === 'ALL')) throw new Refusal('cap-drop', `${where}.CapDrop must include ALL`);
    if (!(h.get('SecurityOpt') as string[]).length) throw new Refusal('security-opt', `${where}.SecurityOpt must set no-new-privileges`);
    if (!((h.get('Memory') as number) > 0 && (h.get('PidsLimit') as number) > 0)) throw new Refusal('limits', `${where} needs Memory and PidsLimit above 0`);
    return h;
  };
  const networking: FieldCheck = (value, where) => canonicalObject(value, {
    EndpointsConfig: (v, w) => {
      if (!(v instanceof Map) || [...v.keys()].some((k) => k !== policy.network)) throw new Refusal('network', `${w} may only name ${policy.network}`);
      return new Map([...v].map(([k, e]) => [k, canonicalObject(e, { Aliases: isStringList() }, {}, `${w}.${k}`)]));
    },
  }, {}, where);
  const config = canonicalObject(body, {
    Image: equals(policy.image, 'image'),
    Cmd: isStringList(),
    Env: isStringList((entry, w) => {
      if (/^OP_(SERVICE_ACCOUNT_TOKEN|CONNECT_|SESSION_)/.test(entry)) throw new Refusal('env', `${w} sets a 1Password credential variable; agents read their token from the secret file`);
    }),
    Labels: isStringMap(),
    WorkingDir: isString(), Hostname: isString(), StopSignal: isString(), StopTimeout: isNumber,
    Tty: isBoolean, OpenStdin: isBoolean, StdinOnce: isBoolean, AttachStdin: isBoolean, AttachStdout: isBoolean, AttachStderr: isBoolean,
    Healthcheck: (v, w) => canonicalObject(v, { Test: isStringList(), Interval: isNumber, Timeout: isNumber, Retries: isNumber, StartPeriod: isNumber }, {}, w),
    HostConfig: hostConfig,
    NetworkingConfig: networking,
  }, { Entrypoint: 'entrypoint', User: 'user', Volumes: 'mounts', ExposedPorts: 'ports' }, '$');
  if (!config.has('Image')) throw new Refusal('image', '$.Image is required');
  if (!config.has('HostConfig')) throw new Refusal('readonly-rootfs', '$.HostConfig is required');
  const labels = config.get('Labels');
  if (!(labels instanceof Map) || labels.get(AGENT_LABEL) !== agent || labels.get(PROJECT_LABEL) !== policy.project) {
    throw new Refusal('labels', `$.Labels must carry ${AGENT_LABEL}=${agent} and ${PROJECT_LABEL}=${policy.project}`);
  }
  return config;
}
