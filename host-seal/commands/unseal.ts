// `unseal`: the token to stdout, only when stdout is a pipe or a socket (into
// `docker secret create`, for example): never onto a terminal, and never into
// a file on disk. Refused under `npm run` without --silent, whose banner would
// go into the same pipe before the token.
import { fstatSync, readlinkSync } from 'node:fs';
import { ExitCode, StackError } from '../../src/errors.js';
import { contextOf, holders } from '../backends/registry.js';
import { type Io, writeAll } from '../io.js';
import { nameOption, type OptionSpec, type Parsed } from '../options.js';
import { authFileOf, readAuth } from '../secret-input.js';

export const options: OptionSpec = { name: 'string', 'auth-file': 'string' };

const refuse = (code: string, message: string) =>
  new StackError(code, message, { step: 'unseal', exitCode: ExitCode.noPerm });

/** Where stdout goes: a pipe or socket is allowed; a terminal, a file or a device is not. */
function stdoutKind(io: Io): 'pipe' | 'terminal' | 'file' | 'named' | 'other' {
  if (io.stdout.isTTY) return 'terminal';
  const fd = (io.stdout as { fd?: number }).fd;
  if (typeof fd !== 'number') return 'pipe'; // an in-process stream (tests): no descriptor to look at
  const info = fstatSync(fd);
  if (info.isFIFO() || info.isSocket()) {
    // Only an anonymous pipe or socket: a named FIFO (`unseal > /tmp/x`, where another user made x a FIFO) has a reader
    // anyone could be.
    if (io.platform !== 'linux') return info.nlink === 0 || info.isSocket() ? 'pipe' : 'named';
    let target = '';
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return 'named';
    }
    return /^(pipe|socket):\[\d+\]$/.test(target) ? 'pipe' : 'named';
  }
  return info.isFile() ? 'file' : 'other';
}

export async function run(parsed: Parsed, io: Io): Promise<void> {
  const kind = stdoutKind(io);
  if (kind === 'terminal')
    throw refuse(
      'stdout-tty',
      'refusing to print the token on a terminal; pipe it instead: npx copilot-bridge-seal unseal | docker secret create op_sa_token -',
    );
  if (kind !== 'pipe')
    throw refuse(
      'stdout-not-pipe',
      `refusing to write the token into a ${kind === 'file' ? 'file (it would sit on disk)' : kind === 'named' ? 'named pipe (whoever opened its other end would read it)' : 'device'}; pipe it into the program that needs it: npx copilot-bridge-seal unseal | docker secret create op_sa_token -`,
    );
  // npm run prints `> pkg@1.0 unseal` first; npx (which sets npm_lifecycle_event=npx) prints nothing.
  const event = io.env.npm_lifecycle_event;
  if (event !== undefined && event !== 'npx' && io.env.npm_config_loglevel !== 'silent') {
    throw refuse(
      'npm-banner',
      'npm run prints its banner into the same pipe before the token; use npx copilot-bridge-seal unseal (or npm run --silent unseal)',
    );
  }
  const name = nameOption(parsed);
  const [holder] = await holders(contextOf(io), name);
  if (!holder) {
    throw new StackError(
      'not-sealed',
      `nothing is sealed under ${name}; seal it first: op read "op://..." | npm run seal -- --name ${name}`,
      {
        step: 'unseal',
        exitCode: ExitCode.noInput,
      },
    );
  }
  const authFile = authFileOf(parsed);
  const token = await holder.unseal(name, { askAuth: () => readAuth(io, authFile, false) });
  try {
    await writeAll(io.stdout, token);
  } catch (error) {
    throw new StackError('stdout-closed', 'could not write the token to stdout (the reading end closed)', {
      step: 'unseal',
      exitCode: ExitCode.ioErr,
      cause: error,
    });
  }
}
