// One run of the real compose.yml, with test/fixtures/compose.test-override.yml
// swapping only the images (stand-ins) and adding the stand-ins' inputs. The
// secrets are made at test time: a fake service-account token released the
// way `npm run up` releases it (root-only 0400 on a private tmpfs), and a
// fixture vault for the op stand-in on the same tmpfs. That tmpfs is also the
// release directory (COPILOT_BRIDGE_SECRETS_DIR), where a run may release more
// token files (agent-NAME) as `npm run up` would. The project is named
// cbs-e2e-<pid>-<random> (and COMPOSE_PROJECT_NAME says so, as compose.yml
// reads it); teardown removes every container, network and volume of it,
// agents included, also when a test or the start failed, and unmounts the tmpfs.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Compose, findCompose } from '../../../host-seal/stack/compose.js';
import { fakeServiceAccountToken } from '../../fixtures/tokens.js';
import { writeVault } from '../../fixtures/vault.js';
import { removeAgents, removeProject } from './cleanup.js';
import type { TestImages } from './images.js';
import { FIXTURES, PROJECT_PREFIX, ROOT } from './paths.js';
import { attempt, childEnv, docker, type RunResult, run } from './run.js';
import { waitFor } from './wait.js';

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

export interface StackOptions {
  /** How long the Mattermost stand-in answers its ping with 503 after each start. */
  pingDelayMs?: number;
  /** More bots the Mattermost stand-in accepts besides the admin's (agents'), by bot token. */
  bots?: StandinBot[];
  /** More released token files, by name (agent-lal...), written root 0400 next to op-sa-token. */
  released?: Record<string, string>;
  /** The agents of the agents file (its JSON: { agents: [...] }); the harness adds the admin's entry. */
  agents?: { agents: unknown[] };
  /** The socket the guard is given as the Docker socket (DOCKER_SOCKET; a recording relay, say). */
  dockerSocket?: string;
}

export interface StandinBot {
  token: string;
  username: string;
}

