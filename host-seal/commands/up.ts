// `up`: one honest command. Before anything is released: the engine answers,
// the compose files exist and read, and a missing image of the stack's own is
// built. Then, under the stack lock: release the names the stack uses (the
// shared token, and agent-NAME for each agent of the agents file) into the
// tmpfs release directory, run `compose up -d` with the paths in that one
// command's environment, and wait until the services report healthy; a
// restart or a failed exit ends the wait with the service's last log lines.
// Ctrl-C (or SIGTERM, SIGHUP) stops the wait, says what still runs, and wipes
// what was released unless a container of the stack still mounts it; so
// does any failure. PostgreSQL starts first, alone, and its roles are made
// what the stack needs before Mattermost starts (database.ts).
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { PROJECT_LABEL, VAULT_CREDENTIAL } from '../../src/contract.js';
import { ExitCode, StackError } from '../../src/errors.js';
import { redact } from '../../src/redact/index.js';
import { SecretSet } from '../../src/secrets/secret-set.js';
import { secretsSource } from '../../src/stack/settings.js';
import { backend, contextOf, sealedNames } from '../backends/registry.js';
import type { Io } from '../io.js';
import { withLock } from '../lock.js';
import { type OptionSpec, type Parsed, secondsOption } from '../options.js';
import { DB_PASSWORD_NAME, DEFAULT_NAME } from '../paths.js';
import { authFileOf, readAuth } from '../secret-input.js';
import { compose, waitHealthy } from '../stack/compose.js';
import { prepareDatabase } from '../stack/database.js';
import { preflight, whilePulling } from '../stack/preflight.js';
import { prepareReleaseDir, releaseMode, releaseToken, wipeReleased, wipeReleasedName } from '../stack/release.js';
import { composeEnv, namesInUse, openStack, type Stack } from '../stack/stack.js';
import { planSubsets } from '../stack/vault-release.js';
import { loadVault } from '../vault-store.js';

export const options: OptionSpec = { file: 'strings', timeout: 'string', 'auth-file': 'string' };

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** macOS keeps released tokens on disk while the stack runs (docs/macos.md); say so when that disk is not encrypted. */
async function warnWithoutFileVault(io: Io): Promise<void> {
  const { execa } = await import('execa'); // loaded only here (start-up budget: docs/performance.md)
  const status = await execa('fdesetup', ['status'], { reject: false, stdin: 'ignore' });
  if (/FileVault is Off/i.test(status.stdout)) {
    io.stderr.write(
      'up: warning: FileVault is off, so the released token sits unencrypted on disk while the stack runs; turn FileVault on (see docs/macos.md)\n',
    );
  }
}

/** Aborts on the first of SIGINT, SIGTERM and SIGHUP, and remembers which. */
function interruptions(): { signal: AbortSignal; which: () => NodeJS.Signals | undefined; dispose: () => void } {
  const controller = new AbortController();
  let which: NodeJS.Signals | undefined;
  const handler = (received: NodeJS.Signals) => {
    which ??= received;
    controller.abort();
  };
  for (const name of SIGNALS) process.on(name, handler);
  return {
    signal: controller.signal,
    which: () => which,
    dispose: () => SIGNALS.forEach((name) => process.off(name, handler)),
  };
}

/** After a failure or an interruption: wipe what was released unless a container of the stack runs on it; say which. */
async function settle(stack: Stack, extra: Record<string, string>, io: Io): Promise<void> {
  const running = await runningContainers(stack, extra);
  // Only a container that mounts a released file runs on it (a bridge, an agent): postgres or Mattermost alone do not.
  const onTokens = running.filter((c) => c.mounts.some((source) => dirname(source) === stack.dir));
  if (onTokens.length > 0) {
    io.stderr.write(
      `up: ${onTokens.length} container(s) of the stack still run on the released tokens (${onTokens.map((c) => c.name).join(', ')}); npm run down stops them and wipes the tokens\n`,
    );
    return;
  }
  const { wiped, failed } = await wipeReleased(stack.dir, io.platform);
  if (wiped.length > 0)
    io.stderr.write(
      running.length > 0
        ? `up: wiped the ${wiped.length} released token file(s) again; still running on none of them: ${running.map((c) => c.name).join(', ')} (npm run down stops them)\n`
        : `up: nothing of the stack runs; wiped the ${wiped.length} released token file(s) again\n`,
    );
  for (const entry of failed) io.stderr.write(`up: could not wipe ${entry}; remove it by hand\n`);
}

