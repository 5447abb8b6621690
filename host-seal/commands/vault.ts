// `vault`: the local vault's items, by name. Values come from stdin (a pipe)
// or a hidden prompt, never from an argument; `ls` prints names only.
//   vault set ITEM/FIELD     one value (stdin or the hidden prompt)
//   vault ls                 the names, one per line
//   vault rm ITEM/FIELD      removes one
//   vault import             a JSON object of references (op://VAULT/ITEM/FIELD or ITEM/FIELD) to values, on stdin
import { ExitCode, StackError } from '../../src/errors.js';
import { assertVaultKey, assertVaultValue, keyOfReference } from '../../src/vault/document.js';
import type { BackendName } from '../backends/backend.js';
import { type Io, writeAll } from '../io.js';
import { readSecret } from '../secret-input.js';
import { changeVault, loadVault } from '../vault-store.js';

export const raw = true;

const STEP = 'vault';
const usage = (message: string) => new StackError('usage', message, { step: STEP, exitCode: ExitCode.usage });
const USAGE =
  'use vault set ITEM/FIELD, vault ls, vault rm ITEM/FIELD or vault import (values from stdin or the hidden prompt)';

export async function run(args: readonly string[], io: Io): Promise<number> {
  const rest = args.filter((arg) => !arg.startsWith('--backend'));
  const kind = backendOption(args);
  const [command, key, ...extra] = rest;
  if (extra.length > 0 || (command === 'set' && key !== undefined && key.includes('='))) {
    throw usage(
      `vault ${command ?? ''} takes at most one ITEM/FIELD: a value is never accepted as an argument; pipe it or type it at the hidden prompt (a secret typed as an argument is now in your shell history and npm's log: treat it as exposed)`,
    );
  }
  if (command === 'ls' && key === undefined) return list(io);
  if (command === 'set' && key !== undefined) return set(io, key, kind);
  if (command === 'rm' && key !== undefined) return remove(io, key);
  if (command === 'import' && key === undefined) return importJson(io, kind);
  throw usage(
    command === undefined ? `a vault command is needed; ${USAGE}` : `unknown or incomplete vault command; ${USAGE}`,
  );
}

function backendOption(args: readonly string[]): BackendName | undefined {
  const option = args.find((arg) => arg.startsWith('--backend'));
  if (option === undefined) return undefined;
  const value = option.startsWith('--backend=') ? option.slice('--backend='.length) : undefined;
  if (value !== 'tpm2' && value !== 'keychain')
    throw usage('--backend=tpm2 or --backend=keychain (used when the vault is first sealed)');
  return value;
}

async function list(io: Io): Promise<number> {
  const vault = await loadVault(io);
  if (vault.backend === undefined) {
    io.stderr.write(
      'the local vault is empty (nothing sealed under vault); npm run init fills it, or npm run vault -- set ITEM/FIELD\n',
    );
    return ExitCode.ok;
  }
  await writeAll(
    io.stdout,
    [...vault.items.keys()]
      .sort()
      .map((name) => `${name}\n`)
      .join(''),
  );
  return ExitCode.ok;
}

async function set(io: Io, key: string, kind: BackendName | undefined): Promise<number> {
  assertVaultKey(key, STEP);
  const value = await readSecret(io, {
    prompt: `value for ${key} (input hidden): `,
    what: `the value for ${key} alone`,
    step: STEP,
    code: 'vault-size',
    empty: `did the command before the pipe fail? Pipe the value for ${key}, or run this at a terminal to type it hidden`,
  });
  assertVaultValue(key, value, STEP);
  const replaced = await changeVault(
    io,
    `vault set ${key}`,
    async (vault) => {
      const had = vault.items.has(key);
      vault.items.set(key, value);
      return { changed: true, result: had };
    },
    kind,
  );
  io.stderr.write(`vault: ${replaced ? 'replaced' : 'stored'} ${key}\n`);
  return ExitCode.ok;
}

async function remove(io: Io, key: string): Promise<number> {
  assertVaultKey(key, STEP);
  const removed = await changeVault(io, `vault rm ${key}`, async (vault) => {
    const had = vault.items.delete(key);
    return { changed: had, result: had };
  });
  if (!removed)
    throw new StackError('vault-missing', `the local vault holds no ${key}; npm run vault -- ls lists what it holds`, {
      step: STEP,
      exitCode: ExitCode.noInput,
    });
  io.stderr.write(`vault: removed ${key} (a running stack keeps its released copy until npm run down)\n`);
  return ExitCode.ok;
}

async function importJson(io: Io, kind: BackendName | undefined): Promise<number> {
  if (io.stdin.isTTY)
    throw usage(
      'vault import reads a JSON object from stdin: pipe it (for example from a file: npm run vault -- import < items.json)',
    );
  let json: unknown;
  try {
    json = JSON.parse(
      await readSecret(io, {
        prompt: '',
        what: 'the JSON to import alone',
        step: STEP,
        code: 'vault-size',
        empty: 'did the command before the pipe fail? Pipe the JSON to import',
      }),
    );
  } catch (error) {
    if (error instanceof StackError) throw error;
    throw new StackError(
      'vault-import',
      'stdin is not JSON; give an object of references to values: {"op://VAULT/ITEM/FIELD": "value"} (ITEM/FIELD works too)',
      { step: STEP, exitCode: ExitCode.dataErr },
    );
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new StackError(
      'vault-import',
      'the JSON must be one object of references to values: {"op://VAULT/ITEM/FIELD": "value"}',
      { step: STEP, exitCode: ExitCode.dataErr },
    );
  }
  const incoming = new Map<string, string>();
  for (const [name, value] of Object.entries(json)) {
    const key = name.startsWith('op://') ? keyOfReference(name, STEP) : name;
    assertVaultKey(key, STEP, ExitCode.dataErr);
    if (typeof value !== 'string')
      throw new StackError('vault-import', `the value of ${name} is not a string`, {
        step: STEP,
        exitCode: ExitCode.dataErr,
      });
    assertVaultValue(key, value, STEP);
    if (incoming.has(key) && incoming.get(key) !== value) {
      throw new StackError(
        'vault-import',
        `two references name ${key} with different values (the local vault is one vault: op://VAULT/ is not part of a name); keep one`,
        { step: STEP, exitCode: ExitCode.dataErr },
      );
    }
    incoming.set(key, value);
  }
  if (incoming.size === 0)
    throw new StackError('vault-import', 'the JSON holds no items; nothing was imported', {
      step: STEP,
      exitCode: ExitCode.dataErr,
    });
  const replaced = await changeVault(
    io,
    'vault import',
    async (vault) => {
      let count = 0;
      for (const [key, value] of incoming) {
        if (vault.items.has(key)) count++;
        vault.items.set(key, value);
      }
      return { changed: true, result: count };
    },
    kind,
  );
  io.stderr.write(`vault: imported ${incoming.size} item(s) (${incoming.size - replaced} new, ${replaced} replaced)\n`);
  return ExitCode.ok;
}
