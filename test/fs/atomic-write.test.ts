// Atomic writes on the real file system, watched from inside the window: the
// mode the temporary file has while its bytes are written (not only the end
// state), under a umask that would widen a mode given too late; a symlink at
// the target replaced, never followed; a failed write leaving nothing; the
// exclusive variant refusing an existing file. The window is observed by
// wrapping node:fs's writeSync with a real fstat of the descriptor.
import * as fs from 'node:fs';
import {
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';

type AtomicWrite = typeof import('../../src/fs/atomic-write.js');

/** The module with writeSync observed: the mode and name of each descriptor written to, as the kernel reports them. */
async function observed(t: Test): Promise<{ module: AtomicWrite; seen: Array<{ mode: number; size: number }> }> {
  const seen: Array<{ mode: number; size: number }> = [];
  const module = await t.mockImport<AtomicWrite>('../../src/fs/atomic-write.js', {
    'node:fs': {
      ...fs,
      writeSync: (fd: number, ...rest: unknown[]) => {
        const st = fs.fstatSync(fd);
        seen.push({ mode: st.mode & 0o7777, size: st.size });
        return (fs.writeSync as (...args: unknown[]) => number)(fd, ...rest);
      },
    },
  });
  return { module, seen };
}

function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'cbs-atomic-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs `body` under umask 0, so that a mode is exactly what open(2) or fchmod(2) was given. */
function withUmask<T>(mask: number, body: () => T): T {
  const before = process.umask(mask);
  try {
    return body();
  } finally {
    process.umask(before);
  }
}

t.test('the temporary file has its final mode from the moment it exists, whatever the umask', async (t) => {
  const { module, seen } = await observed(t);
  const dir = scratch(t);
  for (const mode of [0o600, 0o400, 0o640]) {
    for (const mask of [0, 0o022, 0o077]) {
      seen.length = 0;
      const file = join(dir, `config-${mode.toString(8)}-${mask.toString(8)}.json`);
      withUmask(mask, () => module.writeFileAtomic(file, 'x'.repeat(70_000), mode));
      t.ok(seen.length > 0, `${mode.toString(8)} under umask ${mask.toString(8)}: the write was watched`);
      t.same(
        [...new Set(seen.map((s) => s.mode))],
        [mode & ~mask],
        `${mode.toString(8)} under umask ${mask.toString(8)}: never wider while the bytes go in`,
      );
      t.equal(statSync(file).mode & 0o7777, mode, `${mode.toString(8)}: exactly that mode at the end`);
      t.equal(readFileSync(file, 'utf8').length, 70_000, 'complete');
    }
  }
  seen.length = 0;
  withUmask(0, () => module.writeFileExclusive(join(dir, 'exclusive'), 'secret-ish', 0o600));
  t.same([...new Set(seen.map((s) => s.mode))], [0o600], 'the exclusive variant too');
});

t.test('a symlink at the target is replaced, not followed; nothing is left beside it', async (t) => {
  const { writeFileAtomic } = await import('../../src/fs/atomic-write.js');
  const dir = scratch(t);
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'untouched');
  const target = join(dir, 'config.json');
  symlinkSync(victim, target);
  writeFileAtomic(target, '{"a":1}');
  t.equal(readFileSync(victim, 'utf8'), 'untouched', 'the link target is not written');
  t.ok(lstatSync(target).isFile(), 'the link itself is replaced by the file');
  t.same(readdirSync(dir).sort(), ['config.json', 'victim'], 'no temporary file left');
});

t.test('a failed write leaves no file and no temporary file', async (t) => {
  const dir = scratch(t);
  const module = await t.mockImport<AtomicWrite>('../../src/fs/atomic-write.js', {
    'node:fs': {
      ...fs,
      writeSync: () => {
        throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
      },
    },
  });
  t.throws(() => module.writeFileAtomic(join(dir, 'config.json'), 'data'), { code: 'ENOSPC' });
  t.same(readdirSync(dir), [], 'nothing left');
});

t.test('the exclusive variant: of an existing name, nothing is replaced', async (t) => {
  const { writeFileExclusive } = await import('../../src/fs/atomic-write.js');
  const dir = scratch(t);
  const file = join(dir, 'lock');
  writeFileExclusive(file, 'first');
  t.throws(() => writeFileExclusive(file, 'second'), { code: 'EEXIST' });
  t.equal(readFileSync(file, 'utf8'), 'first');
  t.same(readdirSync(dir), ['lock'], 'no temporary file left');
});
