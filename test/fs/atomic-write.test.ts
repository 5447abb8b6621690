// Atomic writes on the real file system, watched from inside the window: the
// mode the temporary file has while its bytes are written (not only the end
// state), under a umask that would widen a mode given too late; a symlink at
// the target replaced, never followed; a failed write leaving nothing; the
// exclusive variant refusing an existing file. The window is observed by
// wrapping node:fs's writeSync with a real fstat of the descriptor.

import { execFileSync } from 'node:child_process';
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

t.test('a short write is continued until every byte is in, strings as UTF-8', async (t) => {
  const dir = scratch(t);
  const module = await t.mockImport<AtomicWrite>('../../src/fs/atomic-write.js', {
    'node:fs': {
      ...fs,
      // A disk that takes at most 1000 bytes a call, as write(2) may.
      writeSync: (fd: number, buffer: Uint8Array, offset: number, length: number) =>
        fs.writeSync(fd, buffer, offset, Math.min(length, 1000)),
    },
  });
  const text = 'é€𝄞 '.repeat(700);
  module.writeFileAtomic(join(dir, 'text'), text);
  t.same(readFileSync(join(dir, 'text')), Buffer.from(text, 'utf8'), 'the UTF-8 bytes, all of them');
  const bytes = new Uint8Array(2500).map((_, i) => (i * 7) & 0xff);
  module.writeFileExclusive(join(dir, 'bytes'), bytes);
  t.same([...readFileSync(join(dir, 'bytes'))], [...bytes], 'a Uint8Array: its bytes exactly');
});

t.test('a rename that fails leaves the target as it was and no temporary file', async (t) => {
  const { writeFileAtomic } = await import('../../src/fs/atomic-write.js');
  const dir = scratch(t);
  const target = join(dir, 'config.json');
  fs.mkdirSync(target);
  writeFileSync(join(target, 'inside'), 'kept');
  t.throws(() => writeFileAtomic(target, 'data'), { code: 'EISDIR' });
  t.same(readdirSync(dir), ['config.json'], 'no temporary file beside it');
  t.equal(readFileSync(join(target, 'inside'), 'utf8'), 'kept');
});

t.test(
  'the rename is made durable: the directory is fsynced and closed; a refusal to fsync it is no error',
  async (t) => {
    const dir = scratch(t);
    const events: string[] = [];
    const dirFds = new Set<number>();
    let refuse = false;
    const module = await t.mockImport<AtomicWrite>('../../src/fs/atomic-write.js', {
      'node:fs': {
        ...fs,
        fsyncSync: (fd: number) => {
          if (fs.fstatSync(fd).isDirectory()) {
            dirFds.add(fd);
            events.push('fsync dir');
            if (refuse) throw Object.assign(new Error('invalid argument'), { code: 'EINVAL' });
          }
          fs.fsyncSync(fd);
        },
        renameSync: (from: string, to: string) => {
          events.push('rename');
          fs.renameSync(from, to);
        },
        closeSync: (fd: number) => {
          if (dirFds.delete(fd)) events.push('close dir');
          fs.closeSync(fd);
        },
      },
    });
    module.writeFileAtomic(join(dir, 'a'), 'one');
    t.same(events, ['rename', 'fsync dir', 'close dir'], 'after the rename, the directory');
    events.length = 0;
    refuse = true;
    module.writeFileAtomic(join(dir, 'b'), 'two');
    t.same(events, ['rename', 'fsync dir', 'close dir'], 'closed even when fsync refuses');
    t.equal(readFileSync(join(dir, 'b'), 'utf8'), 'two', 'and the file is written');
  },
);

t.test('removeStaleTemps removes what a killed writer of that file left, and nothing else', async (t) => {
  const dir = scratch(t);
  const target = join(dir, 'config.json');
  const names: string[] = [];
  const module = await t.mockImport<AtomicWrite>('../../src/fs/atomic-write.js', {
    'node:fs': {
      ...fs,
      writeSync: (...args: unknown[]) => {
        names.push(...readdirSync(dir));
        return (fs.writeSync as (...a: unknown[]) => number)(...args);
      },
    },
  });
  module.writeFileAtomic(target, 'x');
  t.equal(names.length, 1, 'one temporary file while the bytes go in');
  const temp = names[0]!;
  t.match(temp, /^\.config\.json\.[0-9a-f]+\.tmp$/, 'hidden, named after the file');
  // What the writer would have left, had it been killed there; and neighbours that are not its.
  const keep = ['config.json', 'other.tmp', '.config.json.abc', '.other.json.abc.tmp', 'x.config.json.a.tmp'];
  for (const name of [temp, '.config.json.0123.tmp', ...keep.slice(1)]) writeFileSync(join(dir, name), 'left');
  fs.mkdirSync(join(dir, '.config.json.dir.tmp'));
  t.equal(module.removeStaleTemps(target), 2, 'the two temporary files of config.json');
  t.same(
    readdirSync(dir).sort(),
    [...keep, '.config.json.dir.tmp'].sort(),
    'the rest untouched; a directory is not removed',
  );
  t.equal(module.removeStaleTemps(target), 0, 'nothing left to remove');
});