/** The stack's running (or restarting) containers, its services' and its agents', with their mounts' sources. */
async function runningContainers(
  stack: Stack,
  extra: Record<string, string>,
): Promise<Array<{ name: string; mounts: string[] }>> {
  const { execa } = await import('execa');
  const env = { ...stack.env, ...extra };
  const docker = (args: string[]) => execa('docker', args, { env, extendEnv: false, reject: false, stdin: 'ignore' });
  const ids = new Set<string>();
  for (const label of [`com.docker.compose.project=${stack.project}`, `${PROJECT_LABEL}=${stack.project}`]) {
    const ps = await docker(['ps', '-q', '--filter', `label=${label}`]);
    // An engine that does not answer: nothing can be told to run, and nothing is wiped under a container it hides.
    if (ps.failed) return [{ name: 'the stack (the engine did not answer)', mounts: [join(stack.dir, '?')] }];
    for (const id of String(ps.stdout).split('\n')) if (id.trim()) ids.add(id.trim());
  }
  if (ids.size === 0) return [];
  const inspected = await docker(['inspect', '--format', '{{.Name}}\t{{json .Mounts}}', ...ids]);
  return String(inspected.stdout)
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name = '?', mounts = '[]'] = line.split('\t');
      let sources: string[] = [];
      try {
        sources = (JSON.parse(mounts) as Array<{ Source: string }>).map((m) => m.Source);
      } catch {
        sources = [join(stack.dir, '?')];
      }
      return { name: name.replace(/^\//, ''), mounts: sources };
    });
}

export async function run(parsed: Parsed, io: Io): Promise<void> {
  const context = contextOf(io);
  const timeout = secondsOption(parsed, 'timeout', 300);
  const authFile = authFileOf(parsed);
  const stack = await openStack(parsed, io);
  const interrupt = interruptions();
  try {
    await withLock({ dir: context.configDir, name: 'stack', what: 'up', progress: io.stderr }, () =>
      bringUp(stack, io, { timeout, authFile, interrupt }),
    );
  } catch (error) {
    const received = interrupt.which();
    if (received === undefined) throw error;
    throw new StackError('interrupted', `up was interrupted (${received}); see above what still runs`, {
      step: 'up',
      exitCode: ExitCode.interrupted,
    });
  } finally {
    interrupt.dispose();
  }
}

/** One file `up` releases: its name, what it is (for the progress line), and how to get its content. */
interface Release {
  name: string;
  what: string;
  /** The content, and the secret values in it (to mask output). */
  value: () => Promise<{ text: string; secrets: string[] }>;
}

/** With 1Password: the sealed tokens the stack and its agents use (op-sa-token, agent-NAME), unsealed one by one when released. */
async function tokenReleases(stack: Stack, io: Io, authFile: string | undefined): Promise<Release[]> {
  const context = contextOf(io);
  const sealed = [...new Map((await sealedNames(context)).map((entry) => [entry.name, entry])).values()];
  if (!sealed.some((entry) => entry.name === DEFAULT_NAME)) {
    throw new StackError(
      'not-sealed',
      `nothing is sealed under ${DEFAULT_NAME}, the token the stack runs on (SECRETS_SOURCE=1password); seal it first: op read "op://..." | npm run --silent seal`,
      { step: 'up', exitCode: ExitCode.noInput },
    );
  }
  const used = namesInUse(stack.settings, stack.projectDir);
  for (const entry of sealed) {
    if (!used.includes(entry.name) && entry.name !== DB_PASSWORD_NAME)
      io.stderr.write(`up: not releasing ${entry.name} (no agent of the agents file uses it)\n`);
  }
  return sealed
    .filter((entry) => used.includes(entry.name))
    .map((entry) => ({
      name: entry.name,
      what: entry.backend,
      value: async () => {
        const token = await backend(entry.backend, context).unseal(entry.name, {
          askAuth: () => readAuth(io, authFile, false),
        });
        return { text: token, secrets: [token] };
      },
    }));
}

