// Step 1: no core dump can hold a secret. RLIMIT_CORE must be 0 (soft and
// hard) before the token is read; the limit is inherited by op and the bridge.
// Node has no setrlimit, so util-linux's prlimit sets it on this process,
// unless the container already starts with it (compose `ulimits: core: 0`).
// prlimit runs as root: by its fixed path, with the fixed PATH only.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ExitCode, StackError } from '../../src/errors.js';
import { ROOT_PATH, ROOT_TOOLS } from '../root-tools.js';
import { trustedTool } from '../trusted-path.js';

const STEP = 'core-dumps';

/** Reads `Max core file size` from /proc/self/limits: [soft, hard] as written there. */
function coreLimit(): [string, string] {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max core file size'));
  const fields = line?.slice('Max core file size'.length).trim().split(/\s+/) ?? [];
  return [fields[0] ?? '?', fields[1] ?? '?'];
}

export function disableCoreDumps(): void {
  if (coreLimit().join() === '0,0') return;
  const prlimit = trustedTool(
    ROOT_TOOLS.prlimit,
    'prlimit (util-linux)',
    STEP,
    'install util-linux in the image, or start the container with `ulimits: core: 0`',
  );
  const result = spawnSync(prlimit, ['--pid', String(process.pid), '--core=0:0'], {
    stdio: 'ignore',
    env: { PATH: ROOT_PATH },
    cwd: '/',
  });
  if (result.status !== 0 || coreLimit().join() !== '0,0') {
    throw new StackError(
      'core-limit',
      'could not set RLIMIT_CORE to 0; install util-linux (prlimit) in the image or start the container with `ulimits: core: 0`',
      {
        step: STEP,
        exitCode: ExitCode.unavailable,
        cause: result.error,
      },
    );
  }
}
