// `forget`: remove a sealed token (TPM blob file or Keychain item and its
// metadata) and overwrite-and-remove any released copy. It needs --name, or
// asks which at a terminal: it cannot be undone. Under the stack lock.
import { ExitCode, StackError } from '../../src/errors.js';
import { contextOf, holders, sealedNames } from '../backends/registry.js';
import type { Io } from '../io.js';
import { withLock } from '../lock.js';
import { nameOption, type OptionSpec, type Parsed } from '../options.js';
import { promptLine } from '../prompt.js';
import { releaseDir, wipeReleasedName } from '../stack/release.js';

export const options: OptionSpec = { name: 'string' };

async function chosenName(parsed: Parsed, io: Io): Promise<string> {
  if (typeof parsed.name === 'string') return nameOption(parsed);
  const sealed = (await sealedNames(contextOf(io))).map((entry) => entry.name);
  if (!io.stdin.isTTY) {
    throw new StackError(
      'name-needed',
      `forget needs --name (it cannot be undone); sealed: ${sealed.join(', ') || 'nothing'}`,
      { step: 'forget', exitCode: ExitCode.usage },
    );
  }
  const answer = (await promptLine(io, `forget which sealed name (${sealed.join(', ') || 'none sealed'})? `)).trim();
  if (answer === '')
    throw new StackError('name-needed', 'nothing forgotten (no name given)', {
      step: 'forget',
      exitCode: ExitCode.usage,
    });
  return nameOption({ name: answer });
}

export async function run(parsed: Parsed, io: Io): Promise<void> {
  const name = await chosenName(parsed, io);
  const context = contextOf(io);
  await withLock({ dir: context.configDir, name: 'stack', what: `forget ${name}`, progress: io.stderr }, async () => {
    const wiped = await wipeReleasedName(releaseDir(io.env, io.platform), io.platform, name);
    const removed: string[] = [];
    for (const holder of await holders(context, name)) {
      if (await holder.forget(name)) removed.push(holder.name);
    }
    if (removed.length === 0 && !wiped) {
      throw new StackError(
        'not-sealed',
        `nothing is sealed or released under ${name}; npm run seal:status lists what is`,
        { step: 'forget', exitCode: ExitCode.noInput },
      );
    }
    const parts = [...removed.map((kind) => `removed the ${kind} seal`), ...(wiped ? ['wiped the released copy'] : [])];
    io.stderr.write(`forgot ${name}: ${parts.join(', ')}\n`);
  });
}
