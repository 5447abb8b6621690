// Step 7: the validated config goes to the tmpfs output atomically,
// mode 0600, written after the privilege drop so that it is owned by the
// bridge's user without needing CAP_CHOWN. Temp files that a killed earlier
// run left behind are removed first.
import { rmSync } from 'node:fs';
import { ExitCode, errnoCode, StackError } from '../../src/errors.js';
import { removeStaleTemps, writeFileAtomic } from '../../src/fs/atomic-write.js';

const STEP = 'write';

export function writeConfig(output: string, text: string): void {
  try {
    removeStaleTemps(output);
    writeFileAtomic(output, text, 0o600);
  } catch (error) {
    const code = errnoCode(error);
    throw new StackError(
      'write-failed',
      `cannot write ${output} as uid ${process.getuid!()} (${code ?? 'error'}); its directory must be a tmpfs writable by the bridge user (compose: tmpfs: /tmp)`,
      {
        step: STEP,
        exitCode: ExitCode.cantCreate,
        cause: error,
      },
    );
  }
}

/** Removes the rendered config when the bridge did not start or has ended. */
export function removeConfig(output: string): void {
  rmSync(output, { force: true });
}
