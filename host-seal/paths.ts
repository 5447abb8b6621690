// Where sealed tokens and their metadata live, and what a credential name may be.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SERVICE, SHARED_TOKEN } from '../src/contract.js';
import { ExitCode, StackError } from '../src/errors.js';

export const DEFAULT_NAME = SHARED_TOKEN;
/** Mattermost's database password of stacks made before the database lost its network: never released; `up` retires it (stack/database.ts). */
export const DB_PASSWORD_NAME = 'mm-db-password';
export { SERVICE };

const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** `${XDG_CONFIG_HOME:-~/.config}/copilot-bridge-stack`: sealed blobs and non-secret metadata (0700). */
export function configDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, SERVICE);
}

/** The TPM-sealed file of one credential: sealed key parts and the AES-GCM ciphertext. */
export function tpm2BlobPath(dir: string, name: string): string {
  return join(dir, `${name}.tpm2.json`);
}

/** The non-secret metadata of a Keychain/Secret Service item (sealed-at, fingerprint). */
export function keychainMetaPath(dir: string, name: string): string {
  return join(dir, `${name}.keychain.json`);
}

/** Whether `name` is a credential name (the rule assertName enforces). */
export function isName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

/** Throws unless `name` can be a file name, a Keychain account and a release file (one per credential). */
export function assertName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new StackError(
      'bad-name',
      'the credential name must be 1 to 63 characters of a-z, 0-9, "-" and "_", starting with a letter or digit (for example op-sa-token or agent-lal)',
      { step: 'options', exitCode: ExitCode.usage },
    );
  }
}
