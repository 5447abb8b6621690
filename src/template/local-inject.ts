// Renders a template from the local vault as `op inject` renders it from
// 1Password: the same references (enclosed `{{ op://... }}` with spaces
// inside the braces, and unenclosed `op://...`), `${VAR}` inside a reference
// expanded from the given environment (an unset variable expands to nothing,
// as op does), every other character copied through. A reference the vault
// does not hold fails the whole render, naming every missing key (never a
// value); nothing is printed.
import { ExitCode, StackError } from '../errors.js';
import { keyOfReference, type VaultItems } from '../vault/document.js';
import { findReferences } from './references.js';

/** `${VAR}` expanded from `env`, for the variables the caller allowed (the others: as unset). */
export function expandReference(reference: string, env: NodeJS.ProcessEnv, allowed: readonly string[]): string {
  return reference.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) =>
    allowed.includes(name) ? (env[name] ?? '') : '',
  );
}

export function localInject(
  template: string,
  items: VaultItems,
  env: NodeJS.ProcessEnv,
  variables: readonly string[],
  step: string,
): string {
  const references = findReferences(template);
  const missing: string[] = [];
  let out = '';
  let at = 0;
  for (const r of references) {
    const key = keyOfReference(expandReference(r.ref, env, variables), step, r.ref);
    const value = items.get(key);
    if (value === undefined) missing.push(`${key} (${r.ref})`);
    out += template.slice(at, r.start) + (value ?? '');
    at = r.end;
  }
  if (missing.length > 0) {
    const named = [...new Set(missing)].join(', ');
    throw new StackError(
      'vault-missing',
      `the local vault given to this container holds no ${named.length > 400 ? `${named.slice(0, 400)}...` : named}; on the host: npm run vault -- set ITEM/FIELD, then npm run up`,
      {
        step,
        exitCode: ExitCode.noInput,
      },
    );
  }
  return out + template.slice(at);
}