/** With the local vault: each bridge's own part of it (vault-admin, vault-agent-NAME), cut from the vault unsealed once. */
async function vaultReleases(stack: Stack, io: Io, authFile: string | undefined): Promise<Release[]> {
  const sealed = await sealedNames(contextOf(io));
  if (!sealed.some((entry) => entry.name === VAULT_CREDENTIAL)) {
    throw new StackError(
      'not-sealed',
      `nothing is sealed under ${VAULT_CREDENTIAL}, the local vault the stack runs on (SECRETS_SOURCE=vault); npm run init fills it, or npm run vault -- set ITEM/FIELD (to run on 1Password instead: SECRETS_SOURCE=1password in .env)`,
      { step: 'up', exitCode: ExitCode.noInput },
    );
  }
  for (const entry of sealed) {
    if (entry.name !== VAULT_CREDENTIAL && entry.name !== DB_PASSWORD_NAME)
      io.stderr.write(
        `up: not releasing ${entry.name} (SECRETS_SOURCE=vault: the bridges get their parts of the local vault)\n`,
      );
  }
  const vault = await loadVault(io, authFile);
  const plan = planSubsets(
    vault.items,
    resolve(stack.projectDir, stack.settings.AGENTS_FILE!),
    stack.projectDir,
    stack.settings,
  );
  for (const skipped of plan.skipped) io.stderr.write(`up: warning: agent ${skipped}; it cannot start until then\n`);
  return plan.subsets.map((subset) => ({
    name: subset.name,
    what: `${subset.values.length} item(s) of the local vault for ${subset.bridge}`,
    value: async () => ({ text: subset.document, secrets: subset.values }),
  }));
}

async function bringUp(
  stack: Stack,
  io: Io,
  o: { timeout: number; authFile: string | undefined; interrupt: ReturnType<typeof interruptions> },
): Promise<void> {
  const context = contextOf(io);
  const { signal } = o.interrupt;
  const releases =
    secretsSource(stack.settings) === 'vault'
      ? await vaultReleases(stack, io, o.authFile)
      : await tokenReleases(stack, io, o.authFile);
  const extra = composeEnv(
    stack.dir,
    releases.map((entry) => entry.name),
  );
  const { images, missing } = await preflight(stack, extra, io, signal);
  const values: string[] = [];
  let stale: string[] = [];
  const dir = await prepareReleaseDir(stack.dir, io.platform);
  if (io.platform === 'darwin') await warnWithoutFileVault(io);
  try {
    try {
      for (const entry of releases) {
        signal.throwIfAborted();
        const { text, secrets } = await entry.value();
        values.push(...secrets);
        const path = await releaseToken(dir, entry.name, text, releaseMode());
        io.stderr.write(`up: released ${entry.name} (${entry.what}) to ${path}\n`);
      }
      // What an earlier up released and this one does not (an item removed, an agent gone): no container may start on
      // it.
      stale = readdirSync(dir.entry('.')).filter(
        (name) => !name.startsWith('.') && !releases.some((entry) => entry.name === name),
      );
    } finally {
      dir.close();
    }
    for (const name of stale) {
      await wipeReleasedName(stack.dir, io.platform, name);
      io.stderr.write(
        `up: wiped ${name}, released before and not now (a running container keeps what it read; it will not start on it again)\n`,
      );
    }
    await whilePulling({ ...stack.env, ...extra }, missing, async () => {
      await prepareDatabase(stack, extra, images.mattermost, context, io, signal);
      io.stderr.write(`up: ${stack.tool.label} up -d\n`);
      await compose(stack.tool, [...stack.files, 'up', '-d'], io.env, extra, io.stderr, signal);
    });
    const secrets = new SecretSet(values.map((value, i) => ({ label: `released #${i}`, value })));
    await waitHealthy({ ...stack, extra, mask: (text) => redact(secrets, text) }, o.timeout, io.stderr, signal);
  } catch (error) {
    await settle(stack, extra, io);
    throw error;
  }
}
