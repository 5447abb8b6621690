// `up`: release every sealed name into the tmpfs release directory, run
// `compose up -d` with the paths in that one command's environment, and wait
// until the services report healthy. If compose fails to start, the released
// files are wiped again. A database password sealed by an older stack is
// retired once the stack is healthy (database-password.ts).
import { join } from 'node:path';
import { ExitCode, StackError } from '../../src/errors.js';
import { backend, contextOf, sealedNames } from '../backends/registry.js';
import { compose, findCompose, waitHealthy } from '../compose.js';
import { retireDatabasePassword } from '../database-password.js';
import type { Io } from '../io.js';
import { secondsOption, type OptionSpec, type Parsed } from '../options.js';
import { DB_PASSWORD_NAME, DEFAULT_NAME } from '../paths.js';
import { prepareReleaseDir, releaseDir, releaseMode, releaseToken, wipeReleased } from '../release.js';
import { readAuth } from '../secret-input.js';

export const options: OptionSpec = { file: 'string', timeout: 'string', 'auth-file': 'string' };

/** The variables a compose file uses to find released tokens: paths and names only. */
export function composeEnv(dir: string, names: string[]): Record<string, string> {
  return {
    COPILOT_BRIDGE_SECRETS_DIR: dir,
    // Which 1Password credentials exist, so that `agent up NAME` binds agent-NAME when it was sealed.
    COPILOT_BRIDGE_RELEASED: names.filter((name) => name !== DB_PASSWORD_NAME).join(','),
    ...(names.includes(DEFAULT_NAME) ? { OP_SA_TOKEN_FILE: join(dir, DEFAULT_NAME) } : {}),
  };
}

/** macOS keeps released tokens on disk while the stack runs (README-macos.md); say so when that disk is not encrypted. */
async function warnWithoutFileVault(io: Io): Promise<void> {
  const { execa } = await import('execa'); // loaded only where it is used: it costs about 60 ms to load
  const status = await execa('fdesetup', ['status'], { reject: false, stdin: 'ignore' });
  if (/FileVault is Off/i.test(status.stdout)) {
    io.stderr.write('up: warning: FileVault is off, so the released token sits unencrypted on disk while the stack runs; turn FileVault on (see host-seal/README-macos.md)\n');
  }
}

export async function run(parsed: Parsed, io: Io): Promise<void> {
  const context = contextOf(io);
  const timeout = secondsOption(parsed, 'timeout', 300);
  const files = typeof parsed.file === 'string' ? ['-f', parsed.file] : [];
  const authFile = typeof parsed['auth-file'] === 'string' ? parsed['auth-file'] : undefined;
  // An older stack's database password is not released: nothing uses it (it is retired below).
  const sealed = [...new Map((await sealedNames(context)).map((entry) => [entry.name, entry])).values()].filter((entry) => entry.name !== DB_PASSWORD_NAME);
  if (sealed.length === 0) {
    throw new StackError('not-sealed', 'nothing is sealed, so there is no token to give the stack; seal one first: op read "op://..." | npm run seal', { step: 'up', exitCode: ExitCode.noInput });
  }
  const tool = await findCompose(io.env);
  const dir = releaseDir(io.env, io.platform);
  await prepareReleaseDir(dir, io.platform);
  if (io.platform === 'darwin') await warnWithoutFileVault(io);
  const extra = composeEnv(dir, sealed.map((entry) => entry.name));
  try {
    for (const entry of sealed) {
      const token = await backend(entry.backend, context).unseal(entry.name, { askAuth: () => readAuth(io, authFile, false) });
      const path = await releaseToken(dir, entry.name, token, releaseMode());
      io.stderr.write(`up: released ${entry.name} (${entry.backend}) to ${path}\n`);
    }
    io.stderr.write(`up: ${tool.label} up -d\n`);
    await compose(tool, [...files, 'up', '-d'], io.env, extra, io.stderr);
  } catch (error) {
    const wiped = await wipeReleased(dir);
    if (wiped.length > 0) io.stderr.write(`up: wiped the ${wiped.length} released token file(s) again\n`);
    throw error;
  }
  await waitHealthy(tool, io.env, extra, timeout, io.stderr);
  await retireDatabasePassword(tool, files, io.env, extra, context, io.stderr);
}
