// The stack as the host commands see it: which Compose, which compose files,
// which project, where released tokens go, the settings of `.env` (under the
// process environment, as Compose reads them), and the variables Compose needs
// to find released tokens (paths and names only, never a value).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { readAdminEntry, readAgentsFile, sharedItem } from '../../src/agents/agents-file.js';
import { ADMIN_VAULT_SUBSET, agentCredential, PROJECT_NAME } from '../../src/contract.js';
import { ExitCode, StackError } from '../../src/errors.js';
import { releaseDir, stackSettings } from '../../src/stack/settings.js';
import { dockerfileDigest } from '../doctor/docker.js';

export { stackSettings } from '../../src/stack/settings.js';

import type { Io } from '../io.js';
import { type Parsed, stringsOption } from '../options.js';
import { DB_PASSWORD_NAME, DEFAULT_NAME } from '../paths.js';
import { type Compose, findCompose } from './compose.js';

const DEFAULT_FILES = ['compose.yml', 'compose.yaml', 'docker-compose.yml', 'docker-compose.yaml'];

export interface Stack {
  tool: Compose;
  /** `-f FILE` for each --file given (none: Compose's own default in this directory). */
  files: string[];
  env: NodeJS.ProcessEnv;
  /** `.env` of this directory, then the environment over it: what Compose interpolates with. */
  settings: Record<string, string>;
  project: string;
  /** Where relative paths of compose.yml (AGENTS_FILE) start: the first compose file's directory. */
  projectDir: string;
  /** The release directory's path. */
  dir: string;
}

/** The project name as compose.yml names it: COMPOSE_PROJECT_NAME of the environment or `.env`, else the default. */
export function stackProject(settings: Record<string, string>): string {
  const name = settings.COMPOSE_PROJECT_NAME!;
  // Compose lower-cases a project name and drops other characters in its labels, but compose.yml passes the name
  // as written to the bridges and names a network with it: only a name Compose keeps as it is means one project.
  if (!PROJECT_NAME.test(name))
    throw new StackError(
      'project-name',
      `COMPOSE_PROJECT_NAME=${name} is not a name Compose keeps as it is (it would label the stack ${
        name
          .toLowerCase()
          .replace(/[^-_a-z0-9]/g, '')
          .replace(/^[-_]+/, '') || '(nothing)'
      }); use lower-case letters, digits, - and _, starting with a letter or digit`,
      { step: 'settings', exitCode: ExitCode.config },
    );
  return name;
}

/**
 * The compose files given with --file, each checked; without, those of
 * COMPOSE_FILE (Compose's own variable, from the environment or .env), else
 * one of Compose's default names must be here.
 */
function composeFiles(
  parsed: Parsed,
  settings: Record<string, string>,
  cwd: string,
): { args: string[]; first: string | undefined } {
  const given = stringsOption(parsed, 'file');
  const fromSetting =
    given.length === 0 && settings.COMPOSE_FILE
      ? settings.COMPOSE_FILE.split(settings.COMPOSE_PATH_SEPARATOR || ':').filter(Boolean)
      : [];
  for (const file of [...given, ...fromSetting]) {
    if (!existsSync(resolve(cwd, file))) {
      throw new StackError(
        'compose-file-missing',
        `the compose file ${file} does not exist; check ${given.length > 0 ? '--file' : 'COMPOSE_FILE'}`,
        { step: 'compose', exitCode: ExitCode.noInput },
      );
    }
  }
  if (given.length === 0 && fromSetting.length === 0 && !DEFAULT_FILES.some((name) => existsSync(join(cwd, name)))) {
    throw new StackError(
      'compose-file-missing',
      `no compose.yml in ${cwd}; run this from the copilot-bridge-stack checkout, or pass --file`,
      { step: 'compose', exitCode: ExitCode.noInput },
    );
  }
  return { args: given.flatMap((file) => ['-f', file]), first: [...given, ...fromSetting][0] };
}

export async function openStack(parsed: Parsed, io: Io, cwd = process.cwd()): Promise<Stack> {
  const settings = stackSettings(io.env, cwd);
  const files = composeFiles(parsed, settings, cwd);
  const tool = await findCompose(io.env);
  const projectDir = files.first ? dirname(resolve(cwd, files.first)) : cwd;
  return {
    tool,
    files: files.args,
    // The Dockerfile's SHA-256 goes into the image's label when Compose builds it (npm run doctor compares).
    env: {
      ...io.env,
      DOCKERFILE_SHA256: dockerfileDigest(projectDir) ?? 'unknown',
      // The project as this CLI names it, for Compose too: with COMPOSE_PROJECT_NAME empty Compose would name it
      // after the directory, and audit, status and down would look for another (the image's build label too).
      COMPOSE_PROJECT_NAME: stackProject(settings),
    },
    settings,
    project: stackProject(settings),
    projectDir,
    dir: releaseDir(io.env, io.platform),
  };
}

/**
 * The variables a compose file uses to find released tokens: paths and names
 * only. OP_SA_TOKEN_FILE is always set, so that `ps`, `logs`, `exec` and the
 * rest work whether or not the token is released: at the released file when
 * it is (`up` releases before it starts anything), else at /dev/null (a
 * bridge started on that stops at once: the token is empty).
 */
export function composeEnv(dir: string, names: string[]): Record<string, string> {
  return {
    COPILOT_BRIDGE_SECRETS_DIR: dir,
    // Which 1Password credentials exist, so that `agent up NAME` binds agent-NAME when it was released.
    COPILOT_BRIDGE_RELEASED: names.filter((name) => name !== DB_PASSWORD_NAME).join(',') || DEFAULT_NAME,
    // The admin's credential: the shared token (1Password) or its part of the local vault.
    OP_SA_TOKEN_FILE: names.includes(DEFAULT_NAME)
      ? join(dir, DEFAULT_NAME)
      : names.includes(ADMIN_VAULT_SUBSET)
        ? join(dir, ADMIN_VAULT_SUBSET)
        : '/dev/null',
  };
}

/**
 * The names the stack uses: the shared token, and `agent-NAME` for each agent
 * of the agents file (AGENTS_FILE, as compose.yml defaults it). Anything else
 * sealed is not released. An agents file that cannot be read, or whose admin
 * entry is missing or still holds the example's placeholders, stops `up`
 * before anything is released or started: the admin bridge reads its entry
 * from it, and would only crash-loop.
 */
export function namesInUse(settings: Record<string, string>, projectDir: string): string[] {
  const file = resolve(projectDir, settings.AGENTS_FILE!);
  if (!readAdminEntry(file)) {
    throw new StackError(
      'agents-file',
      `${file} has no "admin" entry, which the admin bridge needs; add one (see agents.example.json), or run npm run init`,
      { step: 'up', exitCode: ExitCode.config },
    );
  }
  const agents = readAgentsFile(file);
  const clash = sharedItem([readAdminEntry(file)!, ...agents], false);
  if (clash) throw new StackError('agents-file', `${file}: ${clash}`, { step: 'up', exitCode: ExitCode.config });
  return [DEFAULT_NAME, ...agents.map((agent) => agentCredential(agent.name))];
}
