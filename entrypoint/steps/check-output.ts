// Step 4: the rendered config holds every secret, so it may only be written
// to RAM: the output's directory must be on tmpfs or ramfs.
import { ExitCode, errnoCode, StackError } from '../../src/errors.js';
import { fileSystemOf } from '../fs/ram-backed.js';

const STEP = 'output';

export function checkOutputOnRam(output: string): void {
  let kind;
  try {
    kind = fileSystemOf(output);
  } catch (error) {
    throw new StackError(
      'output-dir',
      `the directory of ${output} cannot be inspected (${errnoCode(error) ?? 'error'}); mount a tmpfs there`,
      {
        step: STEP,
        exitCode: ExitCode.cantCreate,
        cause: error,
      },
    );
  }
  if (!kind.ramBacked) {
    throw new StackError(
      'output-not-tmpfs',
      `${output} is not on tmpfs or ramfs (file system type ${kind.type}); mount a tmpfs there (compose: tmpfs: /tmp) or point BRIDGE_CONFIG_OUT at one`,
      {
        step: STEP,
        exitCode: ExitCode.noPerm,
      },
    );
  }
}
