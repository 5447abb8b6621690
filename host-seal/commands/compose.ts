// `compose [ARGS...]`: Docker Compose (v2, else v1) with the stack's paths in
// its environment: the release directory, the released names and the token
// file's path (released or not), which compose.yml needs for every command.
// `ps`, `logs`, `exec`, `build`, `config` and the rest work while the stack
// runs and while it does not. Its arguments go to Compose as they are; its
// exit status is Compose's.
import { readdirSync } from 'node:fs';
import { ExitCode, StackError } from '../../src/errors.js';
import type { Io } from '../io.js';
import { openReleaseDir } from '../stack/release.js';
import { composeEnv, openStack } from '../stack/stack.js';

/** Compose takes arguments of its own: this command parses none. */
export const raw = true;
export const options = {};

export async function run(args: readonly string[], io: Io): Promise<number> {
  if (args.length === 0)
    throw new StackError('usage', 'compose needs a Compose command, for example: npm run compose -- ps', {
      step: 'compose',
      exitCode: ExitCode.usage,
    });
  const stack = await openStack({}, io);
  // Compose would mount whatever is there: the directory is proven ours first (another user could have made it).
  const dir = await openReleaseDir(stack.dir, io.platform, false);
  let released: string[] = [];
  if (dir) {
    try {
      released = readdirSync(dir.entry('.')).filter((name) => !name.startsWith('.'));
    } finally {
      dir.close();
    }
  }
  const { execa } = await import('execa');
  const result = await execa(stack.tool.file, [...stack.tool.prefix, ...args], {
    env: { ...io.env, ...composeEnv(stack.dir, released) },
    extendEnv: false,
    reject: false,
    stdio: 'inherit',
  });
  if (result.exitCode === undefined) {
    throw new StackError(
      'compose-failed',
      `${stack.tool.label} could not be run (${result.signal ?? result.code ?? 'unknown'})`,
      { step: 'compose', exitCode: ExitCode.unavailable },
    );
  }
  return result.exitCode;
}
