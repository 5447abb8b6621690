// The output step in-process (entrypoint/steps/check-output.ts): the rendered
// config, which holds every secret, may only be written to RAM. A directory on
// tmpfs passes; one on a disk, procfs or sysfs is refused (77) naming its file
// system type, which the test takes from coreutils' stat(1) and the kernel's
// magic numbers, not from the module; a directory that cannot be inspected is
// refused (73) with its errno. The same step end to end: refusals.test.ts.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import t from 'tap';
import { checkOutputOnRam } from '../../entrypoint/steps/check-output.js';
import type { StackError } from '../../src/errors.js';
import { refusal } from '../support/refusal.js';

/** statfs(2) magic numbers (linux/magic.h). */
const TMPFS_MAGIC = '1021994';
const RAMFS_MAGIC = '858458f6';

/** The file system type of `dir` in hex, as coreutils' stat(1) prints it. */
const typeOf = (dir: string) => execFileSync('stat', ['-f', '-c', '%t', dir], { encoding: 'utf8' }).trim();

/** The StackError `run` throws; fails the test when it returns or throws anything else. */

const notRam = (output: string, type: string) =>
  `${output} is not on tmpfs or ramfs (file system type 0x${type}); mount a tmpfs there (compose: tmpfs: /tmp) or point BRIDGE_CONFIG_OUT at one`;

t.test('an output directory on tmpfs is accepted', async (t) => {
  t.equal(typeOf('/dev/shm'), TMPFS_MAGIC, 'this machine has /dev/shm on tmpfs, which the test needs');
  const dir = mkdtempSync('/dev/shm/cbs-check-output-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.doesNotThrow(() => checkOutputOnRam(join(dir, 'config.json')));
  // The file itself need not exist yet, only its directory is looked at.
  writeFileSync(join(dir, 'config.json'), '{}');
  t.doesNotThrow(() => checkOutputOnRam(join(dir, 'config.json')));
});

t.test('an output directory on a disk, procfs or sysfs is refused (77), naming its type', async (t) => {
  const checkout = resolve(import.meta.dirname, '..', '..');
  const diskType = typeOf(checkout);
  t.not(diskType, TMPFS_MAGIC, 'the checkout is not on tmpfs, which the test needs');
  t.not(diskType, RAMFS_MAGIC, 'the checkout is not on ramfs, which the test needs');
  for (const [output, type] of [
    [join(checkout, 'config.json'), diskType],
    ['/proc/config.json', '9fa0'],
    ['/sys/config.json', '62656572'],
  ] as const) {
    const error = refusal(t, () => checkOutputOnRam(output));
    t.equal(error.code, 'output-not-tmpfs', `${output}: refused`);
    t.equal(error.step, 'output', `${output}: the output step`);
    t.equal(error.exitCode, 77, `${output}: for safety`);
    t.equal(error.message, notRam(output, type), `${output}: names the type and what to do`);
  }
});

t.test('a directory that cannot be inspected is refused (73) with its errno', async (t) => {
  const dir = mkdtempSync('/dev/shm/cbs-check-output-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'file'), '');
  for (const [output, errno] of [
    [join(dir, 'missing', 'config.json'), 'ENOENT'],
    [join(dir, 'file', 'sub', 'config.json'), 'ENOTDIR'],
  ] as const) {
    const error = refusal(t, () => checkOutputOnRam(output));
    t.equal(error.code, 'output-dir', `${errno}: refused`);
    t.equal(error.step, 'output', `${errno}: the output step`);
    t.equal(error.exitCode, 73, `${errno}: cannot create`);
    t.equal(
      error.message,
      `the directory of ${output} cannot be inspected (${errno}); mount a tmpfs there`,
      `${errno}: named`,
    );
    t.match(error.cause, { code: errno }, `${errno}: the cause kept`);
  }
});

t.test('a directory the entrypoint may not search (EACCES, as another user) is refused, not skipped', async (t) => {
  const dir = mkdtempSync('/dev/shm/cbs-check-output-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const closed = join(dir, 'closed');
  mkdirSync(join(closed, 'sub'), { recursive: true, mode: 0o700 });
  chmodSync(closed, 0o700);
  const output = join(closed, 'sub', 'config.json');
  // The effective uid of nobody (the real one stays root, so the test can switch back in finally).
  process.setegid!(65534);
  process.seteuid!(65534);
  let error: StackError;
  try {
    error = refusal(t, () => checkOutputOnRam(output));
  } finally {
    process.seteuid!(0);
    process.setegid!(0);
  }
  t.equal(error.code, 'output-dir', 'refused');
  t.equal(error.exitCode, 73);
  t.equal(error.message, `the directory of ${output} cannot be inspected (EACCES); mount a tmpfs there`);
});

t.test('a failure without an errno is still named as an error', async (t) => {
  const { checkOutputOnRam } = await t.mockImport<typeof import('../../entrypoint/steps/check-output.js')>(
    '../../entrypoint/steps/check-output.js',
    {
      '../../entrypoint/fs/ram-backed.js': {
        fileSystemOf: () => {
          throw new Error('statfs went wrong');
        },
      },
    },
  );
  const error = refusal(t, () => checkOutputOnRam('/dev/shm/config.json'));
  t.equal(error.code, 'output-dir');
  t.equal(error.message, 'the directory of /dev/shm/config.json cannot be inspected (error); mount a tmpfs there');
});
