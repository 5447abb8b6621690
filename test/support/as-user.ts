// Runs a command as the unprivileged user nobody (65534): a host user who is
// neither root nor in the docker group, or the bridge after the entrypoint
// dropped privileges. Through clean-env (no NODE_OPTIONS or loader variables
// of the test runner carried over) and setpriv: no supplementary group, no
// inheritable capability.
import { join } from 'node:path';
import { execa } from 'execa';
import { ROOT } from './scenario.js';

const CLEAN_ENV = join(ROOT, 'test', 'support', 'clean-env');

export const NOBODY = 65534;

export function asNobody(argv: string[], options: { env?: Record<string, string>; cwd?: string; input?: string } = {}) {
  return execa(
    CLEAN_ENV,
    ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--inh-caps=-all', ...argv],
    {
      ...(options.env ? { env: options.env, extendEnv: false } : {}),
      reject: false,
      cwd: options.cwd ?? '/',
      ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
    },
  );
}
