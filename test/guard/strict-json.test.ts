// The guard's strict JSON reader: it reads what JSON.parse reads, the same way,
// and refuses with a specific rule and message whatever the daemon could read
// differently (repeated keys, odd whitespace, deep nesting, bad escapes).
import fc from 'fast-check';
import t from 'tap';
import { Refusal } from '../../socket-guard/policy/refusal.js';
import { type Json, parseStrictJson, stringifyJson } from '../../socket-guard/policy/strict-json.js';
import { runs } from '../support/runs.js';

t.test('reads what JSON.parse reads, the same way (objects as Maps)', async (t) => {
  fc.assert(
    fc.property(fc.json({ depthSize: 'small' }), (text) => {
      const ours = stringifyJson(parseStrictJson(text));
      return ours === JSON.stringify(JSON.parse(text));
    }),
    { numRuns: runs(500) },
  );
  t.pass('500 random JSON documents read alike');
});

t.test('refuses what the daemon and JSON.parse might read differently', async (t) => {
  const cases: Array<[string, string]> = [
    ['{"a":1,"a":2}', 'json-duplicate-key'],
    ['{"Privileged":false,"\\u0050rivileged":true}', 'json-duplicate-key'],
    ['{"a":1,}', 'json-syntax'],
    ["{'a':1}", 'json-syntax'],
    ['{"a":1} {"b":2}', 'json-syntax'],
    ['{"a":"\u0001"}', 'json-syntax'],
    ['{"a":01}', 'json-syntax'],
    ['{"a":NaN}', 'json-syntax'],
    ['[1,2', 'json-syntax'],
    ['', 'json-syntax'],
    ['['.repeat(40) + ']'.repeat(40), 'json-depth'],
  ];
  for (const [text, rule] of cases) {
    try {
      parseStrictJson(text);
      t.fail(`accepted ${JSON.stringify(text).slice(0, 40)}`);
    } catch (error) {
      t.ok(error instanceof Refusal, 'a refusal');
      t.equal((error as Refusal).rule, rule, `${JSON.stringify(text).slice(0, 40)} -> ${rule}`);
    }
  }
});

t.test('keys are decoded: an escaped key is seen as what it spells', async (t) => {
  const tree = parseStrictJson('{"\\u0050rivileged":true,"__proto__":{"x":1}}') as Map<string, unknown>;
  t.equal(tree.get('Privileged'), true);
  t.ok(tree.get('__proto__') instanceof Map, '__proto__ is an ordinary key');
});

/** What the reader made of `text`: the tree as plain JSON values, or the refusal's rule and message. Any other error is thrown. */
function read(text: string): { tree: unknown } | { rule: string; message: string } {
  try {
    return { tree: plain(parseStrictJson(text)) };
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    return { rule: error.rule, message: error.message };
  }
}
const plain = (value: Json): unknown =>
  value instanceof Map
    ? Object.fromEntries([...value].map(([k, v]) => [k, plain(v)]))
    : Array.isArray(value)
      ? value.map(plain)
      : value;
/** A body as a test name: JSON, with everything outside printable ASCII escaped (U+2028 would end a TAP line). */
const named = (text: string) =>
  JSON.stringify(text).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const syntax = (why: string, offset: number) => ({
  rule: 'json-syntax',
  message: `the request body is not strict JSON (${why} at offset ${offset})`,
});

t.test('a refusal names its rule and says where the body went wrong, at the offending character', async (t) => {
  const cases: Array<[string, ReturnType<typeof syntax>]> = [
    ['{"a" 1}', syntax("expected ':'", 5)],
    ['{"a"}', syntax("expected ':'", 4)],
    ['{"a":1 "b":2}', syntax("expected ',' or '}'", 7)],
    ['{"a":1]', syntax("expected ',' or '}'", 6)],
    ['{"a":1', syntax("expected ',' or '}'", 6)],
    ['[1 2]', syntax("expected ',' or ']'", 3)],
    ['[1}', syntax("expected ',' or ']'", 2)],
    ['[1,', syntax('unexpected character', 3)],
    ['{1:2}', syntax('expected a key', 1)],
    ["{'a':1}", syntax('expected a key', 1)],
    ['{"a":1,}', syntax('expected a key', 7)],
    ['{"a":1, }', syntax('expected a key', 8)],
    ['[1,]', syntax('unexpected character', 3)],
    // A \u escape takes exactly four hex digits; JSON.parse must never be the one to refuse.
    ['"\\u12"', syntax('bad string', 0)],
    ['"\\u12G4"', syntax('bad string', 0)],
    ['["\\x41"]', syntax('bad string', 1)],
    ['"abc', syntax('bad string', 0)],
    ['{"a":"b\u0001"}', syntax('bad string', 5)],
    ['{"a\nb":1}', syntax('bad string', 1)],
    ['-', syntax('bad number', 0)],
    ['[-x]', syntax('bad number', 1)],
    ['--1', syntax('bad number', 0)],
    ['+1', syntax('unexpected character', 0)],
    ['.5', syntax('unexpected character', 0)],
    ['[1,/]', syntax('unexpected character', 3)],
    ['NaN', syntax('unexpected character', 0)],
    ['Infinity', syntax('unexpected character', 0)],
    ['tru', syntax('unexpected character', 0)],
    ['True', syntax('unexpected character', 0)],
    ['', syntax('unexpected character', 0)],
    ['   ', syntax('unexpected character', 3)],
    ['01', syntax('trailing characters', 1)],
    ['{"a":01}', syntax("expected ',' or '}'", 6)],
    ['1.', syntax('trailing characters', 1)],
    ['1e', syntax('trailing characters', 1)],
    ['1e+', syntax('trailing characters', 1)],
    ['0x10', syntax('trailing characters', 1)],
    ['{} {}', syntax('trailing characters', 3)],
    ['nullx', syntax('trailing characters', 4)],
    // JSON has four whitespace characters; JavaScript's trim and \s know many more.
    ['\f1', syntax('unexpected character', 0)],
    ['\v1', syntax('unexpected character', 0)],
    ['\u00a01', syntax('unexpected character', 0)],
    ['\ufeff{}', syntax('unexpected character', 0)],
    ['\u20281', syntax('unexpected character', 0)],
    ['1\u00a0', syntax('trailing characters', 1)],
    ['[1,\f2]', syntax('unexpected character', 3)],
  ];
  for (const [text, expected] of cases) t.same(read(text), expected, named(text));
});

