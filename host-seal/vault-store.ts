// The local vault on the host: one sealed credential (`vault`) that holds a
// vault document, sealed by the same backends as a token (TPM2 envelope or
// Keychain), so the same binding, modes and wipe apply. Read whole, changed
// in memory, sealed whole again, under the `vault` lock, so that two changes
// at once cannot lose one.
import { VAULT_CREDENTIAL } from '../src/contract.js';
import { ExitCode, StackError } from '../src/errors.js';
import { parseVault, serializeVault } from '../src/vault/document.js';
import type { BackendName } from './backends/backend.js';
import { autoBackend, backend, contextOf, holders } from './backends/registry.js';
import type { Io } from './io.js';
import { withLock } from './lock.js';
import { readAuth } from './secret-input.js';

export interface LocalVault {
  items: Map<string, string>;
  /** The backend that holds it; undefined while nothing is sealed. */
  backend: BackendName | undefined;
  /** The PCRs it is bound to (tpm2), kept when it is sealed again. */
  pcrs: number[];
}

/** The sealed vault's items (none when nothing is sealed yet). */
export async function loadVault(io: Io, authFile?: string): Promise<LocalVault> {
  const context = contextOf(io);
  const [holder, ...more] = await holders(context, VAULT_CREDENTIAL);
  if (!holder) return { items: new Map(), backend: undefined, pcrs: [] };
  if (more.length > 0) {
    throw new StackError(
      'vault-twice',
      `the local vault is sealed by both ${holder.name} and ${more.map((b) => b.name).join(', ')}; forget one with npm run seal:forget -- --name vault after checking which is current (npm run seal:status)`,
      { step: 'vault', exitCode: ExitCode.dataErr },
    );
  }
  const pcrs = (await holder.describe(VAULT_CREDENTIAL))?.pcrs ?? [];
  const text = await holder.unseal(VAULT_CREDENTIAL, { askAuth: () => readAuth(io, authFile, false) });
  return { items: parseVault(text, 'the sealed local vault', 'vault'), backend: holder.name, pcrs };
}

/**
 * Seals `items` as the vault, replacing what was sealed: with the backend and
 * PCRs that held it, or else `kind` (or the automatic backend). An auth value
 * is not offered for the vault: every change would ask for it.
 */
async function saveVault(io: Io, vault: LocalVault, kind?: BackendName): Promise<string> {
  const context = contextOf(io);
  const chosen = vault.backend ?? kind ?? autoBackend(context);
  const record = await backend(chosen, context).seal(VAULT_CREDENTIAL, serializeVault(vault.items), {
    pcrs: vault.pcrs,
    auth: undefined,
    replace: true,
  });
  vault.backend = chosen;
  return record.fingerprint;
}

/** Runs `fn` on the vault under its lock; seals it again when `fn` says it changed it. */
export async function changeVault<T>(
  io: Io,
  what: string,
  fn: (vault: LocalVault) => Promise<{ changed: boolean; result: T }>,
  kind?: BackendName,
): Promise<T> {
  const context = contextOf(io);
  return withLock({ dir: context.configDir, name: 'vault', what, progress: io.stderr }, async () => {
    const vault = await loadVault(io);
    const { changed, result } = await fn(vault);
    if (changed) await saveVault(io, vault, kind);
    return result;
  });
}
