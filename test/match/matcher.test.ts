import fc from 'fast-check';
import t from 'tap';
import { compile } from '../../src/match/compiled.js';
import { Matcher } from '../../src/match/matcher.js';
import { PrefixIndex } from '../../src/match/prefix-index.js';
import { runs } from '../support/runs.js';

/** Every [needle, start] by brute force, in order of start then needle. */
function naiveMatches(needles: Uint8Array[], data: Uint8Array): [number, number][] {
  const out: [number, number][] = [];
  for (let start = 0; start < data.length; start++) {
    needles.forEach((needle, id) => {
      if (Buffer.from(data.subarray(start, start + needle.length)).equals(needle)) out.push([id, start]);
    });
  }
  return out;
}

function naiveHeld(needles: Uint8Array[], data: Uint8Array): number {
  for (let q = 0; q < data.length; q++) {
    const tail = Buffer.from(data.subarray(q));
    if (needles.some((n) => n.length > tail.length && tail.equals(n.subarray(0, tail.length)))) return q;
  }
  return data.length;
}

// A three-letter alphabet makes overlaps, repeats and near misses common.
const small = fc.uint8Array({ min: 97, max: 99, minLength: 3, maxLength: 12 });
const needleLists = fc.uniqueArray(small, {
  minLength: 1,
  maxLength: 6,
  selector: (n) => Buffer.from(n).toString('latin1'),
});
const haystacks = fc.uint8Array({ min: 97, max: 100, maxLength: 300 });

t.test('finds exactly the occurrences brute force finds, overlapping ones included', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(needleLists, haystacks, (needles, data) => {
        const found: [number, number][] = [];
        new Matcher(needles).scan(data, 0, data.length, (id, start, end) => {
          if (end !== start + needles[id]!.length) throw new Error('wrong end');
          found.push([id, start]);
        });
        const expected = naiveMatches(needles, data);
        const sort = (xs: [number, number][]) => [...xs].sort((a, b) => a[1] - b[1] || a[0] - b[0]);
        return (
          JSON.stringify(sort(found)) === JSON.stringify(expected) &&
          found.every((m, i) => i === 0 || found[i - 1]![1] <= m[1])
        );
      }),
      { numRuns: runs(500) },
    ),
  );
});

// Long needles of any bytes (windows past the 200-byte cap), embedded whole and cut short.
const longNeedles = fc.array(fc.uint8Array({ minLength: 3, maxLength: 400 }), { minLength: 1, maxLength: 5 });
const built = longNeedles.chain((needles) =>
  fc.tuple(
    fc.constant(needles),
    fc.array(
      fc.oneof(
        fc.uint8Array({ maxLength: 50 }),
        fc.nat(needles.length - 1).map((i) => needles[i]!),
        fc.tuple(fc.nat(needles.length - 1), fc.nat(400)).map(([i, n]) => needles[i]!.subarray(0, n)),
      ),
      { maxLength: 12 },
    ),
  ),
);

t.test('finds long needles of arbitrary bytes as brute force does', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(built, ([needles, parts]) => {
        const data = Buffer.concat(parts);
        const found: [number, number][] = [];
        new Matcher(needles).scan(data, 0, data.length, (id, start) => void found.push([id, start]));
        const key = (xs: [number, number][]) => JSON.stringify([...xs].sort((a, b) => a[1] - b[1] || a[0] - b[0]));
        return key(found) === key(naiveMatches(needles, data));
      }),
      { numRuns: runs(300) },
    ),
  );
});

t.test('reports only starts in [from, to), and stops when the sink says so', async (t) => {
  const matcher = new Matcher([Buffer.from('abcabc'), Buffer.from('cab')]);
  const data = Buffer.from('abcabcabcabc');
  const starts: number[] = [];
  matcher.scan(data, 2, 6, (_id, start) => void starts.push(start));
  t.same(starts, [2, 3, 5]);
  let calls = 0;
  matcher.scan(data, 0, data.length, () => ++calls === 2);
  t.equal(calls, 2);
});

t.test('needles shorter than three bytes are refused; no needles find nothing', async (t) => {
  t.throws(() => new Matcher([Buffer.from('abc'), Buffer.from('ab')]), {
    name: 'RangeError',
    message: 'needles must be at least 3 bytes long',
  });
  let called = false;
  new Matcher([]).scan(Buffer.from('anything'), 0, 8, () => void (called = true));
  t.notOk(called);
});

