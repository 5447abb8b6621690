// The program's edge: picks the command, runs it, and maps every failure to
// one line on stderr and its documented exit status. Only here do argv, the
// environment and exit statuses meet the code.
import { failure } from '../src/cli-edge.js';
import { ExitCode } from '../src/errors.js';
import { Log } from './log.js';
import { start } from './run.js';
import { readSettings } from './settings.js';
import { verify } from './verify.js';

const USAGE = 'usage: copilot-bridge-entrypoint [COMMAND [ARGS...]] | verify | health | --help';

export async function cli(args: readonly string[], env: NodeJS.ProcessEnv, log = new Log()): Promise<number> {
  try {
    if (args[0] === '--help' || args[0] === '-h') {
      process.stdout.write(
        `${USAGE}\nRenders the config template with op inject into tmpfs, proves no secret leaked, drops privileges and execs COMMAND (default: copilot-bridge start).\n`,
      );
      return ExitCode.ok;
    }
    // `health` reaches Node only when the launcher found no supervisor's verdict to read (launcher.c): then it is verify.
    if (args[0] === 'verify' || args[0] === 'health') {
      if (args.length > 1) {
        log.fatal(`${args[0]} takes no arguments; ${USAGE}`);
        return ExitCode.usage;
      }
      return verify(readSettings(env, []), env, log, (line) => process.stdout.write(`${line}\n`));
    }
    return await start(readSettings(env, args), env, log);
  } catch (error) {
    const { message, exitCode } = failure(error);
    log.fatal(message);
    return exitCode;
  }
}
