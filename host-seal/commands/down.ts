// `down`: stop the stack, then overwrite and remove every released token file,
// even when compose fails (the error is reported after the wipe).
import { readFileSync } from 'node:fs';
import { contextOf, sealedNames } from '../backends/registry.js';
import { compose, findCompose } from '../compose.js';
import type { Io } from '../io.js';
import type { OptionSpec, Parsed } from '../options.js';
import { releaseDir, wipeReleased } from '../release.js';
import { AGENT_LABEL, PROJECT_LABEL } from '../../src/contract.js';
import { composeEnv } from './up.js';

export const options: OptionSpec = { file: 'string' };

/** The stack's project as compose.yml names it: COMPOSE_PROJECT_NAME from the environment, else from .env, else the default. */
export function stackProject(env: NodeJS.ProcessEnv, dotEnv: string | undefined): string {
  const fromFile = dotEnv?.split('\n').map((line) => /^\s*COMPOSE_PROJECT_NAME\s*=\s*(\S+)\s*$/.exec(line)?.[1]).find(Boolean);
  return env.COMPOSE_PROJECT_NAME || fromFile || 'copilot-bridge-stack';
}

async function removeAgents(io: Io): Promise<void> {
  const { execa } = await import('execa');
  let dotEnv: string | undefined;
  try {
    dotEnv = readFileSync('.env', 'utf8');
  } catch {
    dotEnv = undefined;
  }
  const project = stackProject(io.env, dotEnv);
  const listed = await execa('docker', ['ps', '-aq', '--filter', `label=${AGENT_LABEL}`, '--filter', `label=${PROJECT_LABEL}=${project}`], { env: io.env, extendEnv: false, reject: false, stdin: 'ignore' });
  const ids = listed.stdout.split('\n').filter(Boolean);
  if (ids.length === 0) return;
  io.stderr.write(`down: removing ${ids.length} agent container(s) of ${project}\n`);
  await execa('docker', ['rm', '-f', ...ids], { env: io.env, extendEnv: false, reject: false, stdin: 'ignore' });
}

export async function run(parsed: Parsed, io: Io): Promise<void> {
  const dir = releaseDir(io.env, io.platform);
  const files = typeof parsed.file === 'string' ? ['-f', parsed.file] : [];
  let failure: unknown;
  try {
    const names = (await sealedNames(contextOf(io))).map((entry) => entry.name);
    const tool = await findCompose(io.env);
    // Agents started with `agent up` are not compose services: remove them first, or compose cannot remove
    // mattermost-net, and they would keep a wiped token file mounted.
    await removeAgents(io);
    io.stderr.write(`down: ${tool.label} down\n`);
    await compose(tool, [...files, 'down'], io.env, composeEnv(dir, names), io.stderr);
  } catch (error) {
    failure = error;
  }
  const wiped = await wipeReleased(dir);
  io.stderr.write(`down: overwrote and removed ${wiped.length} released token file(s) in ${dir}\n`);
  if (failure !== undefined) throw failure;
}
