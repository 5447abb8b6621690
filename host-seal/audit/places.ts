// Where `audit` looks, on this host's live deployment of the stack: its
// containers (docker inspect, docker logs, their writable layers), their
// images (history, configuration, every layer's files), its volumes, the
// environment and command line of every process on the host (containers'
// processes included), the compose model as resolved, ~/.docker, the shell
// histories, /tmp, and the release directory (where only the released files
// may hold a value). Read-only: it starts nothing but its own docker CLI calls.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { readAdminEntry, readAgentsFile } from '../../src/agents/agents-file.js';
import { GITHUB_TOKEN_VARIABLE } from '../../src/agents/render-template.js';
import { AGENT_LABEL, BRIDGE_PID_FILE, PROJECT_LABEL } from '../../src/contract.js';
import { keyOfReference } from '../../src/vault/document.js';
import type { Stack } from '../stack/stack.js';
import type { Finding, Search } from './search.js';

/** The label each image a build of the stack leaves carries, its project (the Dockerfile sets it). */
const BUILD_PROJECT_LABEL = 'com.copilot-bridge-stack.build-project';

type Docker = (args: string[]) => Promise<{ failed: boolean; stdout: string }>;

interface Container {
  Id: string;
  Name: string;
  Image: string;
  Config: { Image: string; Labels?: Record<string, string> };
  GraphDriver?: { Name: string; Data?: Record<string, string> };
  Mounts?: Array<{ Type: string; Name?: string; Source: string; Destination: string }>;
  State?: { Pid?: number };
  HostConfig?: { Tmpfs?: Record<string, string> | null; IpcMode?: string };
}

export interface Scope {
  stack: Stack;
  env: NodeJS.ProcessEnv;
  docker: Docker;
  search: Search;
  /** The files up releases, by name, each with the labels of the values it may hold. */
  expected: ReadonlyMap<string, ReadonlySet<string>>;
  places: string[];
}

export async function containers(scope: Scope): Promise<Container[]> {
  const { docker, stack } = scope;
  const ids = new Set<string>();
  for (const label of [`com.docker.compose.project=${stack.project}`, `${PROJECT_LABEL}=${stack.project}`]) {
    const r = await docker(['ps', '-aq', '--no-trunc', '--filter', `label=${label}`]);
    for (const id of r.stdout
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean))
      ids.add(id);
  }
  // One at a time: `docker inspect A B` fails as a whole when one of them is gone (an agent stopped meanwhile).
  const list: Container[] = [];
  for (const id of ids) {
    const r = await docker(['inspect', id]);
    if (!r.failed) list.push(...(JSON.parse(r.stdout) as Container[]));
  }
  return list;
}

