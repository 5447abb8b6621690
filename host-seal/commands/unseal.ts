// `unseal`: the token to stdout, only when stdout is not a terminal (a pipe
// into `docker secret create`, for example); refused on a terminal.
import { ExitCode, StackError } from '../../src/errors.js';
import { contextOf, holders } from '../backends/registry.js';
import { writeAll, type Io } from '../io.js';
import { nameOption, type OptionSpec, type Parsed } from '../options.js';
import { readAuth } from '../secret-input.js';

export const options: OptionSpec = { name: 'string', 'auth-file': 'string' };

export async function run(parsed: Parsed, io: Io): Promise<void> {
  if (io.stdout.isTTY) {
    throw new StackError('stdout-tty', 'refusing to print the token on a terminal; pipe it instead: npm run --silent unseal | docker secret create op_sa_token -', {
      step: 'unseal',
      exitCode: ExitCode.noPerm,
    });
  }
  const name = nameOption(parsed);
  const [holder] = await holders(contextOf(io), name);
  if (!holder) {
    throw new StackError('not-sealed', `nothing is sealed under ${name}; seal it first: op read "op://..." | npm run seal -- --name ${name}`, {
      step: 'unseal',
      exitCode: ExitCode.noInput,
    });
  }
  const authFile = typeof parsed['auth-file'] === 'string' ? parsed['auth-file'] : undefined;
  const token = await holder.unseal(name, { askAuth: () => readAuth(io, authFile, false) });
  try {
    await writeAll(io.stdout, token);
  } catch (error) {
    throw new StackError('stdout-closed', 'could not write the token to stdout (the reading end closed)', { step: 'unseal', exitCode: ExitCode.ioErr, cause: error });
  }
}
