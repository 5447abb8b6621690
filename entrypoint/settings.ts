// The entrypoint is configured only through its environment and its
// arguments (Docker's ENTRYPOINT + CMD). Every setting, its default, and its
// check live here; a bad value is a configuration error (exit 78).
import { TOKEN_TARGET } from '../src/contract.js';
import { ExitCode, StackError } from '../src/errors.js';

/** Where the values come from: 1Password (`op inject` with a service-account token) or the local vault. */
type SecretsSource = '1password' | 'vault';

export interface Settings {
  /** BRIDGE_SECRETS_SOURCE: compose.yml sets it from the stack's SECRETS_SOURCE; never guessed from the file. */
  source: SecretsSource;
  /** The container's credential: the service-account token, or its part of the local vault. */
  tokenFile: string;
  template: string;
  /** The template itself, when given inline (BRIDGE_CONFIG_TEMPLATE_TEXT); it wins over the file. */
  templateText: string | undefined;
  /** The bridge's entry, inline as JSON (BRIDGE_AGENT_ENTRY, as the agent builder gives it). */
  agentEntry: string | undefined;
  /** Or the agents file and the entry's name in it (BRIDGE_AGENTS_FILE, BRIDGE_AGENT: `admin` for the admin bridge). */
  agentsFile: string | undefined;
  agent: string | undefined;
  output: string;
  /** `name` or `uid:gid`; undefined means the image's default user. */
  runAs: string | undefined;
  waitFor: URL[];
  waitTimeoutMs: number;
  opTimeoutMs: number;
  supervise: boolean;
  /** BRIDGE_HEALTH_INTERVAL: how often a supervisor scans for leaks and renews its verdict (default 1 s). */
  healthIntervalMs: number;
  /** Development only: run without dropping privileges when not started as root. */
  allowNoDrop: boolean;
  /** The command to run, Docker-style; default `copilot-bridge start`. */
  command: string[];
}

export const DEFAULT_RUN_AS = 'bridge';
const DEFAULT_COMMAND = ['copilot-bridge', 'start'];

/** Reads the settings; throws a StackError (exit 78) naming the variable that is wrong. */
export function readSettings(env: NodeJS.ProcessEnv, args: readonly string[]): Settings {
  return {
    source: secretsSource(env),
    tokenFile: path(env, 'OP_SERVICE_ACCOUNT_TOKEN_FILE', TOKEN_TARGET),
    template: path(env, 'BRIDGE_CONFIG_TEMPLATE', '/etc/copilot-bridge/config.json.tpl'),
    templateText: env.BRIDGE_CONFIG_TEMPLATE_TEXT || undefined,
    agentEntry: env.BRIDGE_AGENT_ENTRY || undefined,
    agentsFile: env.BRIDGE_AGENTS_FILE ? path(env, 'BRIDGE_AGENTS_FILE', '') : undefined,
    agent: agentName(env),
    output: path(env, 'BRIDGE_CONFIG_OUT', '/tmp/config.json'),
    runAs: env.BRIDGE_RUN_AS || undefined,
    waitFor: urls(env.BRIDGE_WAIT_FOR ?? ''),
    waitTimeoutMs: seconds(env, 'BRIDGE_WAIT_TIMEOUT', 300) * 1000,
    opTimeoutMs: seconds(env, 'BRIDGE_OP_TIMEOUT', 60) * 1000,
    supervise: flag(env, 'BRIDGE_SUPERVISE'),
    healthIntervalMs: seconds(env, 'BRIDGE_HEALTH_INTERVAL', 1) * 1000,
    allowNoDrop: flag(env, 'BRIDGE_ALLOW_NO_DROP'),
    command: args.length > 0 ? [...args] : [...DEFAULT_COMMAND],
  };
}

const configError = (message: string) =>
  new StackError('settings', message, { step: 'settings', exitCode: ExitCode.config });

function path(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const value = env[name] || fallback;
  if (!value.startsWith('/')) throw configError(`${name} must be an absolute path`);
  return value;
}

function secretsSource(env: NodeJS.ProcessEnv): SecretsSource {
  const raw = env.BRIDGE_SECRETS_SOURCE || '1password';
  if (raw !== '1password' && raw !== 'vault')
    throw configError('BRIDGE_SECRETS_SOURCE must be 1password or vault (compose.yml sets it from SECRETS_SOURCE)');
  return raw;
}

function agentName(env: NodeJS.ProcessEnv): string | undefined {
  const name = env.BRIDGE_AGENT || undefined;
  if (name !== undefined && !env.BRIDGE_AGENTS_FILE)
    throw configError('BRIDGE_AGENT needs BRIDGE_AGENTS_FILE: the agents file its entry is in');
  if (name === undefined && env.BRIDGE_AGENTS_FILE)
    throw configError(
      'BRIDGE_AGENTS_FILE needs BRIDGE_AGENT: the name of the entry to render (admin for the admin bridge)',
    );
  if (name !== undefined && env.BRIDGE_AGENT_ENTRY)
    throw configError('set BRIDGE_AGENT_ENTRY or BRIDGE_AGENT, not both');
  return name;
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw configError(`${name} must be a positive number of seconds`);
  return value;
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw configError(`${name} must be 1 or 0`);
}

function urls(list: string): URL[] {
  return list
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((text) => {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        throw configError('BRIDGE_WAIT_FOR must be a list of http(s) URLs separated by commas or spaces');
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw configError('BRIDGE_WAIT_FOR must be a list of http(s) URLs separated by commas or spaces');
      }
      return url;
    });
}
