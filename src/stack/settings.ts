// The stack's settings as the host sees them, for both host programs (the
// seal/up/down CLI and the agent command): `.env` of the checkout read as
// Compose reads it, the environment over it, compose.yml's own defaults
// under both, and where `npm run up` releases tokens.
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'dotenv';
import { DEFAULT_SECRETS_SOURCE, SECRETS_SOURCES, SERVICE, type SecretsSource } from '../contract.js';
import { ExitCode, hasErrno, StackError } from '../errors.js';
import { canonicalDir } from './release-dir.js';

/**
 * compose.yml's `${VAR:-default}`s that a host command needs when no `.env`
 * or environment sets them (a test compares them with compose.yml).
 */
export const COMPOSE_DEFAULTS: Readonly<Record<string, string>> = {
  COMPOSE_PROJECT_NAME: SERVICE,
  BRIDGE_IMAGE: 'copilot-bridge-stack/copilot-bridge:local',
  AGENTS_FILE: './agents.example.json',
  SECRETS_SOURCE: DEFAULT_SECRETS_SOURCE,
};

/** `.env` of `cwd` (none: empty), then the environment over it; compose.yml's defaults under both. */
export function stackSettings(env: NodeJS.ProcessEnv, cwd = process.cwd()): Record<string, string> {
  let file: Record<string, string> = {};
  try {
    file = parse(readFileSync(join(cwd, '.env')));
  } catch (error) {
    if (!hasErrno(error, 'ENOENT'))
      throw new StackError('dotenv', `cannot read ${join(cwd, '.env')}; check its mode`, {
        step: 'settings',
        exitCode: ExitCode.noInput,
        cause: error,
      });
  }
  const fromEnv = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1] !== ''),
  );
  return { ...COMPOSE_DEFAULTS, ...file, ...fromEnv };
}

/**
 * Linux: `$XDG_RUNTIME_DIR/copilot-bridge-stack`; without it, as root
 * `/run/copilot-bridge-stack` (root's own), as a user
 * `/dev/shm/copilot-bridge-stack-UID`. macOS: see docs/macos.md.
 * Its parent is resolved once, here: every command then uses a path without
 * links (release-dir.ts proves it ours before use).
 */
export function releaseDir(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, uid = process.getuid?.() ?? 0): string {
  return canonicalDir(givenReleaseDir(env, platform, uid), uid);
}

function givenReleaseDir(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, uid: number): string {
  if (platform === 'darwin') return join(env.TMPDIR || tmpdir(), `${SERVICE}.noindex`);
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, SERVICE);
  return uid === 0 ? join('/run', SERVICE) : join('/dev/shm', `${SERVICE}-${uid}`);
}

/** The stack's source of secrets (SECRETS_SOURCE): one setting for the whole stack, never guessed per reference. */
export function secretsSource(settings: Record<string, string>): SecretsSource {
  const value = settings.SECRETS_SOURCE as SecretsSource;
  if (!SECRETS_SOURCES.includes(value)) {
    throw new StackError(
      'settings',
      `SECRETS_SOURCE must be ${SECRETS_SOURCES.join(' or ')} (in .env or the environment)`,
      { step: 'settings', exitCode: ExitCode.config },
    );
  }
  return value;
}
