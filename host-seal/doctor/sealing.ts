// doctor's checks of where secrets live on this host: the TPM (device or
// socket, resource manager, TPM2TOOLS_TCTI, tpm2-tools, PCR banks) or the
// keychain; every sealed credential, unsealed as a dry run (the value is
// compared by fingerprint, never printed, and dropped at once); the release
// directory's RAM; and, only with --online, whether `op` reaches its account.
import { existsSync, statfsSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { readAgentsFile } from '../../src/agents/agents-file.js';
import type { SecretsSource } from '../../src/contract.js';
import { agentCredential, SHARED_TOKEN, VAULT_CREDENTIAL } from '../../src/contract.js';
import { ExitCode, StackError } from '../../src/errors.js';
import { parseVault } from '../../src/vault/document.js';
import type { BackendContext } from '../backends/backend.js';
import { tokenFingerprint } from '../backends/fingerprint.js';
import { backend, sealedNames } from '../backends/registry.js';
import { parseTcti } from '../backends/tpm2/transport.js';
import type { Io } from '../io.js';
import { readAuth } from '../secret-input.js';
import { openReleaseDir, ROOT_DEFAULT } from '../stack/release.js';
import { planSubsets } from '../stack/vault-release.js';
import { type Finding, fail, failed, firstLine, ok, warn } from './finding.js';

type Run = (file: string, args: string[]) => Promise<{ failed: boolean; stdout: string; stderr: string }>;

const TMPFS_MAGIC = 0x01021994;

/** The TPM, when this host seals with one (TPM2TOOLS_TCTI set, or /dev/tpmrm0 present); else which store it uses. */
export async function tpm(context: BackendContext, run: Run): Promise<Finding[]> {
  const tcti = context.env.TPM2TOOLS_TCTI;
  if (context.platform === 'darwin') return [ok('sealing', 'the macOS Keychain (keychain backend)')];
  if (!tcti && !existsSync('/dev/tpmrm0'))
    return [
      warn(
        'tpm',
        'none found (/dev/tpmrm0 is missing and TPM2TOOLS_TCTI is unset): the keychain backend (Secret Service) is used',
        'enable the TPM 2.0 in the firmware settings for sealing in hardware',
      ),
      await secretService(context.env, run),
    ];
  const out: Finding[] = [];
  const endpoint = parseTcti(tcti ?? 'device:/dev/tpmrm0');
  if (!endpoint) {
    out.push(
      fail(
        'tpm',
        `TPM2TOOLS_TCTI=${tcti} is not a TCTI this tool speaks`,
        'use device:/dev/tpmrm0, swtpm:path=SOCKET or swtpm:host=HOST,port=PORT',
        ExitCode.config,
      ),
    );
    return out;
  }
  if (endpoint.kind === 'device') {
    let isDevice = false;
    try {
      isDevice = statSync(endpoint.path).isCharacterDevice();
    } catch {
      // reported below
    }
    if (!isDevice)
      out.push(
        fail(
          'tpm',
          `${endpoint.path} is missing or not a device`,
          'enable the TPM 2.0, or set TPM2TOOLS_TCTI',
          ExitCode.unavailable,
        ),
      );
    else if (/\/tpm\d+$/.test(endpoint.path))
      out.push(
        warn(
          'tpm',
          `${endpoint.path} (no resource manager: one process at a time)`,
          'use /dev/tpmrm0 (TPM2TOOLS_TCTI=device:/dev/tpmrm0)',
        ),
      );
    else out.push(ok('tpm', `${endpoint.path} (the kernel's resource manager)`));
  } else {
    const where = endpoint.kind === 'unix' ? endpoint.path : `${endpoint.host}:${endpoint.port}`;
    const why = await reachable(endpoint);
    if (why)
      out.push(
        fail(
          'tpm',
          `TPM2TOOLS_TCTI=${tcti}: nothing answers at ${where} (${why})`,
          'start the TPM simulator (swtpm socket) or correct TPM2TOOLS_TCTI',
          ExitCode.unavailable,
        ),
      );
    else out.push(ok('tpm', `TPM2TOOLS_TCTI=${tcti} answers (a simulator: no resource manager in front)`));
  }
  if (out.some((f) => f.status === 'fail')) return out;
  const version = await run('tpm2_getcap', ['--version']);
  const tools = /version="([^"]+)"/.exec(version.stdout)?.[1];
  if (version.failed || !tools) {
    out.push(fail('tpm2-tools', 'not installed', 'apt-get install tpm2-tools', ExitCode.unavailable));
    return out;
  }
  out.push(ok('tpm2-tools', tools));
  const pcrs = await run('tpm2_getcap', ['pcrs']);
  const banks = [...pcrs.stdout.matchAll(/^\s*-?\s*(sha\w+|sm3_256):/gm)].map((m) => m[1]!);
  if (pcrs.failed)
    out.push(
      fail(
        'pcr banks',
        `the TPM did not answer (${pcrs.stderr.trim().split('\n')[0]})`,
        'check the TPM',
        ExitCode.unavailable,
      ),
    );
  else if (!banks.includes('sha256'))
    out.push(
      fail(
        'pcr banks',
        `${banks.join(', ') || 'none'} (no sha256 bank)`,
        'enable the sha256 PCR bank in the firmware',
        ExitCode.unavailable,
      ),
    );
  else out.push(ok('pcr banks', banks.join(', ')));
  return out;
}

