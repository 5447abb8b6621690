// Runs the real 1Password CLI, `op inject`, on a template given on stdin and
// returns what it printed. op runs as root, so its environment is built from
// an allow list, never copied: the locale, the time zone, the proxy and CA
// settings a deployment behind a proxy needs, the variables the template's
// references name (op expands `${VAR}` itself), the caller's fixed PATH, and
// the token with a private config dir. The token goes into this one child's
// environment and nowhere else. op's own exit status is not trusted alone: its
// output is checked by the caller. op's stderr is never printed raw.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, StackError } from '../errors.js';
import { collect } from '../process/collect.js';

export interface InjectOptions {
  token: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** A RAM-backed directory for op's private config dir (the output's tmpfs). */
  workDir: string;
  /** The op binary, by absolute path. */
  op: string;
  /** The PATH op gets (the caller's fixed one, never the container's). */
  path: string;
}

export interface InjectResult {
  exitCode: number;
  stdout: string;
  /** op's stderr, for a caller that masks it before showing any of it. */
  stderr: string;
}

/** What op may see of the container's environment besides the template's own variables. */
export const PASSED_TO_OP = [
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
] as const;

/** Variables a template may name in `${VAR}`: ordinary ones, never op's own settings, credentials or the paths op runs with. */
const TEMPLATE_VARIABLE = /^(?!OP_|PATH$|HOME$)[A-Za-z_][A-Za-z0-9_]*$/;

/** The `${VAR}` names inside a template's references, in order, each once. */
export function templateVariables(references: readonly string[]): string[] {
  return [
    ...new Set(references.flatMap((ref) => [...ref.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!))),
  ];
}

/** Whether op may be given this variable for a template to expand; false for op's settings and credentials (OP_*), PATH and HOME. */
export const isTemplateVariable = (name: string) => TEMPLATE_VARIABLE.test(name);

/** Environment for op: the allow list and the template's variables from `env`, then PATH, HOME, the token and a private config dir. */
export function opEnvironment(
  env: NodeJS.ProcessEnv,
  variables: readonly string[],
  token: string,
  configDir: string,
  path: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [...PASSED_TO_OP, ...variables.filter(isTemplateVariable)]) {
    const value = env[name];
    if (value !== undefined) out[name] = value;
  }
  out.PATH = path;
  out.HOME = configDir;
  out.OP_SERVICE_ACCOUNT_TOKEN = token;
  out.OP_CONFIG_DIR = configDir;
  return out;
}

export async function opInject(
  template: string,
  variables: readonly string[],
  options: InjectOptions,
  step: string,
): Promise<InjectResult> {
  removeStaleConfigDirs(options.workDir);
  const configDir = mkdtempSync(join(options.workDir, '.op-config-'));
  try {
    const result = await collect(options.op, ['inject'], {
      input: template,
      env: opEnvironment(options.env, variables, options.token, configDir, options.path),
      cwd: configDir,
      timeoutMs: options.timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
    });
    if (result.exitCode === undefined) {
      const why = result.timedOut
        ? `did not finish within ${options.timeoutMs / 1000} s`
        : result.startError
          ? 'could not be started'
          : `was killed by ${result.signal}`;
      throw new StackError(
        'op-unavailable',
        `op inject ${why}; check that the 1Password CLI is installed at ${options.op} and 1Password is reachable`,
        {
          step,
          exitCode: ExitCode.unavailable,
          cause: result.startError,
        },
      );
    }
    const stdout = result.stdout.toString('utf8');
    result.stdout.fill(0);
    return { exitCode: result.exitCode, stdout, stderr: result.stderr };
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
