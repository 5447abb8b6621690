// `forget`: remove a sealed token (TPM blob file or Keychain item and its
// metadata) and overwrite-and-remove any released copy.
import { ExitCode, StackError } from '../../src/errors.js';
import { contextOf, holders } from '../backends/registry.js';
import type { Io } from '../io.js';
import { nameOption, type OptionSpec, type Parsed } from '../options.js';
import { releaseDir } from '../release.js';
import { overwriteAndRemove } from '../fs-safe.js';
import { join } from 'node:path';

export const options: OptionSpec = { name: 'string' };

export async function run(parsed: Parsed, io: Io): Promise<void> {
  const name = nameOption(parsed);
  const wiped = await overwriteAndRemove(join(releaseDir(io.env, io.platform), name));
  const removed: string[] = [];
  for (const holder of await holders(contextOf(io), name)) {
    if (await holder.forget(name)) removed.push(holder.name);
  }
  if (removed.length === 0 && !wiped) {
    throw new StackError('not-sealed', `nothing is sealed or released under ${name}; npm run seal:status lists what is`, { step: 'forget', exitCode: ExitCode.noInput });
  }
  const parts = [...removed.map((kind) => `removed the ${kind} seal`), ...(wiped ? ['wiped the released copy'] : [])];
  io.stderr.write(`forgot ${name}: ${parts.join(', ')}\n`);
}
