// The keychain backend: the macOS Keychain, or on Linux the Secret Service
// (GNOME Keyring, KWallet) over D-Bus, both through @napi-rs/keyring's Entry.
// Service `copilot-bridge-stack`, account NAME. Non-secret metadata (sealed-at,
// fingerprint) sits next to the tpm2 files so `status` never touches the store.

import { ExitCode, type ExitCodeValue, hasErrno, StackError } from '../../src/errors.js';
import { readSmallFile, unlinkIfExists, writeFileAtomic } from '../../src/fs/atomic-write.js';
import { ensurePrivateDir } from '../fs-safe.js';
import { keychainMetaPath, SERVICE } from '../paths.js';
import type { Backend, BackendContext, SealedRecord } from './backend.js';

const META_FORMAT = 'copilot-bridge-stack/keychain-meta/v1';

interface Item {
  setPassword(password: string): void;
  getPassword(): string | null;
  deleteCredential(): boolean;
}

export class KeychainBackend implements Backend {
  readonly name = 'keychain' as const;

  constructor(private readonly context: BackendContext) {}

  async seal(name: string, token: string): Promise<SealedRecord> {
    await native('seal', name, async () => (await item(name)).setPassword(token));
    const { tokenFingerprint } = await import('./fingerprint.js'); // node:crypto, for seal only
    const record: SealedRecord = {
      name,
      backend: 'keychain',
      sealedAt: new Date().toISOString(),
      fingerprint: tokenFingerprint(token),
      pcrs: [],
      auth: false,
    };
    try {
      ensurePrivateDir(this.context.configDir, 'seal');
      const meta = {
        format: META_FORMAT,
        name,
        service: SERVICE,
        account: name,
        sealedAt: record.sealedAt,
        fingerprint: record.fingerprint,
      };
      writeFileAtomic(keychainMetaPath(this.context.configDir, name), `${JSON.stringify(meta, null, 2)}\n`, 0o600);
    } catch (error) {
      await native('seal', name, async () => (await item(name)).deleteCredential()).catch(() => undefined);
      throw error;
    }
    return record;
  }

  async unseal(name: string): Promise<string> {
    const token = await native('unseal', name, async () => (await item(name)).getPassword());
    if (token === null) {
      throw new StackError(
        'not-sealed',
        `the ${platformStore()} has no item for service ${SERVICE}, account ${name}; seal it: op read "op://..." | npm run seal -- --name ${name} --backend keychain`,
        {
          step: 'unseal',
          exitCode: ExitCode.noInput,
        },
      );
    }
    return token;
  }

  async describe(name: string): Promise<SealedRecord | undefined> {
    let meta: { sealedAt?: unknown; fingerprint?: unknown };
    try {
      meta = JSON.parse(
        readSmallFile(keychainMetaPath(this.context.configDir, name), 64 * 1024).toString('utf8'),
      ) as typeof meta;
    } catch (error) {
      if (hasErrno(error, 'ENOENT')) return undefined;
      return {
        name,
        backend: 'keychain',
        sealedAt: '?',
        fingerprint: '?',
        pcrs: [],
        auth: false,
        problem: 'metadata unreadable; re-seal with --force',
      };
    }
    const text = (v: unknown) => (typeof v === 'string' ? v : '?');
    return {
      name,
      backend: 'keychain',
      sealedAt: text(meta.sealedAt),
      fingerprint: text(meta.fingerprint),
      pcrs: [],
      auth: false,
    };
  }

  async forget(name: string): Promise<boolean> {
    const deleted = await native('forget', name, async () => (await item(name)).deleteCredential());
    return unlinkIfExists(keychainMetaPath(this.context.configDir, name)) || deleted;
  }
}

function platformStore(): string {
  return process.platform === 'darwin' ? 'macOS Keychain' : 'Secret Service';
}

async function item(name: string): Promise<Item> {
  const { Entry } = await import('@napi-rs/keyring');
  return new Entry(SERVICE, name, { linux: { store: 'secret-service' } });
}

/** Runs a native keyring call; its failures become StackErrors that name the fix. */
async function native<T>(step: string, name: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const said = error instanceof Error ? error.message : String(error);
    const fail = (code: string, message: string, exitCode: ExitCodeValue) =>
      new StackError(code, `${message} (${platformStore()}: ${said.slice(0, 160)})`, { step, exitCode, cause: error });
    if (/dbus|bus address|autolaunch/i.test(said)) {
      throw fail(
        'keyring-unavailable',
        'no Secret Service is reachable (no D-Bus session bus); run this from a desktop login session, or start a keyring (dbus-run-session, then gnome-keyring-daemon --unlock --components=secrets with the password on stdin), or use --backend tpm2',
        ExitCode.unavailable,
      );
    }
    if (/dismissed|locked|interaction is not allowed|passphrase/i.test(said)) {
      throw fail(
        'keyring-locked',
        `the keyring holding ${name} is locked and could not be unlocked here; unlock it from your desktop session (or gnome-keyring-daemon --unlock, password on stdin) and retry`,
        ExitCode.noPerm,
      );
    }
    if (/no result|no such|not found|platform storage/i.test(said)) {
      throw fail(
        'keyring-unavailable',
        'the Secret Service has no unlocked default keyring; create or unlock the login keyring (gnome-keyring-daemon --unlock --components=secrets, password on stdin) and retry',
        ExitCode.unavailable,
      );
    }
    throw fail(
      'keyring-failed',
      `the ${platformStore()} refused the operation on ${name}; retry, or use the other backend`,
      ExitCode.unavailable,
    );
  }
}