const OVERRIDE = join(FIXTURES, 'compose.test-override.yml');
const VAULT = 'copilot-bridge';
const lowerAlnum = (n: number) =>
  Array.from(randomBytes(n), (b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join('');

/** The admin's items in the vault (agents.example.json names them too), as random test values: its bot token and its GitHub token. */
export function stackItems(): Record<string, string> {
  return {
    [`op://${VAULT}/mattermost-admin-bot/token`]: lowerAlnum(26),
    [`op://${VAULT}/github-admin/token`]: lowerAlnum(40),
  };
}

/** The admin's entry of the agents file: its items, and a channel and a user that are plain settings. */
export function adminEntry(): Record<string, unknown> {
  return {
    botTokenItem: `op://${VAULT}/mattermost-admin-bot`,
    githubTokenItem: `op://${VAULT}/github-admin`,
    channels: [{ id: lowerAlnum(26), name: 'admin' }],
    users: [`e2e-admin-${lowerAlnum(8)}`],
  };
}

/**
 * The stand-ins' inputs, in `dir`: the fixture vault for the op stand-in (root
 * 0600: op reads it while the entrypoint is still root, the bridge user never
 * can) and the Mattermost stand-in's config, which names the accepted bot
 * token by its SHA-256 only.
 */
export function writeStandinInputs(
  dir: string,
  token: string,
  items: Record<string, string>,
  pingDelayMs: number,
  bots: readonly StandinBot[] = [],
): void {
  writeVault(join(dir, 'vault.json'), token, items);
  chmodSync(join(dir, 'vault.json'), 0o600);
  const botToken = items[`op://${VAULT}/mattermost-admin-bot/token`];
  const accepted = [...(botToken === undefined ? [] : [{ token: botToken, username: 'admin-bot' }]), ...bots];
  const standin = {
    pingDelayMs,
    bots: accepted.map((bot) => ({
      tokenSha256: createHash('sha256').update(bot.token).digest('hex'),
      username: bot.username,
    })),
  };
  writeFileSync(join(dir, 'mattermost.json'), JSON.stringify(standin), { mode: 0o644 });
}

/** What compose.yml and the test override read, except OP_SA_TOKEN_FILE; none of it is a secret of the vault. */
export function stackEnv(images: TestImages, standinDir: string, mattermostPort: number): Record<string, string> {
  return {
    // The suites that use this stand-in stack run on 1Password (the op stand-in); vault.e2e.ts sets vault.
    SECRETS_SOURCE: '1password',
    MM_BIND_ADDRESS: '127.0.0.1',
    MM_HTTP_PORT: String(mattermostPort),
    BRIDGE_IMAGE: images.bridge,
    E2E_POSTGRES_IMAGE: images.postgres,
    E2E_MATTERMOST_IMAGE: images.mattermost,
    E2E_STANDIN_DIR: standinDir,
  };
}

/** A fresh project name that carries this process's pid (for removeStaleProjects). */
export const projectName = () => `${PROJECT_PREFIX}${process.pid}-${lowerAlnum(6)}`;

/** The compose files of a test run, as COMPOSE_FILE lists them. */
export const COMPOSE_FILES = [join(ROOT, 'compose.yml'), OVERRIDE];

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export class Stack {
  private constructor(
    readonly project: string,
    readonly dir: string,
    readonly token: string,
    readonly items: Record<string, string>,
    readonly mattermostPort: number,
    private readonly tool: Compose,
    private readonly env: Record<string, string>,
  ) {}

  /** Writes the secrets and stand-in inputs, registers teardown, and runs `compose up -d`. */
  static async up(t: Teardown, images: TestImages, options: StackOptions = {}): Promise<Stack> {
    const project = projectName();
    const dir = mkdtempSync(join(tmpdir(), 'cbs-e2e-'));
    let stack: Stack | undefined;
    // One teardown, registered before anything can fail: the project first, then the tmpfs.
    t.teardown(async () => {
      await stack?.destroy();
      await removeProject(project);
      await attempt('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    });
    // The release directory, as `npm run up` makes it: tmpfs, 0700, root only.
    await run('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', dir]);
    const token = fakeServiceAccountToken();
    const items = stackItems();
    const tokenFile = join(dir, 'op-sa-token');
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o400 });
    for (const [name, value] of Object.entries(options.released ?? {}))
      writeFileSync(join(dir, name), `${value}\n`, { mode: 0o400 });
    writeStandinInputs(dir, token, items, options.pingDelayMs ?? 3000, options.bots);
    const agentsFile = join(dir, 'agents.json');
    writeFileSync(agentsFile, JSON.stringify({ admin: adminEntry(), agents: options.agents?.agents ?? [] }, null, 2), {
      mode: 0o644,
    });
    const mattermostPort = await freePort();
    const env = childEnv({
      ...stackEnv(images, dir, mattermostPort),
      COMPOSE_PROJECT_NAME: project,
      OP_SA_TOKEN_FILE: tokenFile,
      COPILOT_BRIDGE_SECRETS_DIR: dir,
      COPILOT_BRIDGE_RELEASED: ['op-sa-token', ...Object.keys(options.released ?? {})].join(','),
      AGENTS_FILE: agentsFile,
      ...(options.dockerSocket === undefined ? {} : { DOCKER_SOCKET: options.dockerSocket }),
    });
    const tool = await findCompose(env);
    stack = new Stack(project, dir, token, items, mattermostPort, tool, env);
    await stack.compose(['up', '-d', '--no-build'], 300_000);
    return stack;
  }

  /** Every secret value of this run: the token and each vault item (agents' secrets are the caller's to add). */
  secrets(): string[] {
    return [this.token, ...Object.values(this.items)];
  }

  /** The compose-made network agents join. */
  get agentNetwork(): string {
    return `${this.project}_mattermost-net`;
  }

  get composeLabel(): string {
    return this.tool.label;
  }

  /** Runs a compose subcommand on this project; throws unless it exits 0. */
  compose(args: string[], timeoutMs = 120_000): Promise<string> {
    return run(
      this.tool.file,
      [...this.tool.prefix, '-p', this.project, ...COMPOSE_FILES.flatMap((f) => ['-f', f]), ...args],
      { env: this.env, cwd: ROOT, timeoutMs },
    );
  }

  composeAttempt(args: string[], timeoutMs = 120_000): Promise<RunResult> {
    return attempt(
      this.tool.file,
      [...this.tool.prefix, '-p', this.project, ...COMPOSE_FILES.flatMap((f) => ['-f', f]), ...args],
      { env: this.env, cwd: ROOT, timeoutMs },
    );
  }

  /** The id of a service's container. */
  async container(service: string): Promise<string> {
    const id = (await this.compose(['ps', '-q', service])).trim();
    if (!id) throw new Error(`service ${service} of ${this.project} has no container`);
    return id;
  }

  async inspect(service: string): Promise<ContainerState> {
    return JSON.parse(await docker(['inspect', await this.container(service)]))[0] as ContainerState;
  }

  async health(service: string): Promise<string> {
    const state = (await this.inspect(service)).State;
    return state.Health?.Status ?? state.Status;
  }

  async waitHealthy(service: string, timeoutMs: number): Promise<void> {
    await waitFor(
      `${service} of ${this.project} to be healthy`,
      async () => (await this.health(service)) === 'healthy',
      {
        timeoutMs,
        intervalMs: 500,
        detail: async () =>
          `${service} is ${await this.health(service).catch(() => '?')}; its last log lines:\n${await this.logsTail(service)}`,
      },
    );
  }

  async logsTail(service: string, lines = 20): Promise<string> {
    const result = await attempt('docker', ['logs', '--tail', String(lines), await this.container(service)]);
    return `${result.stdout}\n${result.stderr}`.trim();
  }

  /** `docker exec` in a service's container. */
  async exec(service: string, argv: string[], options: { user?: string } = {}): Promise<RunResult> {
    return attempt(
      'docker',
      ['exec', ...(options.user ? ['-u', options.user] : []), await this.container(service), ...argv],
      { timeoutMs: 60_000 },
    );
  }

  /** GET on the Mattermost stand-in, through its published port. */
  async mattermost(path: string): Promise<unknown> {
    const response = await fetch(`http://127.0.0.1:${this.mattermostPort}${path}`, {
      signal: AbortSignal.timeout(5000),
    });
    return response.json();
  }

  /** Every authentication attempt the Mattermost stand-in saw (hashes only). */
  async authLog(): Promise<AuthEvent[]> {
    return ((await this.mattermost('/__standin/auth-log')) as { events: AuthEvent[] }).events;
  }

  /** Removes the agents first (they hold mattermost-net), then compose down -v (the teardown then removes whatever of the project is left, and the tmpfs). */
  async destroy(): Promise<void> {
    await removeAgents(this.project);
    await this.composeAttempt(['down', '-v', '--remove-orphans', '-t', '10'], 180_000);
  }
}

/** One authentication attempt at the Mattermost stand-in. */
export interface AuthEvent {
  at: string;
  endpoint: string;
  tokenSha256: string | null;
  ok: boolean;
}

export interface ContainerState {
  Id: string;
  Name: string;
  Created: string;
  RestartCount: number;
  Config: {
    Env: string[];
    Labels: Record<string, string>;
    User: string;
    Cmd?: string[];
    Healthcheck?: { Test?: string[] };
  };
  HostConfig: Record<string, unknown>;
  State: {
    Status: string;
    Pid: number;
    ExitCode: number;
    StartedAt: string;
    FinishedAt: string;
    Health?: { Status: string; Log: Array<{ Start: string; End: string; ExitCode: number; Output: string }> };
  };
  NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
}