t.test('the held-back tail is the longest suffix that is a proper prefix of a needle', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(
        needleLists,
        haystacks,
        (needles, data) => new PrefixIndex(needles).heldStart(data) === naiveHeld(needles, data),
      ),
      { numRuns: runs(1000) },
    ),
  );
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(built, ([needles, parts]) => {
        const data = Buffer.concat(parts);
        return new PrefixIndex(needles).heldStart(data) === naiveHeld(needles, data);
      }),
      { numRuns: runs(300) },
    ),
  );
});

t.test('a complete needle at the end is not held back; a newline is never held', async (t) => {
  const index = new PrefixIndex([Buffer.from('secret-value'), Buffer.from('sec')]);
  t.equal(index.heldStart(Buffer.from('log secret-value')), 16);
  t.equal(index.heldStart(Buffer.from('log secret-va')), 4);
  t.equal(index.heldStart(Buffer.from('log s')), 4);
  t.equal(index.heldStart(Buffer.from('log se\n')), 7);
});

/** `data` behind a proxy that records each index read (the matcher's cost, and where it looks). */
function watchedReads(data: Uint8Array): { view: Uint8Array; reads: number[] } {
  const reads: number[] = [];
  const view = new Proxy(data, {
    get(target, key) {
      if (typeof key === 'string' && /^-?\d+$/.test(key)) reads.push(Number(key));
      return target[key as keyof Uint8Array];
    },
  });
  return { view, reads };
}

t.test('on text without a secret the window jumps by m - 2 bytes: most bytes are never read', async (t) => {
  const needle = Buffer.from('correct-horse-battery-staple-0123456789');
  const m = needle.length;
  const data = Buffer.alloc(100_000, 'x');
  const { view, reads } = watchedReads(data);
  let found = 0;
  new Matcher([needle]).scan(view, 0, data.length, () => void found++);
  t.equal(found, 0);
  // 3 bytes read per window; the first window ends at m - 1, each next one m - 3 + 1 bytes further.
  t.equal(reads.length, 3 * Math.ceil((data.length - (m - 1)) / (m - 2)), 'three bytes per jump of m - 2');
  const none = watchedReads(data);
  new Matcher([]).scan(none.view, 0, data.length, () => void found++);
  t.same(none.reads, [], 'no needles: nothing read');
});

t.test('the scan never reads outside the data, even where a longer needle would run past its end', async (t) => {
  const needles = [Buffer.from('abcdefgh'), Buffer.from('abcdefgh-and-more')];
  const data = Buffer.from('xx abcdefgh yy abcdefgh-and-mo');
  const { view, reads } = watchedReads(data);
  const starts: number[] = [];
  new Matcher(needles).scan(view, 0, data.length, (id, start) => void starts.push(id, start));
  t.same(starts, [0, 3, 0, 15]);
  t.ok(
    reads.every((i) => i >= 0 && i < data.length),
    'every index read is inside the data',
  );
});

t.test('heldStart reads only the last maxLength - 1 bytes, and nothing outside the data', async (t) => {
  const index = new PrefixIndex([Buffer.from('secret-value'), Buffer.from('another-secret-value')]);
  for (const text of ['a long line of log text that ends in anoth', 'a long line of log text, no secret\n', 'an']) {
    const data = Buffer.from(text);
    const { view, reads } = watchedReads(data);
    index.heldStart(view);
    t.ok(
      reads.every((i) => i >= Math.max(0, data.length - 19) && i < data.length),
      `${JSON.stringify(text)}: only its last 19 bytes`,
    );
  }
});

t.test('held back: one or two bytes that start a needle, and not a lone byte that does not', async (t) => {
  const index = new PrefixIndex([Buffer.from('\0a-secret-value'), Buffer.from('xy-secret-value')]);
  t.equal(index.heldStart(Buffer.from('a')), 1, 'a lone byte that is the second of a needle');
  t.equal(index.heldStart(Buffer.from('\0')), 0);
  t.equal(index.heldStart(Buffer.from('xy')), 0, 'two bytes, the start of a needle');
  t.equal(index.heldStart(Buffer.from('ay')), 2);
  t.equal(index.heldStart(Buffer.from('log xy')), 4);
  t.equal(index.heldStart(Buffer.from('log x')), 4);
  t.equal(index.heldStart(Buffer.alloc(0)), 0);
});

t.test('compile builds the tables once per needle list', async (t) => {
  const needles = [Buffer.from('secret-value')];
  const compiled = compile(needles);
  t.equal(compile(needles), compiled, 'the same list: the same compiled form');
  t.equal(compiled.matcher, compiled.matcher, 'the matcher built once');
  t.equal(compiled.prefixes, compiled.prefixes, 'the index built once');
  t.not(compile([...needles]), compiled, 'another list: its own');
});
