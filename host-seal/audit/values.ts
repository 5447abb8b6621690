// What `audit` looks for: every value this host's stack could leak. Each
// sealed credential is unsealed (never printed): a service-account token is a
// value; the local vault is opened and each of its items is one (these are
// what the templates render, and the bridges' GitHub tokens).
import { VAULT_CREDENTIAL } from '../../src/contract.js';
import type { LabeledSecret } from '../../src/secrets/secret-set.js';
import { parseVault } from '../../src/vault/document.js';
import type { BackendContext } from '../backends/backend.js';
import { backend, sealedNames } from '../backends/registry.js';
import type { Io } from '../io.js';
import { readAuth } from '../secret-input.js';

export async function sealedValues(context: BackendContext, io: Io, authFile?: string): Promise<LabeledSecret[]> {
  const out: LabeledSecret[] = [];
  for (const entry of await sealedNames(context)) {
    const value = await backend(entry.backend, context).unseal(entry.name, {
      askAuth: () => readAuth(io, authFile, false),
    });
    if (entry.name !== VAULT_CREDENTIAL) {
      out.push({ label: `the sealed ${entry.name}`, value: value.trim() });
      continue;
    }
    for (const [key, item] of parseVault(value, 'the sealed local vault', 'audit'))
      out.push({ label: `the local vault's ${key}`, value: item });
  }
  return out;
}
