// What `audit` looks for: every value this host's stack could leak. Each
// sealed credential is unsealed (never printed): a service-account token is a
// value; the local vault is opened and each of its items is one (these are
// what the templates render, and the bridges' GitHub tokens). And which of
// them each file of the release directory may hold: the parts `up` releases.

import { resolve } from 'node:path';
import { VAULT_CREDENTIAL } from '../../src/contract.js';
import { isStackError } from '../../src/errors.js';
import { type LabeledSecret, SecretSet } from '../../src/secrets/secret-set.js';
import { secretsSource } from '../../src/stack/settings.js';
import { parseVault } from '../../src/vault/document.js';
import type { BackendContext } from '../backends/backend.js';
import { backend, sealedNames } from '../backends/registry.js';
import type { Io } from '../io.js';
import { readAuth } from '../secret-input.js';
import { namesInUse, type Stack } from '../stack/stack.js';
import { planSubsets } from '../stack/vault-release.js';

export interface SealedValues {
  values: LabeledSecret[];
  /** The local vault's items, when it is sealed. */
  vault?: Map<string, string>;
  /** Credentials not unsealed: they need an auth value, and none was given (no --auth-file, no terminal). */
  locked: string[];
}

export async function sealedValues(context: BackendContext, io: Io, authFile?: string): Promise<SealedValues> {
  const values: LabeledSecret[] = [];
  let vault: Map<string, string> | undefined;
  const locked: string[] = [];
  for (const entry of await sealedNames(context)) {
    let value: string;
    try {
      value = await backend(entry.backend, context).unseal(entry.name, {
        askAuth: () => readAuth(io, authFile, false),
        leaveNoCache: true,
      });
    } catch (error) {
      // A cron'd audit has no terminal: a credential behind an auth value is named as not searched for, not fatal.
      if (isStackError(error, 'auth-needed')) {
        locked.push(entry.name);
        continue;
      }
      throw error;
    }
    if (entry.name !== VAULT_CREDENTIAL) {
      values.push({ label: `the sealed ${entry.name}`, value: value.trim() });
      continue;
    }
    vault = parseVault(value, 'the sealed local vault', 'audit');
    for (const [key, item] of vault) values.push({ label: `the local vault's ${key}`, value: item });
  }
  return vault ? { values, vault, locked } : { values, locked };
}

/**
 * The files `up` releases for this stack, each with the labels of the values it may hold: with 1Password, each
 * sealed token the agents file uses in the file of its name; with the local vault, each bridge's part (vault-admin,
 * vault-agent-NAME) with its own items. Empty when the agents file cannot say: then every value there is a finding.
 */
export function expectedReleases(stack: Stack, sealed: SealedValues): Map<string, Set<string>> {
  const expected = new Map<string, Set<string>>();
  try {
    if (secretsSource(stack.settings) === 'vault') {
      if (!sealed.vault) return expected;
      const file = resolve(stack.projectDir, stack.settings.AGENTS_FILE ?? '');
      for (const subset of planSubsets(sealed.vault, file, stack.projectDir, stack.settings).subsets) {
        const own = new Set(subset.values);
        expected.set(subset.name, new Set(sealed.values.filter((v) => own.has(v.value)).map((v) => v.label)));
      }
    } else {
      for (const name of namesInUse(stack.settings, stack.projectDir))
        expected.set(name, new Set([`the sealed ${name}`]));
    }
  } catch {
    // An agents file or vault `up` would refuse: nothing is expected in the release directory.
  }
  return expected;
}

/** What audit searches for: each value in its forms, and its hex (lower and upper case, as xxd or od print it). */
export function searchSet(values: LabeledSecret[]): SecretSet {
  const hex = values.flatMap(({ label, value }) => {
    const lower = Buffer.from(value).toString('hex');
    return [
      { label: `${label} (hex)`, value: lower },
      { label: `${label} (hex)`, value: lower.toUpperCase() },
    ];
  });
  // Forms other encoders write: %xx in lower case, and JSON with `/` escaped as `\/` (PHP's json_encode).
  const others = values.flatMap(({ label, value }) => {
    const url = encodeURIComponent(value);
    const lowerUrl = url.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
    const json = JSON.stringify(value).slice(1, -1);
    return [
      ...(lowerUrl !== url ? [{ label: `${label} (URL-encoded)`, value: lowerUrl }] : []),
      ...(json.includes('/') ? [{ label: `${label} (JSON)`, value: json.replaceAll('/', '\\/') }] : []),
    ];
  });
  return new SecretSet([...values, ...hex, ...others]);
}
