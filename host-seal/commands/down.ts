// `down`: stop the stack (its agents first), then overwrite and remove every
// released token file, even when compose fails (the error is reported after
// the wipe), going on past any entry it cannot remove. Under the stack lock,
// like `up` and `forget`.

import { readdirSync } from 'node:fs';
import { AGENT_LABEL, PROJECT_LABEL } from '../../src/contract.js';
import { ExitCode, StackError } from '../../src/errors.js';
import { contextOf } from '../backends/registry.js';
import type { Io } from '../io.js';
import { withLock } from '../lock.js';
import type { OptionSpec, Parsed } from '../options.js';
import { compose } from '../stack/compose.js';
import { releaseDir, wipeReleased } from '../stack/release.js';
import { composeEnv, openStack, type Stack } from '../stack/stack.js';

export const options: OptionSpec = { file: 'strings' };

async function removeAgents(stack: Stack, io: Io): Promise<void> {
  const { execa } = await import('execa');
  const listed = await execa(
    'docker',
    ['ps', '-aq', '--filter', `label=${AGENT_LABEL}`, '--filter', `label=${PROJECT_LABEL}=${stack.project}`],
    { env: io.env, extendEnv: false, reject: false, stdin: 'ignore' },
  );
  const ids = listed.stdout.split('\n').filter(Boolean);
  if (ids.length === 0) return;
  io.stderr.write(`down: removing ${ids.length} agent container(s) of ${stack.project}\n`);
  await execa('docker', ['rm', '-f', ...ids], { env: io.env, extendEnv: false, reject: false, stdin: 'ignore' });
}

export async function run(parsed: Parsed, io: Io): Promise<void> {
  const context = contextOf(io);
  const dir = releaseDir(io.env, io.platform);
  await withLock({ dir: context.configDir, name: 'stack', what: 'down', progress: io.stderr }, async () => {
    let failure: unknown;
    try {
      // Inside: without Compose or a compose file, the released tokens are still wiped below.
      const stack = await openStack(parsed, io);
      // The names released right now (none after a failed up): compose then needs no file that is not there.
      let names: string[] = [];
      try {
        names = readdirSync(dir).filter((name) => !name.startsWith('.'));
      } catch {
        names = [];
      }
      // Without an engine, compose would print its traceback and stop nothing: say so in one line (the wipe below
      // still runs, so no token stays on the disk; what runs keeps what it read at its start).
      const { execa } = await import('execa');
      const engine = await execa('docker', ['version', '--format', '{{.Server.Version}}'], {
        env: io.env,
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
      });
      if (engine.failed)
        throw new StackError(
          'docker-unreachable',
          `the Docker engine does not answer${io.env.DOCKER_HOST ? ` at DOCKER_HOST=${io.env.DOCKER_HOST}` : ''}, so nothing was stopped; the released files are wiped, but the stack's containers may still run: start the engine (systemctl start docker) and run npm run down again`,
          { step: 'down', exitCode: ExitCode.unavailable },
        );
      // Agents started with `agent up` are not compose services: remove them first, or compose cannot remove
      // mattermost-net, and they would keep a wiped token file mounted.
      await removeAgents(stack, io);
      io.stderr.write(`down: ${stack.tool.label} down\n`);
      await compose(stack.tool, [...stack.files, 'down'], io.env, composeEnv(stack.dir, names), io.stderr);
    } catch (error) {
      failure = error;
    }
    const { wiped, failed } = await wipeReleased(dir, io.platform);
    io.stderr.write(`down: overwrote and removed ${wiped.length} released token file(s) in ${dir}\n`);
    for (const entry of failed) io.stderr.write(`down: could not wipe ${entry}\n`);
    // Whatever stopped down before the engine did (a mistyped --file, compose failing), what runs goes on running.
    if (failure instanceof StackError && failure.code !== 'docker-unreachable')
      throw new StackError(
        failure.code,
        `${failure.message} (the released files are wiped, but the stack's containers may still run: then run npm run down again)`,
        { step: failure.step, exitCode: failure.exitCode, cause: failure },
      );
    if (failure !== undefined) throw failure;
    if (failed.length > 0) {
      throw new StackError(
        'wipe-incomplete',
        `${failed.length} entr${failed.length === 1 ? 'y' : 'ies'} of ${dir} could not be wiped (listed above); remove them by hand`,
        { step: 'down', exitCode: ExitCode.ioErr },
      );
    }
  });
}