/**
 * The Secret Service the keychain backend seals in: a session bus, a service
 * that owns org.freedesktop.secrets on it, and whether its default keyring is
 * locked (asked with dbus-send, the D-Bus reference tool; nothing is read from
 * the keyring, and nothing is unlocked).
 */
async function secretService(env: NodeJS.ProcessEnv, run: Run): Promise<Finding> {
  const check = 'secret service';
  const uid = process.getuid?.();
  if (!env.DBUS_SESSION_BUS_ADDRESS && !(uid !== undefined && existsSync(`/run/user/${uid}/bus`)))
    return fail(
      check,
      'no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset), so no Secret Service and no TPM to seal with',
      'run this from a desktop login session, start a keyring (dbus-run-session, then gnome-keyring-daemon --unlock --components=secrets), or enable the TPM',
      ExitCode.unavailable,
    );
  const ask = (path: string, ...args: string[]) =>
    run('dbus-send', [
      '--session',
      '--print-reply',
      '--reply-timeout=5000',
      '--dest=org.freedesktop.secrets',
      path,
      ...args,
    ]);
  const alias = await ask('/org/freedesktop/secrets', 'org.freedesktop.Secret.Service.ReadAlias', 'string:default');
  const said = firstLine(alias.stderr);
  if (alias.failed && /ENOENT/.test(said))
    return warn(
      check,
      'dbus-send is not installed, so whether a Secret Service answers cannot be told',
      'apt-get install dbus-bin',
    );
  if (alias.failed && /ServiceUnknown|NameHasNoOwner|not provided/i.test(said))
    return fail(
      check,
      'nothing on the session bus provides org.freedesktop.secrets',
      'start a keyring (gnome-keyring-daemon --unlock --components=secrets, password on stdin) or log in to a desktop session',
      ExitCode.unavailable,
    );
  if (alias.failed) return warn(check, `it does not answer (${said})`, 'check the keyring daemon of your session');
  const collection = /object path "([^"]+)"/.exec(alias.stdout)?.[1];
  if (!collection || collection === '/')
    return warn(
      check,
      'answers, but has no default keyring to seal in',
      'create the login keyring (log in to a desktop session, or gnome-keyring-daemon --unlock, password on stdin)',
    );
  const locked = await ask(
    collection,
    'org.freedesktop.DBus.Properties.Get',
    'string:org.freedesktop.Secret.Collection',
    'string:Locked',
  );
  if (locked.failed)
    return warn(
      check,
      `its default keyring does not answer (${firstLine(locked.stderr)})`,
      'check the keyring daemon of your session',
    );
  if (/boolean true/.test(locked.stdout))
    return warn(
      check,
      'the default keyring is locked: an unseal from it fails until it is unlocked',
      'unlock it from your desktop session (or gnome-keyring-daemon --unlock, password on stdin)',
    );
  return ok(check, 'answers on the session bus; the default keyring is unlocked');
}

