import fc from 'fast-check';
import t from 'tap';
import { Refusal } from '../../socket-guard/policy/refusal.js';
import { parseStrictJson, stringifyJson } from '../../socket-guard/policy/strict-json.js';
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
