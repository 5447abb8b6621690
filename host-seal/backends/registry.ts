// Which backend holds a name, which one `--backend auto` picks, and every
// sealed name (from the files in the config directory; no store is queried).
import { existsSync, readdirSync } from 'node:fs';
import { ExitCode, hasErrno, StackError } from '../../src/errors.js';
import { configDir, isName } from '../paths.js';
import type { Backend, BackendContext, BackendName } from './backend.js';
import { KeychainBackend } from './keychain.js';
import { Tpm2Backend } from './tpm2/tpm2.js';

const SUFFIXES: Record<string, BackendName> = { '.tpm2.json': 'tpm2', '.keychain.json': 'keychain' };

export function backend(name: BackendName, context: BackendContext): Backend {
  return name === 'tpm2' ? new Tpm2Backend(context) : new KeychainBackend(context);
}

/** auto: macOS gives keychain; Linux with a TPM (TPM2TOOLS_TCTI set, or /dev/tpmrm0) gives tpm2; anything else is an error naming both fixes. */
export function autoBackend(context: BackendContext): BackendName {
  if (context.platform === 'darwin') return 'keychain';
  if (context.platform === 'linux' && (context.env.TPM2TOOLS_TCTI || existsSync('/dev/tpmrm0'))) return 'tpm2';
  throw new StackError(
    'no-backend',
    context.platform === 'linux'
      ? 'no TPM found (/dev/tpmrm0 is missing and TPM2TOOLS_TCTI is unset): enable the TPM 2.0 in the firmware settings (or point TPM2TOOLS_TCTI at one), or use --backend keychain with a running Secret Service (GNOME Keyring or KWallet)'
      : `no sealing backend for platform ${context.platform}: use Linux with a TPM 2.0 (--backend tpm2) or macOS (--backend keychain)`,
    { step: 'seal', exitCode: ExitCode.unavailable },
  );
}

/** Every sealed name and its backend, sorted by name. */
export async function sealedNames(context: BackendContext): Promise<{ name: string; backend: BackendName }[]> {
  let files: string[];
  try {
    files = readdirSync(context.configDir);
  } catch (error) {
    if (hasErrno(error, 'ENOENT')) return [];
    throw error;
  }
  const found: { name: string; backend: BackendName }[] = [];
  for (const file of files) {
    for (const [suffix, kind] of Object.entries(SUFFIXES)) {
      // A file whose name is not a credential name (planted, or left by something else) is not ours to read.
      if (file.endsWith(suffix) && isName(file.slice(0, -suffix.length)))
        found.push({ name: file.slice(0, -suffix.length), backend: kind });
    }
  }
  return found.sort((a, b) => byCodeUnits(a.name, b.name) || byCodeUnits(a.backend, b.backend));
}

/** Plain code-unit order: names are ASCII, and localeCompare loads ICU (docs/performance.md). */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The backends that hold `name` (normally one). */
export async function holders(context: BackendContext, name: string): Promise<Backend[]> {
  const all = await sealedNames(context);
  return all.filter((entry) => entry.name === name).map((entry) => backend(entry.backend, context));
}

/** The backend context of this process: config directory from the environment. */
export function contextOf(io: {
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  stderr?: import('node:stream').Writable;
}): BackendContext {
  return {
    configDir: configDir(io.env),
    env: io.env,
    platform: io.platform,
    ...(io.stderr ? { progress: io.stderr } : {}),
  };
}
