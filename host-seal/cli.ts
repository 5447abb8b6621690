// The CLI's core: picks the command, parses its options, runs it, and maps
// every failure to one line on stderr and a documented exit status. Only
// main.ts touches argv and the exit status.
import { failure } from '../src/cli-edge.js';
import { ExitCode, hasErrno, StackError } from '../src/errors.js';
import type { Io } from './io.js';
import { type OptionSpec, type Parsed, parseOptions } from './options.js';

interface Command {
  options: OptionSpec;
  run(parsed: Parsed, io: Io): Promise<void>;
}

/** A command whose arguments belong to another program (compose): passed on as they are, its status returned. */
interface RawCommand {
  raw: true;
  run(args: readonly string[], io: Io): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<Command | RawCommand>> = {
  seal: () => import('./commands/seal.js'),
  unseal: () => import('./commands/unseal.js'),
  status: () => import('./commands/status.js'),
  forget: () => import('./commands/forget.js'),
  up: () => import('./commands/up.js'),
  down: () => import('./commands/down.js'),
  compose: () => import('./commands/compose.js'),
  init: () => import('./commands/init.js'),
  vault: () => import('./commands/vault.js'),
  ps: () => import('./commands/ps.js'),
  doctor: () => import('./commands/doctor.js'),
  audit: () => import('./commands/audit.js'),
};

const USAGE = `usage: copilot-bridge-seal COMMAND [OPTIONS]

  seal     [--name NAME] [--backend auto|tpm2|keychain] [--pcrs LIST] [--auth | --auth-file FILE] [--force]
           reads the token from stdin when it is a pipe (op read "op://..." | npm run seal), else asks for it hidden
  unseal   [--name NAME] [--auth-file FILE]      writes the token to stdout, only when stdout is not a terminal
  status                                         (npm run seal:status) lists sealed names: backend, sealed at, PCRs,
                                                 fingerprint, released; npm run status is ps, below
  forget   --name NAME                           removes the seal and any released copy (asks at a terminal)
  up       [--file COMPOSE_FILE]... [--timeout SECONDS] [--auth-file FILE]
           checks Docker and the compose files, builds a missing image, releases the names the stack
           uses to tmpfs, runs compose up -d, waits for healthy services (a restart or exit ends it)
  down     [--file COMPOSE_FILE]...              stops the stack, overwrites and removes released tokens
  doctor   [--file COMPOSE_FILE]... [--json] [--online] [--auth-file FILE]
           will the stack work here: Docker, Compose, the compose and agents files, ports, the image,
           the TPM or keychain, each sealed credential (unsealed as a dry run), the release directory
  audit    [--file COMPOSE_FILE]... [--auth-file FILE]
           did a value leak: searches the stack's containers, images, volumes, processes, logs,
           the compose model, ~/.docker, shell histories, /tmp; names places, never values; 1 on a finding
  ps       [--file COMPOSE_FILE]... [--json]     (npm run status) each service and agent: state, health, uptime,
           restarts, the sealed credential it runs on (by fingerprint), the last healthcheck's output;
           1 while one is not running or unhealthy
  compose  ARGS...                               Docker Compose with the stack's paths: ps, logs, exec, build...
  init     [--admin-user NAME] [--admin-email ADDR] [--team NAME] [--user NAME] [--url URL] [--file FILE]...
           the first run: Mattermost alone, its admin, a bot, token and channel per bridge (tokens into
           the local vault, or 1Password with SECRETS_SOURCE=1password), the agents file's ids; run twice, nothing new
  vault    set ITEM/FIELD | ls | rm ITEM/FIELD | import   [--backend=tpm2|keychain]
           the local vault (SECRETS_SOURCE=vault): values from stdin or a hidden prompt, never arguments

NAME defaults to op-sa-token (vault is the local vault's own). Exit codes: 0 ok, 64 usage, 65 bad data, 66 nothing sealed, 69 TPM, keyring
or Docker unavailable, 70 internal error, 73 exists or cannot create, 74 i/o, 77 refused for safety,
75 busy (another command holds the lock), 78 TPM configuration, 130 interrupted. compose: Compose's own.
`;

/** Runs one command and returns the process exit status. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    io.stdout.write(USAGE);
    return ExitCode.ok;
  }
  const load = command === undefined ? undefined : COMMANDS[command];
  if (!load) {
    const known = command !== undefined && /^[a-z][a-z:-]{0,20}$/.test(command);
    io.stderr.write(
      `copilot-bridge-seal: ${known ? `unknown command ${command}` : 'a command is needed'}; one of ${Object.keys(COMMANDS).join(', ')} (see --help)\n`,
    );
    return ExitCode.usage;
  }
  try {
    const module = await load();
    if ('raw' in module) {
      if (rest.some((arg) => /ops_[A-Za-z0-9_-]{32}/.test(arg))) {
        throw new StackError(
          'token-in-argv',
          'a token is never accepted as an argument; it may now be in your shell history, so clear that and consider rotating the token',
          { step: 'options', exitCode: ExitCode.usage },
        );
      }
      return await module.run(rest, io);
    }
    if (rest.includes('--help')) {
      io.stdout.write(USAGE);
      return ExitCode.ok;
    }
    await module.run(parseOptions(rest, module.options), io);
    return ExitCode.ok;
  } catch (error) {
    return report(error, io);
  }
}

function report(error: unknown, io: Io): number {
  const full = causes(error).find((cause) => hasErrno(cause, 'ENOSPC')) as { path?: unknown } | undefined;
  if (full) {
    // The config directory's disk, the release tmpfs, or /dev/shm (the TPM tools' scratch directory): say which when
    // known.
    const where = typeof full.path === 'string' ? ` (${full.path})` : '';
    io.stderr.write(
      `copilot-bridge-seal: no space left on the device it was writing to${where}; free some space there (the config directory's disk, the release directory's tmpfs, or /dev/shm, where the TPM tools work) and retry (nothing was half-written: files are replaced atomically)\n`,
    );
    return ExitCode.cantCreate;
  }
  const { message, exitCode } = failure(error);
  io.stderr.write(`copilot-bridge-seal: ${message}\n`);
  return exitCode;
}

/** The error and its causes, outermost first. */
function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let at = error; at !== undefined && at !== null && chain.length < 8; at = (at as { cause?: unknown }).cause)
    chain.push(at);
  return chain;
}