t.test('readSmallFile: the bytes of a regular file, up to and including max', async (t) => {
  const { readSmallFile } = await import('../../src/fs/atomic-write.js');
  const dir = scratch(t);
  const file = join(dir, 'blob');
  const bytes = Buffer.from([0, 1, 0xff, 0x80, 10, 13, 65]);
  writeFileSync(file, bytes);
  t.same(readSmallFile(file, 7), bytes, 'exactly max bytes');
  writeFileSync(file, '');
  t.same(readSmallFile(file, 0), Buffer.alloc(0), 'empty');
});

t.test('readSmallFile refuses a file larger than max without reading it (EFBIG), and closes it', async (t) => {
  const opened: number[] = [];
  const closed: number[] = [];
  let reads = 0;
  const module = await t.mockImport<AtomicWrite>('../../src/fs/atomic-write.js', {
    'node:fs': {
      ...fs,
      openSync: (...args: unknown[]) => {
        const fd = (fs.openSync as (...a: unknown[]) => number)(...args);
        opened.push(fd);
        return fd;
      },
      closeSync: (fd: number) => {
        closed.push(fd);
        fs.closeSync(fd);
      },
      readSync: (...args: unknown[]) => {
        reads++;
        return (fs.readSync as (...a: unknown[]) => number)(...args);
      },
    },
  });
  const dir = scratch(t);
  const file = join(dir, 'big');
  writeFileSync(file, 'x'.repeat(65));
  t.throws(() => module.readSmallFile(file, 64), {
    code: 'EFBIG',
    size: 65,
    message: `${file} is 65 bytes, more than 64`,
  });
  t.equal(reads, 0, 'not read');
  t.same(closed, opened, 'the descriptor is closed');
  t.equal(module.readSmallFile(file, 65).length, 65, 'one byte more allowed is enough');
  t.same(closed, opened, 'closed after a read too');
});

t.test('readSmallFile goes on after a short read, and returns what there was when the file shrinks', async (t) => {
  let mode: 'short' | 'shrunk' = 'short';
  const module = await t.mockImport<AtomicWrite>('../../src/fs/atomic-write.js', {
    'node:fs': {
      ...fs,
      readSync: (fd: number, buffer: Buffer, offset: number, length: number, position: number) => {
        // 'short': 3 bytes a call; 'shrunk': the file ends after 5 bytes though fstat said more.
        if (mode === 'shrunk' && position >= 5) return 0;
        return fs.readSync(fd, buffer, offset, Math.min(length, mode === 'short' ? 3 : 5), position);
      },
    },
  });
  const dir = scratch(t);
  const file = join(dir, 'blob');
  writeFileSync(file, 'abcdefghij');
  t.equal(module.readSmallFile(file, 100).toString(), 'abcdefghij', 'all of it, three bytes at a time');
  mode = 'shrunk';
  t.equal(module.readSmallFile(file, 100).toString(), 'abcde', 'the five bytes there were, no zeros after them');
});

t.test('readSmallFile does not follow a symlink swapped in for the file', async (t) => {
  const { readSmallFile } = await import('../../src/fs/atomic-write.js');
  const dir = scratch(t);
  writeFileSync(join(dir, 'victim'), 'the victim');
  symlinkSync(join(dir, 'victim'), join(dir, 'blob'));
  t.throws(() => readSmallFile(join(dir, 'blob'), 100), { code: 'ELOOP' });
  t.throws(() => readSmallFile(join(dir, 'absent'), 100), { code: 'ENOENT' });
});

t.test('readSmallFile refuses a FIFO or a directory at once (EFTYPE), without waiting for a writer', async (t) => {
  const { readSmallFile } = await import('../../src/fs/atomic-write.js');
  const dir = scratch(t);
  const fifo = join(dir, 'blob');
  execFileSync('mkfifo', [fifo]);
  // Without O_NONBLOCK the open would block until a writer comes: this test would never end.
  t.throws(() => readSmallFile(fifo, 100), { code: 'EFTYPE', message: `${fifo} is not a regular file` });
  t.throws(() => readSmallFile(dir, 100), { code: 'EFTYPE', message: `${dir} is not a regular file` });
});

t.test('unlinkIfExists: true when it removed the file, false when there was none, other errors thrown', async (t) => {
  const { unlinkIfExists } = await import('../../src/fs/atomic-write.js');
  const dir = scratch(t);
  const file = join(dir, 'blob');
  writeFileSync(join(dir, 'victim'), 'the victim');
  symlinkSync(join(dir, 'victim'), file);
  t.equal(unlinkIfExists(file), true, 'removed');
  t.same(readdirSync(dir), ['victim'], 'the link, not what it pointed at');
  t.equal(unlinkIfExists(file), false, 'already absent');
  fs.mkdirSync(file);
  t.throws(() => unlinkIfExists(file), { code: 'EISDIR' }, 'a directory in its place is an error');
  t.ok(statSync(file).isDirectory(), 'and is left');
});