const nameOf = (c: Container) => c.Name.replace(/^\//, '');

/** Every container of the stack, and every image they or the compose model name (built ones even with no container). */
export async function searchContainers(scope: Scope, list: Container[], images: string[]): Promise<void> {
  const { search, docker } = scope;
  for (const c of list) {
    const name = nameOf(c);
    search.json(`container ${name} (docker inspect)`, c);
    await search.command(`container ${name} (docker logs)`, 'docker', ['logs', c.Id], scope.env);
    const upper = c.GraphDriver?.Data?.UpperDir;
    if (upper && existsSync(upper)) search.tree(`container ${name} (writable layer)`, upper);
    else
      search.unsearched.push(`container ${name} (writable layer): ${upper ?? 'not an overlay2 layer'} cannot be read`);
    scope.places.push(`container ${name}: inspect, logs, writable layer`);
  }
  // And every image a build of the stack left (its project's label: earlier builds, the stages of each build).
  const built = await docker([
    'images',
    '-a',
    '-q',
    '--no-trunc',
    '--filter',
    `label=${BUILD_PROJECT_LABEL}=${scope.stack.project}`,
  ]);
  const ofProject = built.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
  // A layer shared by several images (each build's base) is searched once.
  const searched = new Set<string>();
  const whole = new Set<string>();
  for (const image of new Set([...list.map((c) => c.Image), ...images, ...ofProject])) {
    const r = await docker(['image', 'inspect', image]);
    if (r.failed) continue;
    const [info] = JSON.parse(r.stdout) as Array<{
      Id?: string;
      RepoTags?: string[];
      GraphDriver?: Container['GraphDriver'];
    }>;
    // One image under two names (a container's image id, the compose model's tag) is searched once.
    if (info?.Id && whole.has(info.Id)) continue;
    if (info?.Id) whole.add(info.Id);
    const label = info?.RepoTags?.[0] ?? image.slice(0, 19);
    scope.places.push(`image ${label}: configuration, history, layers`);
    search.json(`image ${label} (docker image inspect)`, info);
    await search.command(`image ${label} (docker history)`, 'docker', ['history', '--no-trunc', image], scope.env);
    const dirs = [info?.GraphDriver?.Data?.UpperDir, ...(info?.GraphDriver?.Data?.LowerDir ?? '').split(':')].filter(
      (d): d is string => !!d && existsSync(d),
    );
    if (info?.GraphDriver?.Name === 'overlay2' && dirs.length > 0)
      for (const dir of dirs.filter((d) => !searched.has(d))) {
        searched.add(dir);
        search.tree(`image ${label} layer ${dir}`, dir);
      }
    else await search.command(`image ${label} (docker save)`, 'docker', ['save', image], scope.env);
  }
  // Every other image on this host: its configuration (environment, labels, command, as docker image inspect shows
  // it), a value put there by hand (docker commit, a build with the value in an ENV or a LABEL).
  const all = await docker(['images', '-a', '-q', '--no-trunc']);
  const others = [...new Set(all.stdout.split('\n').map((s) => s.trim()))].filter((id) => id && !whole.has(id));
  for (let at = 0; at < others.length; at += 100) {
    const batch = others.slice(at, at + 100);
    // One inspect for a hundred; one by one when an image of them went away meanwhile (the call fails as a whole).
    const r = await docker(['image', 'inspect', ...batch]);
    const infos = r.failed
      ? (await Promise.all(batch.map((id) => docker(['image', 'inspect', id])))).flatMap((one) =>
          one.failed ? [] : (JSON.parse(one.stdout) as unknown[]),
        )
      : (JSON.parse(r.stdout) as unknown[]);
    for (const info of infos as Array<{ Id: string; RepoTags?: string[] }>)
      search.json(`image ${info.RepoTags?.[0] ?? info.Id.slice(0, 19)} (docker image inspect)`, info);
  }
  if (others.length > 0) scope.places.push(`${others.length} other image(s): configuration`);
}

/**
 * Every other container on this host, stopped ones too: its configuration (`docker inspect`: command, environment,
 * labels). A build the classic builder left stopped holds its build arguments in its command.
 */
export async function searchOtherContainers(scope: Scope, list: Container[]): Promise<void> {
  const { docker, search } = scope;
  const ours = new Set(list.map((c) => c.Id));
  const all = await docker(['ps', '-aq', '--no-trunc']);
  const others = [...new Set(all.stdout.split('\n').map((s) => s.trim()))].filter((id) => id && !ours.has(id));
  for (const id of others) {
    const r = await docker(['inspect', id]);
    if (r.failed) continue;
    for (const c of JSON.parse(r.stdout) as Container[]) search.json(`container ${nameOf(c)} (docker inspect)`, c);
  }
  if (others.length > 0) scope.places.push(`${others.length} other container(s): configuration`);
}

export async function searchVolumes(scope: Scope, list: Container[]): Promise<void> {
  const { docker, search, stack } = scope;
  // Compose labels the volumes it creates; the admin bridge labels each agent's home volume with the project's label.
  const names = new Set<string>();
  for (const label of [`com.docker.compose.project=${stack.project}`, `${PROJECT_LABEL}=${stack.project}`]) {
    const r = await docker(['volume', 'ls', '-q', '--filter', `label=${label}`]);
    for (const name of r.stdout.split('\n').map((s) => s.trim())) if (name) names.add(name);
  }
  // And every volume a container of the stack mounts, labelled or not (an image's VOLUME is anonymous).
  for (const c of list) for (const m of c.Mounts ?? []) if (m.Type === 'volume' && m.Name) names.add(m.Name);
  // Mattermost's own database keeps the access tokens it issued to the bots: those, and only those, are declared.
  const database = new Set(
    list
      .filter((c) => c.Config.Labels?.['com.docker.compose.service'] === 'postgres')
      .flatMap((c) => (c.Mounts ?? []).filter((m) => m.Type === 'volume' && m.Name).map((m) => m.Name!)),
  );
  const botTokens = botTokenFindings(scope);
  for (const name of names) {
    const inspected = await docker(['volume', 'inspect', name]);
    if (inspected.failed) continue;
    const [info] = JSON.parse(inspected.stdout) as Array<{
      Mountpoint: string;
      Options?: Record<string, string> | null;
    }>;
    // Its options and labels too (a cifs volume's password= is one).
    search.json(`volume ${name} (docker volume inspect)`, info);
    const mountpoint = info?.Mountpoint ?? '';
    const options = info?.Options ?? null;
    // A volume of the local driver bound to a directory (o=bind, device=DIR) is empty at its mount point while no
    // container uses it: its directory is searched itself. One of another file system (nfs, cifs) cannot be.
    const mounted = list.some((c) => c.State?.Pid && (c.Mounts ?? []).some((m) => m.Name === name));
    if (!mounted && options?.device && /(^|,)r?bind(,|$)/.test(options.o ?? '')) {
      const where = `volume ${name} (bound to ${options.device})`;
      operatorFile(search, options.device);
      scope.places.push(where);
    } else if (!mounted && options?.type && !['none', 'tmpfs'].includes(options.type)) {
      search.unsearched.push(`volume ${name}: a ${options.type} file system, mounted only while a container uses it`);
      continue;
    }
    if (!existsSync(mountpoint)) {
      search.unsearched.push(`volume ${name}: ${mountpoint} cannot be read`);
      continue;
    }
    scope.places.push(`volume ${name}`);
    const before = search.findings.length;
    search.tree(`volume ${name}`, mountpoint);
    if (database.has(name))
      for (const f of search.findings.slice(before))
        if (botTokens.has(f.what))
          f.declared = "Mattermost's database keeps the access tokens Mattermost issued to the bots";
  }
  // Directories and files bound into a container (not the released files: the release directory is searched apart),
  // read as the container sees them (through its root while it runs: its source may have become a link since), else
  // at the source, a link followed.
  const binds = new Map<string, string>();
  for (const c of list)
    for (const m of c.Mounts ?? []) {
      if (m.Type !== 'bind' || m.Source.startsWith(`${stack.dir}/`) || m.Source === stack.dir) continue;
      const pid = c.State?.Pid ?? 0;
      if (pid > 0)
        binds.set(
          `bind mount ${m.Source} (as ${nameOf(c)} sees it at ${m.Destination})`,
          `/proc/${pid}/root${m.Destination}`,
        );
      else if (!binds.has(`bind mount ${m.Source}`)) binds.set(`bind mount ${m.Source}`, m.Source);
    }
  for (const [where, path] of binds) {
    let real: string | undefined;
    try {
      real = path.startsWith('/proc/') ? insideRoot(path) : realpathSync(path);
    } catch {
      continue;
    }
    // Where the container's links lead must be a mount point of the container: a user of it who renamed the mount's
    // parent and left a link in its place would lead audit away from the mount.
    if (real === undefined || (path.startsWith('/proc/') && !isMountPoint(real))) {
      search.unsearched.push(`${where}: the container's path to it does not lead to a mount (renamed, or a link)`);
      continue;
    }
    search.tree(where, real);
    scope.places.push(where);
  }
}

/**
 * `/proc/PID/root/DEST` with each link on the way resolved as the container resolves it: an absolute target from
 * the container's root (through /proc/PID/root the kernel would take it from the host's root: a user of the
 * container could point audit at any host path, or away). Undefined after too many links.
 */
/** Whether `/proc/PID/root/PATH` is a mount point in that container (its mountinfo names it). */
function isMountPoint(resolved: string): boolean {
  const [, pid, inside = '/'] = /^\/proc\/(\d+)\/root(\/.*)?$/.exec(resolved) ?? [];
  try {
    // mountinfo writes a space, a tab, a newline and a backslash in a path as octal escapes.
    const decoded = (field: string) =>
      field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
    const wanted = inside === '/' ? '/' : inside.replace(/\/+$/, '');
    return readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
      .split('\n')
      .some((line) => decoded(line.split(' ')[4] ?? '') === wanted);
  } catch {
    return false;
  }
}

function insideRoot(path: string): string | undefined {
  const [, pid, rest = ''] = /^\/proc\/(\d+)\/root(\/.*)?$/.exec(path) ?? [];
  const root = `/proc/${pid}/root`;
  let parts = rest.split('/').filter(Boolean);
  let resolved: string[] = [];
  for (let links = 0; parts.length > 0; ) {
    const part = parts.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const at = `${root}/${[...resolved, part].join('/')}`;
    let link: string | undefined;
    try {
      link = lstatSync(at).isSymbolicLink() ? readlinkSync(at) : undefined;
    } catch {
      return `${root}/${[...resolved, part, ...parts].join('/')}`; // not there (yet): nothing to follow
    }
    if (link === undefined) {
      resolved.push(part);
      continue;
    }
    if (++links > 40) return undefined;
    if (link.startsWith('/')) resolved = [];
    parts = [...link.split('/').filter(Boolean), ...parts];
  }
  return `${root}/${resolved.join('/')}`;
}

/**
 * Each running container's tmpfs mounts (its /tmp: the rendered config, and
 * whatever the bridge or a tool wrote there), read through the container's
 * root (/proc/PID/root), as nothing on the host mounts them. Declared, not a
 * finding: a bridge's rendered config file holding its own bridge's values
 * (its bot token and GitHub token, by the agents file), which is where the
 * entrypoint puts them; anything else there, or another bridge's value, is.
 */
export function searchTmpfs(scope: Scope, list: Container[]): void {
  const { search } = scope;
  const own = ownValueLabels(scope, list);
  for (const c of list) {
    const pid = c.State?.Pid ?? 0;
    const ipc = c.HostConfig?.IpcMode ?? 'private';
    const mounts = new Set([
      ...Object.keys(c.HostConfig?.Tmpfs ?? {}),
      ...(c.Mounts ?? []).filter((m) => m.Type === 'tmpfs').map((m) => m.Destination),
      // Its own /dev/shm, a tmpfs every container has (writable even when read_only), unless shared with the host.
      ...(ipc === 'private' || ipc === 'shareable' || ipc === '' ? ['/dev/shm'] : []),
    ]);
    if (pid <= 0 || mounts.size === 0) continue;
    const name = nameOf(c);
    const config = configPathOf(c);
    for (const mount of mounts) {
      let root: string | undefined;
      try {
        root = insideRoot(`/proc/${pid}/root${mount}`);
      } catch {
        root = undefined;
      }
      if (root === undefined || !existsSync(root)) {
        search.unsearched.push(`container ${name} (tmpfs ${mount}): it cannot be read through the container's root`);
        continue;
      }
      const where = `container ${name} (tmpfs ${mount})`;
      const before = search.findings.length;
      search.tree(where, root);
      scope.places.push(where);
      const configWhere = config.startsWith(`${mount}/`) ? `${where} ${config.slice(mount.length)}` : undefined;
      for (const f of search.findings.slice(before))
        if (f.where === configWhere && own.get(c.Id)?.has(f.what))
          f.declared = "its bridge's own value, in the config the entrypoint rendered for it (on its tmpfs)";
    }
  }
}

/** Where a bridge container's entrypoint renders its config (BRIDGE_CONFIG_OUT, as its environment sets it). */
function configPathOf(c: Container): string {
  const env = (c as { Config: { Env?: string[] } }).Config.Env ?? [];
  const set = env.find((e) => e.startsWith('BRIDGE_CONFIG_OUT='));
  return set ? set.slice('BRIDGE_CONFIG_OUT='.length) : '/tmp/config.json';
}

/** The findings the bots' access tokens make (vault items of the agents file's botTokenItem), as audit names them. */
function botTokenFindings(scope: Scope): Set<string> {
  const out = new Set<string>();
  try {
    const file = resolve(scope.stack.projectDir, scope.stack.settings.AGENTS_FILE ?? '');
    for (const entry of [readAdminEntry(file), ...readAgentsFile(file)])
      if (entry) out.add(vaultLabel(entry.botTokenItem));
  } catch {
    // An agents file that cannot be read declares nothing.
  }
  return out;
}

/**
 * The finding each bridge container may hold as a declared exception: its own bridge's GitHub token (the admin's
 * or the agent's, by the agents file), as the local vault labels it. None when the agents file cannot be read.
 */
function ownGithubTokens(scope: Scope, list: Container[]): Map<string, string> {
  return new Map([...entriesOf(scope, list)].map(([id, entry]) => [id, vaultLabel(entry.githubTokenItem)]));
}

/** Each bridge container's own values (its bot token and GitHub token), as the local vault labels them. */
function ownValueLabels(scope: Scope, list: Container[]): Map<string, Set<string>> {
  return new Map(
    [...entriesOf(scope, list)].map(([id, entry]) => [
      id,
      new Set([vaultLabel(entry.botTokenItem), vaultLabel(entry.githubTokenItem)]),
    ]),
  );
}

const vaultLabel = (item: string) => `the local vault's ${keyOfReference(`${item}/token`, 'audit')} (raw)`;

/** Each bridge container's entry of the agents file (the admin's, or its agent's); none when the file cannot be read. */
function entriesOf(scope: Scope, list: Container[]): Map<string, { botTokenItem: string; githubTokenItem: string }> {
  const file = resolve(scope.stack.projectDir, scope.stack.settings.AGENTS_FILE ?? '');
  const own = new Map<string, { botTokenItem: string; githubTokenItem: string }>();
  for (const c of list) {
    const labels = c.Config.Labels ?? {};
    try {
      const entry =
        labels[AGENT_LABEL] !== undefined
          ? readAgentsFile(file).find((a) => a.name === labels[AGENT_LABEL])
          : labels['com.docker.compose.service'] === 'copilot-bridge'
            ? readAdminEntry(file)
            : undefined;
      if (entry) own.set(c.Id, entry);
    } catch {
      // An agents file that cannot be read declares nothing: every value found is a finding.
    }
  }
  return own;
}

/** A process's parent pid and real uid, from /proc; undefined once it is gone. */
function processInfo(pid: number): { ppid: number; uid: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    return Number.isInteger(ppid) && Number.isInteger(uid) ? { ppid, uid } : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `pid` descends from `root` (root itself excluded). */
function descendsFrom(pid: number, root: number): boolean {
  const seen = new Set<number>();
  for (let p = processInfo(pid)?.ppid; p !== undefined && p > 1 && !seen.has(p); p = processInfo(p)?.ppid) {
    if (p === root) return true;
    seen.add(p);
  }
  return false;
}

/**
 * Every process on the host, containers' included. Declared, not a finding: a bridge's own GitHub token in the
 * environment of a process its bridge started (a descendant of the container's supervisor, not root): the
 * token of another bridge, or one in a process `docker exec` started, or a root process's, is a finding.
 */
export function searchProcesses(scope: Scope, list: Container[]): void {
  const { search } = scope;
  const own = ownGithubTokens(scope, list);
  const names = new Map(list.map((c) => [c.Id, nameOf(c)]));
  const pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid);
  const bridges = bridgeProcesses(list, pids);
  let count = 0;
  for (const pid of pids) {
    const read = (file: string) => {
      try {
        return readFileSync(`/proc/${pid}/${file}`);
      } catch {
        return undefined;
      }
    };
    const environ = read('environ');
    const cmdline = read('cmdline');
    if (environ === undefined && cmdline === undefined) continue;
    count++;
    const container = /[0-9a-f]{64}/.exec(read('cgroup')?.toString() ?? '')?.[0];
    const where = `process ${pid} (${(read('comm')?.toString() ?? '?').trim()})${container && names.has(container) ? ` in ${names.get(container)}` : ''}`;
    if (cmdline) search.bytes(`${where} command line`, cmdline);
    const ownToken = container ? own.get(container) : undefined;
    const bridge = container ? bridges.get(container) : undefined;
    const inBridgeTree =
      ownToken !== undefined &&
      bridge !== undefined &&
      (processInfo(Number(pid))?.uid ?? 0) !== 0 &&
      (Number(pid) === bridge || descendsFrom(Number(pid), bridge));
    for (const entry of (environ ?? Buffer.alloc(0)).toString('utf8').split('\0')) {
      const before = search.findings.length;
      search.bytes(`${where} environment ${entry.split('=')[0]}`, entry);
      if (inBridgeTree && entry.startsWith(`${GITHUB_TOKEN_VARIABLE}=`))
        for (const f of search.findings.slice(before))
          if (f.what === ownToken)
            f.declared =
              "its bridge's own GitHub token, in a process its bridge started (upstream reads it from nowhere else)";
    }
  }
  scope.places.push(`${count} processes' environment and command line`);
}

/**
 * Each running bridge container's bridge process, as a host pid: the pid its entrypoint wrote beside the rendered
 * config (in the container's own pid namespace), found among the container's processes by their NSpid. A process
 * that only lives in the container (a `docker exec`, one that left its parent for the container's first process)
 * is no descendant of it.
 */
function bridgeProcesses(list: Container[], pids: string[]): Map<string, number> {
  const wanted = new Map<string, number>();
  for (const c of list) {
    const pid = c.State?.Pid ?? 0;
    if (pid <= 0) continue;
    try {
      const inside = Number(
        readFileSync(`/proc/${pid}/root${dirname(configPathOf(c))}/${BRIDGE_PID_FILE}`, 'utf8').trim(),
      );
      // The container's first process (1) is every orphan's parent: never the bridge (a bridge user could write 1).
      if (Number.isInteger(inside) && inside > 1) wanted.set(c.Id, inside);
    } catch {
      // No bridge pid: no process of this container holds a declared token.
    }
  }
  const found = new Map<string, number>();
  if (wanted.size === 0) return found;
  for (const pid of pids) {
    try {
      const container = /[0-9a-f]{64}/.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[0];
      if (!container || !wanted.has(container)) continue;
      const nspid = /^NSpid:\s+([\d\s]+)$/m
        .exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
        ?.trim()
        .split(/\s+/)
        .at(-1);
      if (Number(nspid) === wanted.get(container)) found.set(container, Number(pid));
    } catch {
      // gone since listed
    }
  }
  return found;
}

export function searchHost(scope: Scope, model: string | undefined): void {
  const { search, stack } = scope;
  if (model !== undefined) {
    search.bytes('the compose model (compose config)', model);
    scope.places.push('the compose model');
  } else search.unsearched.push('the compose model: compose config failed (run npm run doctor)');
  // The checkout's own files an operator edits: .env, the agents file, the compose files (comments included).
  const own = [
    join(stack.projectDir, '.env'),
    resolve(stack.projectDir, stack.settings.AGENTS_FILE ?? ''),
    ...stack.files.filter((arg) => arg !== '-f').map((file) => resolve(file)),
    ...['compose.yml', 'compose.yaml', 'docker-compose.yml', 'docker-compose.yaml'].map((f) =>
      join(stack.projectDir, f),
    ),
  ];
  for (const file of new Set(own)) operatorFile(search, file);
  scope.places.push("the checkout's .env, agents file and compose files");
  const home = invokingHome(scope.env);
  const docker = join(home, '.docker');
  operatorFile(search, docker);
  // Dotfile managers link each file of ~/.docker to where they keep it: followed one level.
  if (existsSync(docker) && lstatSync(docker).isDirectory())
    for (const name of readdirSync(docker)) {
      // A name that is not UTF-8 reads back as another: its link is not followed, and nothing else stops.
      try {
        if (lstatSync(join(docker, name)).isSymbolicLink()) operatorFile(search, join(docker, name));
      } catch {
        search.unsearched.push(`${join(docker, name)} (a name that is not UTF-8: if a link, not followed)`);
      }
    }
  const zdotdir = scope.env.ZDOTDIR?.startsWith('/') ? scope.env.ZDOTDIR : undefined;
  for (const file of [
    '.bash_history',
    '.zsh_history',
    '.zhistory',
    '.histfile',
    '.sh_history',
    '.ash_history',
    '.local/share/fish/fish_history',
    '.python_history',
    '.node_repl_history',
    '.psql_history',
    '.mysql_history',
    // Where tools keep a token they were given: git's store, gh's hosts, npm's registry credentials.
    '.git-credentials',
    '.config/gh/hosts.yml',
    '.npmrc',
  ])
    operatorFile(search, join(home, file));
  if (zdotdir) for (const file of ['.zsh_history', '.zhistory']) operatorFile(search, join(zdotdir, file));
  scope.places.push(`${home}/.docker, the shell histories and the tools' credential files`);
  search.tree('/tmp', '/tmp');
  scope.places.push('/tmp');
  if (existsSync(stack.dir)) {
    const before = search.findings.length;
    search.tree(stack.dir, stack.dir);
    // A released file may hold its own bridge's values (up wrote them there); anything else there is a finding.
    const mine = (f: Finding) =>
      dirname(f.where) === stack.dir &&
      (scope.expected.get(basename(f.where))?.has(f.what.replace(/ \([^()]*\)$/, '')) ?? false);
    const found = search.findings.splice(before);
    search.findings.push(...found.filter((f) => !mine(f)));
    scope.places.push(`${stack.dir} (each released file: values but its own)`);
  }
}

/**
 * A file or directory the operator keeps (the checkout's .env, a history, ~/.docker): searched where it is, and
 * where it links to when it is a link (a dotfile manager's), named so. Nothing when it does not exist.
 */
function operatorFile(search: Search, path: string): void {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSymbolicLink()) {
    search.tree(path, path);
    return;
  }
  try {
    const real = realpathSync(path);
    search.tree(`${path} (a link to ${real})`, real);
  } catch (error) {
    search.unsearched.push(`${path} (a link that leads nowhere readable: ${(error as NodeJS.ErrnoException).code})`);
  }
}

/** The home of the user who ran the command (through sudo: that user's). */
function invokingHome(env: NodeJS.ProcessEnv): string {
  const sudoUser = env.SUDO_USER;
  if (sudoUser && /^[A-Za-z0-9_][A-Za-z0-9_.@-]*$/.test(sudoUser)) {
    // getent asks NSS: local users, and those of LDAP or sssd.
    const entry = spawnSync('getent', ['passwd', sudoUser], { encoding: 'utf8' });
    const home = entry.status === 0 ? entry.stdout.split('\n')[0]?.split(':')[5] : undefined;
    if (home) return home;
  }
  return env.HOME ?? homedir();
}
