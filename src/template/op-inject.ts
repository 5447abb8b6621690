// Runs the real 1Password CLI, `op inject`, on a template given on stdin and
// returns what it printed. The token goes into this one child's environment
// and nowhere else; OP_CONNECT_* are removed because they would take
// precedence over it. op's own exit status is not trusted alone: its output is
// checked by the caller. op's stderr is never printed raw.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { collect } from '../process/collect.js';
import { ExitCode, StackError } from '../errors.js';

export interface InjectOptions {
  token: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** A RAM-backed directory for op's private config dir (the output's tmpfs). */
  workDir: string;
  /** The op binary; `op` on PATH by default. */
  op?: string;
}

export interface InjectResult {
  exitCode: number;
  stdout: string;
  /** op's stderr, for a caller that masks it before showing any of it. */
  stderr: string;
}

const DROPPED = /^(OP_CONNECT_.*|OP_SESSION_.*|OP_SERVICE_ACCOUNT_TOKEN.*|OP_CONFIG_DIR)$/;

/** Environment for op: the caller's, without other 1Password credentials, plus the token and a private config dir. */
export function opEnvironment(env: NodeJS.ProcessEnv, token: string, configDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !DROPPED.test(name)) out[name] = value;
  }
  out.OP_SERVICE_ACCOUNT_TOKEN = token;
  out.OP_CONFIG_DIR = configDir;
  return out;
}

export async function opInject(template: string, options: InjectOptions, step: string): Promise<InjectResult> {
  removeStaleConfigDirs(options.workDir);
  const configDir = mkdtempSync(join(options.workDir, '.op-config-'));
  try {
    const result = await collect(options.op ?? 'op', ['inject'], {
      input: template,
      env: opEnvironment(options.env, options.token, configDir),
      timeoutMs: options.timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
    });
    if (result.exitCode === undefined) {
      const why = result.timedOut ? `did not finish within ${options.timeoutMs / 1000} s` : result.startError ? 'could not be started' : `was killed by ${result.signal}`;
      throw new StackError('op-unavailable', `op inject ${why}; check that the 1Password CLI is installed as \`op\` and 1Password is reachable`, {
        step,
        exitCode: ExitCode.unavailable,
        cause: result.startError,
      });
    }
    return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
  } finally {
    rmSync(configDir, { recursive: true, force: true });
  }
}

/** op config dirs that a killed earlier run left behind (best effort: only this uid's). */
function removeStaleConfigDirs(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.op-config-')) rmSync(join(dir, name), { recursive: true, force: true });
  }
}
