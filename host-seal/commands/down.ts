// `down`: stop the stack, then overwrite and remove every released token file,
// even when compose fails (the error is reported after the wipe).
import { contextOf, sealedNames } from '../backends/registry.js';
import { compose, findCompose } from '../compose.js';
import type { Io } from '../io.js';
import type { OptionSpec, Parsed } from '../options.js';
import { releaseDir, wipeReleased } from '../release.js';
import { composeEnv } from './up.js';

export const options: OptionSpec = { file: 'string' };

export async function run(parsed: Parsed, io: Io): Promise<void> {
  const dir = releaseDir(io.env, io.platform);
  const files = typeof parsed.file === 'string' ? ['-f', parsed.file] : [];
  let failure: unknown;
  try {
    const names = (await sealedNames(contextOf(io))).map((entry) => entry.name);
    const tool = await findCompose(io.env);
    io.stderr.write(`down: ${tool.label} down\n`);
    await compose(tool, [...files, 'down'], io.env, composeEnv(dir, names), io.stderr);
  } catch (error) {
    failure = error;
  }
  const wiped = await wipeReleased(dir);
  io.stderr.write(`down: overwrote and removed ${wiped.length} released token file(s) in ${dir}\n`);
  if (failure !== undefined) throw failure;
}
