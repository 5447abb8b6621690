// The local vault: named items and fields (`ITEM/FIELD`, or
// `ITEM/SECTION/FIELD`) and their values, as one JSON document. The host seals
// the whole vault as the credential `vault`; `up` gives each container a
// document of the same form that holds only the keys its template names.
// Read by the host commands and by the entrypoint. Errors name keys and
// places, never a value.
import { ExitCode, StackError } from '../errors.js';

/** The document's format tag: a file of another form is refused, never guessed at. */
export const VAULT_FORMAT = 'copilot-bridge-stack/vault/1';
/**
 * At most this many bytes of JSON: sealed, the vault must fit the 64 KiB a
 * sealed file may have (base64 adds a third), and a released part is read
 * into memory by the entrypoint.
 */
export const MAX_VAULT_BYTES = 32 * 1024;
/** A key's segments: what an agents-file item and a reference can name (no spaces, no `?` options, no `${}`). */
const SEGMENT = '[A-Za-z0-9][A-Za-z0-9_.-]{0,127}';
export const VAULT_KEY = new RegExp(`^${SEGMENT}/${SEGMENT}(/${SEGMENT})?$`);

export type VaultItems = ReadonlyMap<string, string>;

const fail = (
  code: string,
  message: string,
  step: string,
  exitCode: (typeof ExitCode)[keyof typeof ExitCode] = ExitCode.dataErr,
): never => {
  throw new StackError(code, message, { step, exitCode });
};

/** Throws unless `key` is `ITEM/FIELD` or `ITEM/SECTION/FIELD`. */
export function assertVaultKey(
  key: string,
  step: string,
  exitCode: (typeof ExitCode)[keyof typeof ExitCode] = ExitCode.usage,
): void {
  if (!VAULT_KEY.test(key)) {
    // Not quoted: a secret typed where the name belongs must not be printed back.
    fail(
      'vault-key',
      `the name given (${key.length} characters) is not ITEM/FIELD (or ITEM/SECTION/FIELD): letters, digits, '.', '_' and '-', each part starting with a letter or digit; if you typed a secret there, treat it as exposed (shell history, npm's log)`,
      step,
      exitCode,
    );
  }
}

/** Throws unless `value` may be stored: not empty, at most the document's size. Never quotes it. */
export function assertVaultValue(key: string, value: string, step: string): void {
  if (value.length === 0)
    fail(
      'vault-empty',
      `the value for ${key} is empty; give the value itself (an empty secret would render as nothing)`,
      step,
    );
  if (Buffer.byteLength(value) > MAX_VAULT_BYTES / 2)
    fail(
      'vault-size',
      `the value for ${key} is larger than ${MAX_VAULT_BYTES / 2} bytes; the local vault keeps tokens and keys, not files`,
      step,
    );
}

/** Parses a vault document; `where` names it in messages (the sealed vault, or a released file). */
export function parseVault(text: string, where: string, step: string): Map<string, string> {
  if (Buffer.byteLength(text) > MAX_VAULT_BYTES)
    fail('vault-size', `${where} is larger than ${MAX_VAULT_BYTES} bytes`, step);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return fail(
      'vault-format',
      `${where} is not a local vault (not JSON); it holds something else (a service-account token?): check SECRETS_SOURCE`,
      step,
    );
  }
  const doc = json as { format?: unknown; items?: unknown };
  if (
    typeof json !== 'object' ||
    json === null ||
    doc.format !== VAULT_FORMAT ||
    typeof doc.items !== 'object' ||
    doc.items === null ||
    Array.isArray(doc.items)
  ) {
    return fail('vault-format', `${where} is not a local vault of format ${VAULT_FORMAT}; check SECRETS_SOURCE`, step);
  }
  const items = new Map<string, string>();
  for (const [key, value] of Object.entries(doc.items)) {
    assertVaultKey(key, step, ExitCode.dataErr);
    if (typeof value !== 'string') fail('vault-format', `${where}: the value of ${key} is not a string`, step);
    assertVaultValue(key, value, step);
    items.set(key, value);
  }
  return items;
}

/** The document for `items`, keys sorted (so that equal vaults are equal bytes). */
export function serializeVault(items: VaultItems): string {
  const sorted = [...items.keys()].sort();
  const text = JSON.stringify({
    format: VAULT_FORMAT,
    items: Object.fromEntries(sorted.map((key) => [key, items.get(key)!])),
  });
  if (Buffer.byteLength(text) > MAX_VAULT_BYTES)
    fail(
      'vault-size',
      `the local vault would be larger than ${MAX_VAULT_BYTES} bytes; remove what the stack does not use (npm run vault -- ls)`,
      'vault',
      ExitCode.cantCreate,
    );
  return text;
}

/**
 * The vault key of a 1Password reference, `op://VAULT/ITEM/FIELD` or
 * `op://VAULT/ITEM/SECTION/FIELD`, with any `${VAR}` already expanded. The
 * local vault is one vault: the VAULT part is not looked at, so the same
 * agents file works with both sources. Options (`?attribute=...`) are refused.
 */
export function keyOfReference(reference: string, step: string, written = reference): string {
  const shown = written === reference ? reference : `${written} (${reference} once its variables are expanded)`;
  const match = /^op:\/\/[^/]+\/(.+)$/.exec(reference);
  if (!match || reference.includes('?')) {
    return fail(
      'vault-reference',
      `${shown} is not a reference the local vault can resolve: it takes op://VAULT/ITEM/FIELD or op://VAULT/ITEM/SECTION/FIELD, without options`,
      step,
      ExitCode.config,
    );
  }
  const key = match[1]!;
  if (!VAULT_KEY.test(key)) {
    return fail(
      'vault-reference',
      `${shown} is not a reference the local vault can resolve: it takes op://VAULT/ITEM/FIELD or op://VAULT/ITEM/SECTION/FIELD`,
      step,
      ExitCode.config,
    );
  }
  return key;
}
