// The write step in-process (entrypoint/steps/write-config.ts): the rendered
// config, every secret in it, lands on tmpfs as exactly its bytes, mode 0600
// whatever the umask and whatever mode an older file had, replacing a symlink
// at its name rather than writing through it; temp files a killed earlier run
// left are removed and nothing else is. A write that cannot happen is refused
// (73) naming the uid and the errno, never the config's contents, and leaves
// no temp file. removeConfig removes the file (or a symlink, not its target)
// and accepts that it is already gone.
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { removeConfig, writeConfig } from '../../entrypoint/steps/write-config.js';
import { fakeServiceAccountToken } from '../fixtures/tokens.js';
import { refusal } from '../support/refusal.js';

const token = fakeServiceAccountToken();
/** A config with a secret in it and bytes that a wrong encoding would change. */
const config = `${JSON.stringify({ token, name: 'Zoë – ✓' }, null, 2)}\n`;
const NOBODY = 65534;

/** A fresh directory on tmpfs for one test, removed after it. */
function scratch(t: Test): string {
  const dir = mkdtempSync('/dev/shm/cbs-write-config-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The StackError `run` throws; fails the test when it returns or throws anything else. */

const mode = (file: string) => lstatSync(file).mode & 0o7777;

t.test('the config is written as exactly its bytes, mode 0600 even under umask 0', async (t) => {
  const dir = scratch(t);
  const output = join(dir, 'config.json');
  const umask = process.umask(0);
  try {
    writeConfig(output, config);
  } finally {
    process.umask(umask);
  }
  t.same(readFileSync(output), Buffer.from(config, 'utf8'), 'its bytes, UTF-8');
  t.equal(mode(output), 0o600, 'mode 0600');
  t.equal(lstatSync(output).uid, process.geteuid!(), "owned by the writer's uid");
  t.same(readdirSync(dir), ['config.json'], 'nothing else left beside it');
});

t.test('an older config, mode 0644, is replaced: new bytes, mode 0600', async (t) => {
  const dir = scratch(t);
  const output = join(dir, 'config.json');
  writeFileSync(output, 'an older config that is longer than the new one '.repeat(200), { mode: 0o644 });
  chmodSync(output, 0o644);
  writeConfig(output, config);
  t.equal(readFileSync(output, 'utf8'), config);
  t.equal(mode(output), 0o600);
});

t.test('a symlink at the output is replaced, never written through', async (t) => {
  const dir = scratch(t);
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'untouched', { mode: 0o644 });
  const output = join(dir, 'config.json');
  symlinkSync(victim, output);
  writeConfig(output, config);
  t.ok(lstatSync(output).isFile(), 'the output is a regular file now');
  t.equal(readFileSync(output, 'utf8'), config);
  t.equal(mode(output), 0o600);
  t.equal(readFileSync(victim, 'utf8'), 'untouched', "the link's target is untouched");
  t.equal(mode(victim), 0o644, 'and keeps its mode');
});

t.test('temp files a killed earlier run left are removed; nothing else is', async (t) => {
  const dir = scratch(t);
  const output = join(dir, 'config.json');
  const stale = ['.config.json.0123456789ab.tmp', '.config.json.ffffffffffff.tmp'];
  const kept = ['.other.json.0123456789ab.tmp', 'config.json.bak', '.config.json.0123456789ab.tmp.keep'];
  for (const name of [...stale, ...kept]) writeFileSync(join(dir, name), token);
  writeConfig(output, config);
  t.same(readdirSync(dir).sort(), ['config.json', ...kept].sort());
});

t.test('a write that cannot happen is refused (73), naming the uid and errno, never the config', async (t) => {
  const dir = scratch(t);
  const cases: Array<[string, string, string, () => void]> = [
    ['a missing directory', join(dir, 'missing', 'config.json'), 'ENOENT', () => undefined],
    [
      'a directory at the output',
      join(dir, 'taken', 'config.json'),
      'EISDIR',
      () => {
        mkdirSync(join(dir, 'taken', 'config.json'), { recursive: true });
        writeFileSync(join(dir, 'taken', 'config.json', 'inside'), '');
      },
    ],
  ];
  for (const [label, output, errno, setup] of cases) {
    setup();
    const error = refusal(t, () => writeConfig(output, config));
    t.equal(error.code, 'write-failed', `${label}: refused`);
    t.equal(error.step, 'write', `${label}: the write step`);
    t.equal(error.exitCode, 73, `${label}: cannot create`);
    t.equal(
      error.message,
      `cannot write ${output} as uid 0 (${errno}); its directory must be a tmpfs writable by the bridge user (compose: tmpfs: /tmp)`,
      `${label}: named`,
    );
    t.match(error.cause, { code: errno }, `${label}: the cause kept`);
    t.notOk(error.message.includes(token.slice(4, 40)), `${label}: never the config's secret`);
  }
  t.same(readdirSync(join(dir, 'taken')), ['config.json'], 'no temp file left behind');
});

t.test("a directory the bridge's user cannot write is refused with that user's uid (EACCES)", async (t) => {
  const dir = scratch(t);
  chmodSync(dir, 0o755);
  const output = join(dir, 'config.json');
  const getuid = process.getuid!;
  // Back to root before any assertion: a failing one must not leave the process as another user.
  const error = refusal(t, () => {
    process.setegid!(NOBODY);
    process.seteuid!(NOBODY);
    process.getuid = () => NOBODY;
    try {
      writeConfig(output, config);
    } finally {
      process.getuid = getuid;
      process.seteuid!(0);
      process.setegid!(0);
    }
  });
  t.equal(error.code, 'write-failed');
  t.equal(
    error.message,
    `cannot write ${output} as uid ${NOBODY} (EACCES); its directory must be a tmpfs writable by the bridge user (compose: tmpfs: /tmp)`,
  );
  t.same(readdirSync(dir), [], 'nothing written');
});

t.test('a failure without an errno is still named as an error', async (t) => {
  const module = await t.mockImport<typeof import('../../entrypoint/steps/write-config.js')>(
    '../../entrypoint/steps/write-config.js',
    {
      '../../src/fs/atomic-write.js': {
        removeStaleTemps: () => 0,
        writeFileAtomic: () => {
          throw new Error('the write went wrong');
        },
      },
    },
  );
  const error = refusal(t, () => module.writeConfig('/dev/shm/cbs-none/config.json', config));
  t.equal(
    error.message,
    'cannot write /dev/shm/cbs-none/config.json as uid 0 (error); its directory must be a tmpfs writable by the bridge user (compose: tmpfs: /tmp)',
  );
});

t.test('removeConfig removes the config, or a symlink but not its target, and accepts it gone', async (t) => {
  const dir = scratch(t);
  const output = join(dir, 'config.json');
  writeFileSync(output, config);
  removeConfig(output);
  t.notOk(existsSync(output), 'removed');
  t.doesNotThrow(() => removeConfig(output), 'already gone is fine');
  t.doesNotThrow(() => removeConfig(join(dir, 'missing', 'config.json')), 'so is a missing directory');
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'kept');
  symlinkSync(victim, output);
  removeConfig(output);
  t.notOk(readdirSync(dir).includes('config.json'), 'the link removed');
  t.equal(readFileSync(victim, 'utf8'), 'kept', 'its target kept');
});