t.test(
  'what it accepts is exactly what JSON.parse reads: numbers, escapes, whitespace between every token',
  async (t) => {
    const texts = [
      '0',
      '-0.5',
      '10',
      '1e5',
      '1E+5',
      '-2.5e-3',
      '1.25E2',
      '12345678901234567890',
      'true',
      'false',
      'null',
      '"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u00E9\\uD83D\\uDE00 ſ\u212a"',
      ' \t\n\r{ \t\n\r"a" \t\n\r: \t\n\r[ \t\n\r1 \t\n\r, \t\n\r-2.5e+3 \t\n\r, \t\n\r"x" \t\n\r] \t\n\r, "b" : { } , "c" : [ ] , "d":{"e" : null} \t\n\r} \t\n\r',
      '[ ]',
      '{ }',
      '[[],{},[{}]]',
    ];
    for (const text of texts) t.same(read(text), { tree: JSON.parse(text) }, named(text));
    t.ok(Object.is(parseStrictJson('-0'), -0), '-0 stays -0');
    fc.assert(
      fc.property(fc.json({ depthSize: 'small' }), (text) => {
        // JSON.stringify with a whitespace indent puts all four whitespace characters around every token.
        const spaced = JSON.stringify(JSON.parse(text), null, ' \t\r\n');
        return stringifyJson(parseStrictJson(spaced)) === JSON.stringify(JSON.parse(text));
      }),
      { numRuns: runs(200) },
    );
  },
);

t.test('nesting: a value inside 32 objects or lists is read, one inside 33 is refused', async (t) => {
  const deep = { rule: 'json-depth', message: 'the request body nests deeper than 32' };
  const lists = (n: number, inner: string) => `${'['.repeat(n)}${inner}${']'.repeat(n)}`;
  const objects = (n: number, inner: string) => `${'{"a":'.repeat(n)}${inner}${'}'.repeat(n)}`;
  t.same(read(lists(32, '1')), { tree: JSON.parse(lists(32, '1')) });
  t.same(read(lists(33, '1')), deep);
  t.same(read(lists(33, '')), { tree: JSON.parse(lists(33, '')) }, 'the 33rd list is empty: nothing inside it');
  t.same(read(lists(34, '')), deep);
  t.same(read(objects(32, '1')), { tree: JSON.parse(objects(32, '1')) });
  t.same(read(objects(33, '1')), deep);
  t.same(read(objects(33, '{}')), deep);
  t.same(read(objects(16, lists(16, '"x"'))), { tree: JSON.parse(objects(16, lists(16, '"x"'))) });
  t.same(read(objects(16, lists(17, '"x"'))), deep);
  t.same(read(lists(1000, '')), deep, 'refused before the parser recurses a thousand times');
});

t.test('a repeated key is refused, named by at most its first 40 characters', async (t) => {
  const repeated = (key: string) => ({
    rule: 'json-duplicate-key',
    message: `the request body repeats the key '${key}'`,
  });
  t.same(read('{"a":1,"a":2}'), repeated('a'));
  t.same(read('{"x":{"b":1, "c":2, "b":3}}'), repeated('b'), 'in a nested object too');
  t.same(read('{"Privileged":false,"\\u0050rivileged":true}'), repeated('Privileged'), 'escapes are decoded first');
  const long = `${'K'.repeat(40)}${'x'.repeat(60)}`;
  t.same(read(`{"${long}":1,"${long}":2}`), repeated('K'.repeat(40)), 'a 100-character key: its first 40 only');
  t.same(
    read('{"a":1,"A":2}'),
    { tree: { a: 1, A: 2 } },
    "keys differing in case are two keys here (field folding is the policy's)",
  );
});

t.test('a refusal is an Error named Refusal, so a log shows which kind of error it was', async (t) => {
  const error = t.throws(() => parseStrictJson('[')) as Error;
  t.equal(error.name, 'Refusal');
  t.equal(String(error), 'Refusal: the request body is not strict JSON (unexpected character at offset 1)');
});