function reachable(endpoint: { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string }) {
  return new Promise<string | undefined>((resolve) => {
    const socket =
      endpoint.kind === 'unix' ? connect(endpoint.path) : connect({ host: endpoint.host, port: endpoint.port });
    socket.setTimeout(5000, () => {
      socket.destroy();
      resolve('timed out');
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/**
 * Every sealed credential, and every name the stack needs: unsealed as a dry
 * run, its fingerprint compared with the one recorded at seal time. A name
 * the stack needs that is not sealed is a failure.
 */
/** What unsealing taught this run: whose auth value the TPM refused (not sent again), and the values seen (masked). */
export interface AuthTries {
  refusedBy?: string;
  values: string[];
  /** The local vault's items, when the dry run unsealed it: which bridges it can start. */
  vault?: Map<string, string>;
}

const AUTH_REFUSALS = new Set(['tpm-auth-failed', 'tpm-lockout']);

/** Whether `error` is the TPM refusing an auth value (which counts toward its lockout), and records it. */
function countRefusal(tries: AuthTries, name: string, error: unknown): void {
  if (error instanceof StackError && AUTH_REFUSALS.has(error.code)) tries.refusedBy ??= name;
}

export async function sealed(
  context: BackendContext,
  needed: string[],
  io: Io,
  authFile: string | undefined,
  tries: AuthTries = { values: [] },
  source?: SecretsSource,
  used?: readonly string[],
): Promise<Finding[]> {
  const out: Finding[] = [];
  const names = await sealedNames(context);
  for (const name of needed.filter((n) => !names.some((s) => s.name === n)))
    out.push(
      fail(
        `sealed ${name}`,
        'not sealed, and the stack uses it',
        name === 'vault'
          ? 'npm run init, or npm run vault -- set ITEM/FIELD'
          : 'op read "op://vault/item/credential" | npm run seal',
        ExitCode.noInput,
      ),
    );
  for (const entry of names) {
    const check = `sealed ${entry.name}`;
    const store = backend(entry.backend, context);
    const record = await store.describe(entry.name);
    if (!record) continue;
    if (record.problem) {
      out.push(fail(check, record.problem, 'see the message', ExitCode.dataErr));
      continue;
    }
    // An auth value goes only to a credential this stack uses: each refusal counts toward the TPM's lockout.
    if (record.auth && used === undefined) {
      out.push(
        warn(
          check,
          `${entry.backend}, needs an auth value: not unsealed, as which credentials the stack uses cannot be told (see the agents file's line)`,
          'fix the agents file, then run doctor again',
        ),
      );
      continue;
    }
    if (record.auth && !used!.includes(entry.name)) {
      out.push(
        ok(check, `${entry.backend}, fingerprint ${record.fingerprint} (this stack does not use it: not unsealed)`),
      );
      continue;
    }
    if (record.auth && !authFile) {
      out.push(warn(check, `${entry.backend}, needs an auth value: not unsealed`, 'pass --auth-file FILE to try it'));
      continue;
    }
    if (record.auth && tries.refusedBy !== undefined) {
      out.push(
        warn(
          check,
          `${entry.backend}: not tried, the TPM refused this auth value for ${tries.refusedBy} (each refusal counts toward its dictionary-attack lockout)`,
          `run doctor --auth-file with this credential's own auth value`,
        ),
      );
      continue;
    }
    try {
      const value = await store.unseal(entry.name, {
        askAuth: () => readAuth(io, authFile, false),
        leaveNoCache: true,
      });
      const items = itemsOf(entry.name, value);
      tries.values.push(value, ...items.values());
      if (entry.name === VAULT_CREDENTIAL) tries.vault = items;
      const fingerprint = tokenFingerprint(value);
      if (fingerprint === record.fingerprint)
        out.push(ok(check, `${entry.backend}: unseals, fingerprint ${fingerprint} as sealed`));
      else
        out.push(
          fail(
            check,
            `${entry.backend}: unseals to another value than was sealed (fingerprint ${fingerprint}, sealed ${record.fingerprint})`,
            `seal it again: npm run seal -- --name ${entry.name} --force`,
            ExitCode.dataErr,
          ),
        );
    } catch (error) {
      if (record.auth) countRefusal(tries, entry.name, error);
      out.push(failed(check, error));
    }
  }
  if (names.length === 0 && needed.length === 0)
    out.push(
      warn(
        'sealed',
        'nothing sealed',
        source === '1password' ? 'op read "op://vault/item/credential" | npm run seal' : 'npm run init',
      ),
    );
  return out;
}

/** The release directory: proven safe when it exists, and in RAM with room. */
export async function releaseRoom(dir: string, platform: NodeJS.Platform): Promise<Finding> {
  const check = 'release directory';
  try {
    const opened = await openReleaseDir(dir, platform, false);
    opened?.close();
  } catch (error) {
    return failed(check, error);
  }
  const at = existsSync(dir) ? dir : dirname(dir);
  if (!existsSync(at))
    return fail(check, `${at} does not exist`, 'set XDG_RUNTIME_DIR to a tmpfs directory of yours', ExitCode.noInput);
  const fs = statfsSync(at);
  const free = fs.bavail * fs.bsize;
  // Only root's own default directory gets a tmpfs of its own from up; any other must already be in RAM.
  if (platform === 'linux' && !existsSync(dir) && process.getuid?.() === 0 && dir === ROOT_DEFAULT)
    return ok(check, `${dir}: up mounts a tmpfs of its own there (in ${at})`);
  if (platform === 'linux' && fs.type !== TMPFS_MAGIC)
    return fail(
      check,
      `${at} is not in RAM (not a tmpfs)`,
      'set XDG_RUNTIME_DIR to a tmpfs directory',
      ExitCode.noPerm,
    );
  if (free < 1024 * 1024)
    return fail(check, `${at} has ${Math.floor(free / 1024)} KiB free`, 'free some of that tmpfs', ExitCode.cantCreate);
  return ok(check, `${dir} (${platform === 'linux' ? 'tmpfs, ' : ''}${Math.floor(free / 1024 / 1024)} MiB free)`);
}

/** The host's op: present (the containers have their own); with --online, whether it reaches the account. */
export async function opCli(
  run: Run,
  online: boolean,
  token: (() => Promise<string>) | undefined,
  source?: SecretsSource,
): Promise<Finding> {
  const version = await run('op', ['--version']);
  if (version.failed)
    return online && source !== 'vault'
      ? fail(
          'op',
          'not installed on this host, so --online cannot try the account',
          'install 1Password CLI 2.x',
          ExitCode.unavailable,
        )
      : ok(
          'op',
          `not installed on this host (only init with SECRETS_SOURCE=1password needs it; the image has its own)${online ? ', so --online has no account to try' : ''}`,
        );
  if (!online) return ok('op', `${version.stdout.trim()} (--online tries the account)`);
  if (!token) return warn('op', `${version.stdout.trim()}; no service-account token is sealed to try`, 'npm run seal');
  let value: string;
  try {
    value = await token();
  } catch (error) {
    return failed('op', error);
  }
  const { execa } = await import('execa');
  // The token reaches op as 1Password's CLI takes it, in its environment: a child of ours that ends here.
  const whoami = await execa('op', ['whoami', '--format', 'json'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', OP_SERVICE_ACCOUNT_TOKEN: value },
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: 30_000,
  });
  if (whoami.failed) {
    // op's own reason picks the fix (a network error, or a token its account refuses); masked by the caller.
    const said = firstLine(
      String(whoami.stderr || whoami.stdout)
        .split(value)
        .join('<redacted>'),
    );
    return fail(
      'op',
      `the sealed token does not reach its account (op whoami: ${said || `exit ${whoami.exitCode}`})`,
      'check the network, or seal a valid token',
      ExitCode.unavailable,
    );
  }
  let account = 'its account';
  try {
    account = (JSON.parse(String(whoami.stdout)) as { url?: string }).url ?? account;
  } catch {
    // An op that answers whoami with other than JSON still reached the account.
  }
  return ok('op', `${version.stdout.trim()}: the sealed token reaches ${account}`);
}

/** The local vault's items, to mask each alone; nothing for another credential or a vault that does not parse. */
function itemsOf(name: string, value: string): Map<string, string> {
  if (name !== VAULT_CREDENTIAL) return new Map();
  try {
    return parseVault(value, 'the sealed local vault', 'doctor');
  } catch {
    return new Map();
  }
}

/**
 * What each agent of the agents file would run on: its own sealed token, the
 * shared one, or (with the local vault, once the dry run unsealed it) its
 * items; an agent that could not start is named with the fix, as up names it.
 */
export async function agentCredentials(
  context: BackendContext,
  source: SecretsSource,
  stack: { agentsFile: string; projectDir: string; settings: Record<string, string> },
  vault: Map<string, string> | undefined,
): Promise<Finding[]> {
  if (source === 'vault') {
    if (!vault) return [];
    try {
      const plan = planSubsets(vault, stack.agentsFile, stack.projectDir, stack.settings);
      return [
        ...plan.subsets.map((subset) =>
          ok(subset.bridge === 'admin' ? 'admin bridge' : `agent ${subset.bridge}`, 'its items are in the local vault'),
        ),
        ...plan.skipped.map((why) => {
          const [name, ...rest] = why.split(': ');
          const [detail, fix] = rest.join(': ').split('; ');
          return warn(`agent ${name}`, `${detail}: it cannot start`, fix ?? 'npm run vault -- set ITEM/FIELD');
        }),
      ];
    } catch (error) {
      return [failed('admin bridge', error)];
    }
  }
  const names = new Set((await sealedNames(context)).map((entry) => entry.name));
  return readAgentsFile(stack.agentsFile).map((agent) => {
    const own = agentCredential(agent.name);
    if (names.has(own)) return ok(`agent ${agent.name}`, `runs on its own sealed token, ${own}`);
    if (names.has(SHARED_TOKEN))
      return ok(
        `agent ${agent.name}`,
        `runs on the shared ${SHARED_TOKEN} (npm run seal -- --name ${own} gives it its own)`,
      );
    return warn(`agent ${agent.name}`, 'no sealed token to run on: it cannot start', `npm run seal -- --name ${own}`);
  });
}
