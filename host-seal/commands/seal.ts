// `seal`: read the token (stdin pipe or hidden prompt, never argv), check its
// shape, refuse to replace an existing seal without --force, seal it.
import { VAULT_CREDENTIAL } from '../../src/contract.js';
import { ExitCode, StackError } from '../../src/errors.js';
import type { BackendName } from '../backends/backend.js';
import { autoBackend, backend, contextOf, holders } from '../backends/registry.js';
import type { Io } from '../io.js';
import { nameOption, type OptionSpec, type Parsed, pcrsOption } from '../options.js';
import { authFileOf, readAuth, readToken } from '../secret-input.js';

export const options: OptionSpec = {
  name: 'string',
  backend: 'string',
  pcrs: 'string',
  auth: 'boolean',
  'auth-file': 'string',
  force: 'boolean',
};

const usage = (message: string) => new StackError('usage', message, { step: 'seal', exitCode: ExitCode.usage });

export async function run(parsed: Parsed, io: Io): Promise<void> {
  const name = nameOption(parsed);
  if (name === VAULT_CREDENTIAL)
    throw usage(
      `${VAULT_CREDENTIAL} is the local vault's own name; change its items with npm run vault -- set ITEM/FIELD`,
    );
  const context = contextOf(io);
  const choice = parsed.backend ?? 'auto';
  if (choice !== 'auto' && choice !== 'tpm2' && choice !== 'keychain')
    throw usage('--backend takes auto, tpm2 or keychain');
  const kind: BackendName = choice === 'auto' ? autoBackend(context) : choice;
  const pcrs = pcrsOption(parsed);
  const authFile = authFileOf(parsed);
  const wantsAuth = parsed.auth === true || authFile !== undefined;
  if (kind !== 'tpm2' && (pcrs.length > 0 || wantsAuth))
    throw usage('--pcrs, --auth and --auth-file apply to --backend tpm2 only');
  const existing = await holders(context, name);
  const exists = () =>
    new StackError(
      'exists',
      `${name} is already sealed (${existing.map((b) => b.name).join(', ')}); add --force to replace it, or choose another --name`,
      {
        step: 'seal',
        exitCode: ExitCode.cantCreate,
      },
    );
  // At a terminal, before anything is typed; from a pipe, after the token's shape (a malformed token is the first thing
  // to fix).
  if (existing.length > 0 && parsed.force !== true && io.stdin.isTTY) throw exists();
  const token = await readToken(io, name);
  if (existing.length > 0 && parsed.force !== true) throw exists();
  const auth = wantsAuth ? await readAuth(io, authFile, true) : undefined;
  try {
    const record = await backend(kind, context).seal(name, token, { pcrs, auth, replace: parsed.force === true });
    for (const old of existing) if (old.name !== kind) await old.forget(name);
    const binding = pcrs.length > 0 ? `, bound to PCRs sha256:${pcrs.join(',')}` : auth ? ', with an auth value' : '';
    io.stderr.write(`sealed ${name} with ${kind}${binding} (fingerprint ${record.fingerprint})\n`);
  } finally {
    auth?.fill(0);
  }
}
