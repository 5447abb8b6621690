// Field folding (socket-guard/policy/fields.ts), in-process: a hostile
// client's object is rebuilt under Docker's canonical field names the way Go's
// encoding/json matches keys (ASCII case, the long s U+017F as s, the Kelvin
// sign U+212A as k, nothing else), and refused with its rule and exact message
// when it names an unknown or forbidden field, or one field twice in
// different case, or is not an object at all.
import t from 'tap';
import { canonicalObject, type FieldCheck, goFold } from '../../socket-guard/policy/fields.js';
import { Refusal } from '../../socket-guard/policy/refusal.js';
import { parseStrictJson } from '../../socket-guard/policy/strict-json.js';

/** A check that takes only strings, and says where when it refuses one. */
const text: FieldCheck = (value, where) => {
  if (typeof value !== 'string') throw new Refusal('field-type', `${where} must be a string`);
  return value;
};
/** A check that forwards something other than what it was given, to show that its result is what is kept. */
const listed: FieldCheck = (value) => [value];
const FIELDS = { Binds: listed, KernelMemory: listed, Privileged: text, Image: text };
const FORBIDDEN = { CapAdd: 'capabilities', Devices: 'devices' };

/** The rebuilt object as plain entries in order, or the refusal's rule and message. */
function rebuild(body: string, forbidden: Record<string, string> = FORBIDDEN): unknown {
  try {
    return [...canonicalObject(parseStrictJson(body), FIELDS, forbidden, 'HostConfig')];
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    return { rule: error.rule, message: error.message };
  }
}

t.test("Go's fold: ASCII letters in either case, ſ as s, the Kelvin sign as k; nothing else changes", async (t) => {
  t.equal(goFold('PRIVILEGED'), 'privileged');
  t.equal(goFold('pRiViLeGeD'), 'privileged');
  t.equal(goFold('Bind\u017f'), 'binds', 'U+017F, the long s');
  t.equal(goFold('\u212aernelMemory'), 'kernelmemory', 'U+212A, the Kelvin sign');
  t.equal(goFold('\u017f\u017f\u212a\u212a'), 'sskk', 'every one, not only the first');
  // What JavaScript's toLowerCase would change but Go does not match: fullwidth letters, accented capitals.
  t.equal(goFold('\uff30rivileged'), '\uff30rivileged', 'a fullwidth P stays');
  t.equal(goFold('\u00c9A_1-z'), '\u00c9a_1-z', 'É stays; digits, dashes and underscores stay');
});

t.test('keys in any case reach the field, rebuilt under its canonical name, in the order given', async (t) => {
  t.same(rebuild('{"privileged":"no","BIND\u017f":"/a","\\u212aERNELmemory":1,"iMAGE":"x"}'), [
    ['Privileged', 'no'],
    ['Binds', ['/a']],
    ['KernelMemory', [1]],
    ['Image', 'x'],
  ]);
  t.same(rebuild('{}'), [], 'an empty object');
  t.same(rebuild('{"Image":"x"}', {}), [['Image', 'x']], 'no forbidden fields');
});

t.test("a field's check sees the canonical path, and its refusal is the answer", async (t) => {
  t.same(rebuild('{"PRIVILEGED":true}'), { rule: 'field-type', message: 'HostConfig.Privileged must be a string' });
});

t.test('a key that folds to no field is refused, named by at most its first 40 characters', async (t) => {
  const unknown = (key: string) => ({
    rule: 'unknown-field',
    message: `HostConfig has a field the policy does not know: '${key}'`,
  });
  t.same(rebuild('{"Image":"x","Mounts":[]}'), unknown('Mounts'));
  t.same(rebuild('{"\uff30rivileged":"no"}'), unknown('\uff30rivileged'), 'a fullwidth P is not a P');
  t.same(rebuild('{"Privileged ":"no"}'), unknown('Privileged '), 'a trailing space is another key');
  t.same(rebuild('{"__proto__":"x"}'), unknown('__proto__'));
  t.same(rebuild('{"constructor":"x"}'), unknown('constructor'));
  const long = `${'A'.repeat(40)}${'B'.repeat(60)}`;
  t.same(rebuild(`{"${long}":1}`), unknown('A'.repeat(40)), 'a 100-character key: its first 40 only');
});

t.test('a forbidden field is refused under its own rule, in any case, before anything else is looked at', async (t) => {
  t.same(rebuild('{"CapAdd":["ALL"]}'), { rule: 'capabilities', message: 'HostConfig.CapAdd is not allowed' });
  t.same(rebuild('{"Image":"x","cAPaDD":[]}'), { rule: 'capabilities', message: 'HostConfig.CapAdd is not allowed' });
  t.same(rebuild('{"DEVICES":[]}'), { rule: 'devices', message: 'HostConfig.Devices is not allowed' });
  t.same(
    rebuild('{"Privileged":"no","CapAdd":[]}', { Privileged: 'privileged' }),
    { rule: 'privileged', message: 'HostConfig.Privileged is not allowed' },
    'forbidden wins over a field of the same name',
  );
});

t.test(
  'one field under two spellings is refused: Go would keep the last, the policy would have checked one',
  async (t) => {
    const twice = (name: string) => ({
      rule: 'json-duplicate-key',
      message: `HostConfig.${name} is given twice (keys differing only in case)`,
    });
    t.same(rebuild('{"Image":"x","image":"y"}'), twice('Image'));
    t.same(rebuild('{"Binds":[],"Bind\u017f":["/:/host"]}'), twice('Binds'));
    t.same(rebuild('{"KernelMemory":0,"\u212aernelMemory":1}'), twice('KernelMemory'));
  },
);

t.test('anything but an object is refused', async (t) => {
  for (const body of ['[]', '[{"Image":"x"}]', '"Image"', 'null', 'true', '0']) {
    t.same(rebuild(body), { rule: 'body-shape', message: 'HostConfig must be a JSON object' }, body);
  }
});
