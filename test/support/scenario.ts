// A complete, real stage for the entrypoint: a tmpfs mount for the rendered
// config, a root-only token file, the fixture vault (where the op stand-in at
// the test build's fixed path finds it), the bridge stand-in copied where the
// unprivileged bridge user can run it, and a home directory owned by that
// user. Everything is removed in teardown. The entrypoint is the test build
// (test-build.ts): the image's bundle with op's fixed path at the stand-in.
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa, execaSync } from 'execa';
import { fakeServiceAccountToken } from '../fixtures/tokens.js';
import { hostVault, standardItems, type VaultBehaviour } from '../fixtures/vault.js';
import { NODE_FLAGS, requireTestBuild, TEST_ENTRYPOINT, TEST_NODE } from './test-build.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
const ENTRYPOINT = TEST_ENTRYPOINT;
export const CLEAN_ENV = join(ROOT, 'test', 'support', 'clean-env');
export const BRIDGE_UID = 65534;
export const BRIDGE_GID = 65534;

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

export interface Scenario {
  dir: string;
  /** The tmpfs mount point; the config goes to `${tmpfs}/config.json`. */
  tmpfs: string;
  output: string;
  tokenFile: string;
  token: string;
  items: Record<string, string>;
  template: string;
  home: string;
  bin: string;
  env: Record<string, string>;
  /** Every secret value of this scenario: the token and each vault item. */
  secrets(): string[];
}

export interface ScenarioOptions {
  items?: Record<string, string> | undefined;
  template?: string | undefined;
  /** The op stand-in's knobs for this scenario's token. */
  behaviour?: VaultBehaviour | undefined;
}

/** Mounts a fresh tmpfs (mode 1777, like /tmp) and unmounts it in teardown. */
function mountTmpfs(t: Teardown, dir: string): string {
  mkdirSync(dir, { recursive: true });
  execaSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=1777', 'tmpfs', dir]);
  t.teardown(() => {
    execaSync('umount', ['-l', dir], { reject: false });
  });
  return dir;
}

export function scenario(t: Teardown, options: ScenarioOptions = {}): Scenario {
  requireTestBuild();
  const dir = mkdtempSync(join(tmpdir(), 'cbs-entrypoint-'));
  chmodSync(dir, 0o755);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tmpfs = mountTmpfs(t, join(dir, 'tmpfs'));
  const secretsDir = join(dir, 'secrets');
  mkdirSync(secretsDir, { mode: 0o755 });
  const token = fakeServiceAccountToken();
  const tokenFile = join(secretsDir, 'op_sa_token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const items = options.items ?? standardItems();
  hostVault(t, token, items, options.behaviour);
  const template = join(dir, 'config.json.tpl');
  writeFileSync(template, options.template ?? readFileSync(join(ROOT, 'test', 'fixtures', 'config.json.tpl'), 'utf8'));
  const bin = join(dir, 'bin');
  cpSync(join(ROOT, 'test', 'fixtures', 'copilot-bridge'), join(bin, 'copilot-bridge-fixture'), { recursive: true });
  mkdirSync(join(bin, 'path'));
  execaSync('ln', ['-s', '../copilot-bridge-fixture/bin/copilot-bridge.js', join(bin, 'path', 'copilot-bridge')]);
  execaSync('chmod', ['-R', 'a+rX', bin]);
  const home = join(dir, 'home');
  mkdirSync(home, { mode: 0o700 });
  chownSync(home, BRIDGE_UID, BRIDGE_GID);
  const env: Record<string, string> = {
    PATH: `${join(bin, 'path')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: home,
    LANG: 'C.UTF-8',
    OP_SERVICE_ACCOUNT_TOKEN_FILE: tokenFile,
    BRIDGE_CONFIG_TEMPLATE: template,
    BRIDGE_CONFIG_OUT: join(tmpfs, 'config.json'),
    BRIDGE_RUN_AS: `${BRIDGE_UID}:${BRIDGE_GID}`,
    AGENT_ITEM: 'lal',
    STANDIN_OFFLINE: '1',
  };
  return {
    dir,
    tmpfs,
    output: env.BRIDGE_CONFIG_OUT!,
    tokenFile,
    token,
    items,
    template,
    home,
    bin,
    env,
    secrets: () => [token, ...Object.values(items)],
  };
}

export interface Run {
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
}

/** Node and its flags as the launcher runs the entrypoint (Node 24, --disable-sigusr1), then the entrypoint: the head of every argv below. */
export const ENTRYPOINT_ARGV: readonly string[] = [TEST_NODE, ...NODE_FLAGS, ENTRYPOINT];

/** Runs the built entrypoint with exactly this environment. */
export async function runEntrypoint(env: Record<string, string>, args: string[] = []): Promise<Run> {
  const result = await execa(CLEAN_ENV, [...ENTRYPOINT_ARGV, ...args], {
    env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: 60_000,
  });
  return { exitCode: result.exitCode, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

/** Starts the built entrypoint in the background (its own process group when `detached`). */
export function startEntrypoint(
  env: Record<string, string>,
  args: string[] = [],
  options: { detached?: boolean; prefix?: string[] } = {},
) {
  const argv = [...(options.prefix ?? []), CLEAN_ENV, ...ENTRYPOINT_ARGV, ...args];
  return execa(argv[0]!, argv.slice(1), {
    env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    detached: options.detached ?? false,
    timeout: 60_000,
  });
}

/** Polls until a marker file exists and has its content (a writer creates it empty first), failing with its name after the timeout. */
export async function waitForFile(file: string, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      // Not there yet.
    }
    if (text) return text;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${file}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export { execa };

/**
 * Puts the scenario on the local vault: the secret file then holds a vault
 * document of the scenario's items (op://VAULT/ITEM/FIELD as ITEM/FIELD), as
 * `npm run up` releases a bridge's part of the vault. Returns the environment
 * that says so (BRIDGE_SECRETS_SOURCE=vault, as compose.yml sets it).
 */
export function useLocalVault(s: Scenario, items: Record<string, string> = s.items): Record<string, string> {
  const local = Object.fromEntries(
    Object.entries(items).map(([ref, value]) => [ref.replace(/^op:\/\/[^/]+\//, ''), value]),
  );
  writeFileSync(s.tokenFile, `${JSON.stringify({ format: 'copilot-bridge-stack/vault/1', items: local })}\n`, {
    mode: 0o600,
  });
  return { BRIDGE_SECRETS_SOURCE: 'vault' };
}
