import t from 'tap';
import { SecretSet } from '../../src/secrets/secret-set.js';
import { cores } from '../support/encodings.js';

// Built at test time: no token-shaped literal outside test/fixtures.
const token = `ops_${Buffer.from(JSON.stringify({ signInAddress: 'my.1password.com' })).toString('base64url')}`;

t.test('secrets shorter than 8 code points go to short, by label, and are not matched', async (t) => {
  const set = new SecretSet([
    { label: 'the service-account token', value: token },
    { label: '$.db.password', value: 'hunter2' },
    { label: '$.empty', value: '' },
    { label: '$.seven-accented', value: 'éééé秘密秘' },
  ]);
  t.same(
    set.short.map((s) => s.label),
    ['$.db.password', '$.empty', '$.seven-accented'],
  );
  t.equal(set.find('user hunter2 logged in'), undefined);
  t.same(
    set.needles.map(String),
    new SecretSet([{ label: 'the service-account token', value: token }]).needles.map(String),
    'the short ones add no needle: only the token is turned into needles',
  );
});

t.test('needles are the UTF-8 bytes of every variant, each once across secrets', async (t) => {
  const set = new SecretSet([
    { label: 'a', value: 'pässwort-123' },
    { label: 'b', value: 'pässwort-123' },
  ]);
  // The expected forms by Node's own encoders (test/support/encodings.ts), not by the module's variants.
  const expected = [...new Set(cores('pässwort-123').map((core) => core.text))].sort();
  t.same(set.needles.map((needle) => needle.toString('utf8')).sort(), expected, 'each form once, and only those');
  for (const core of cores('pässwort-123')) t.ok(set.find(`x ${core.text} y`), `found as ${core.how}`);
  t.same(set.findAll('x pässwort-123 y'), [
    { label: 'a', encoding: 'raw' },
    { label: 'b', encoding: 'raw' },
  ]);
});

t.test('find names the first secret in the text and its encoding, never its value', async (t) => {
  const set = new SecretSet([
    { label: 'the service-account token', value: token },
    { label: '$.bots.admin.token', value: 'xoxb-1234567890-abcdefghij' },
  ]);
  const text = `auth=${encodeURIComponent('xoxb-1234567890-abcdefghij')} then ${Buffer.from('z' + token).toString('base64')}`;
  const hit = set.find(text);
  t.same(hit, { label: '$.bots.admin.token', encoding: 'raw' }, 'the URL form of this key is its raw form');
  t.notMatch(JSON.stringify(hit), /xoxb|ops_/);
  t.same(set.find(Buffer.from(text)), hit, 'bytes work as text does');
  t.same(
    set.findAll(text).sort((x, y) => x.label.localeCompare(y.label)),
    [
      { label: '$.bots.admin.token', encoding: 'raw' },
      { label: 'the service-account token', encoding: 'base64' },
    ],
  );
  t.equal(set.find('nothing to see'), undefined);
  t.same(set.findAll(''), []);
});

t.test('an empty set finds nothing and has no needles', async (t) => {
  const set = new SecretSet([]);
  t.same(set.needles, []);
  t.equal(set.find('anything at all'), undefined);
});

t.test('with() adds secrets to a set: same needles and hits as building it at once', async (t) => {
  const first = { label: 'the service-account token', value: token };
  const more = [
    { label: '$.github.token', value: 'gh-0123456789abcdef' },
    { label: '$.pin', value: '4711' },
  ];
  const extended = new SecretSet([first]).with(more);
  const whole = new SecretSet([first, ...more]);
  t.same(extended.needles.map(String), whole.needles.map(String));
  t.same(
    extended.short.map((s) => s.label),
    ['$.pin'],
  );
  t.same(extended.find('x gh-0123456789abcdef y'), { label: '$.github.token', encoding: 'raw' });
  t.same(extended.find(`x ${token}`), { label: 'the service-account token', encoding: 'raw' });
});
