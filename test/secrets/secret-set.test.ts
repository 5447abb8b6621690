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

t.test('find names the secret found first in the text, whichever was listed first', async (t) => {
  const set = new SecretSet([
    { label: 'listed first', value: 'first-secret-aaaa' },
    { label: 'listed second', value: 'second-secret-bbbb' },
  ]);
  t.same(set.find('x first-secret-aaaa then second-secret-bbbb'), { label: 'listed first', encoding: 'raw' });
  t.same(set.find('x second-secret-bbbb then first-secret-aaaa'), { label: 'listed second', encoding: 'raw' });
  const nested = new SecretSet([
    { label: 'short one', value: 'abcdefghij' },
    { label: 'long one', value: 'abcdefghij-and-more' },
  ]);
  t.same(
    nested.find('x abcdefghij-and-more'),
    { label: 'short one', encoding: 'raw' },
    'at one place: the one listed first',
  );
});

t.test('a secret listed twice under one label is one hit; under two labels, two', async (t) => {
  const set = new SecretSet([
    { label: 'a', value: 'repeated-secret-1' },
    { label: 'a', value: 'repeated-secret-1' },
    { label: 'a', value: 'another-secret-2' },
  ]);
  t.same(set.findAll('repeated-secret-1 and another-secret-2'), [{ label: 'a', encoding: 'raw' }]);
  t.same(set.find('x repeated-secret-1'), { label: 'a', encoding: 'raw' });
});

t.test('with() keeps the short secrets of the set it extends', async (t) => {
  const extended = new SecretSet([{ label: '$.pin', value: '4711' }]).with([{ label: '$.code', value: '0000' }]);
  t.same(
    extended.short.map((s) => s.label),
    ['$.pin', '$.code'],
  );
});

t.test('a long text (past the direct scan) gives the same hits as a short one', async (t) => {
  const set = new SecretSet([
    { label: 'the service-account token', value: token },
    { label: '$.bots.admin.token', value: 'xoxb-1234567890-abcdefghij' },
  ]);
  // More needle-bytes of work than 1 MiB: the compiled matcher answers, not Buffer#indexOf.
  const filler = 'an ordinary log line without anything secret in it\n'.repeat(6000);
  t.ok(set.needles.length * filler.length > 1 << 20, `long enough: ${set.needles.length} needles`);
  const text = `${filler}auth=${encodeURIComponent('xoxb-1234567890-abcdefghij')} ${filler}${Buffer.from(`z${token}`).toString('base64')} xoxb-1234567890-abcdefghij`;
  t.same(set.find(text), { label: '$.bots.admin.token', encoding: 'raw' }, 'the first in the text');
  t.same(set.find(Buffer.from(text)), { label: '$.bots.admin.token', encoding: 'raw' }, 'bytes as text');
  t.same(
    set.findAll(text).sort((x, y) => x.label.localeCompare(y.label)),
    [
      { label: '$.bots.admin.token', encoding: 'raw' },
      { label: 'the service-account token', encoding: 'base64' },
    ],
    'each hit once',
  );
  t.equal(set.find(filler + filler), undefined);
  t.same(set.findAll(filler + filler), []);
});

t.test('a Uint8Array that is a view into a larger buffer is searched within its bounds only', async (t) => {
  const set = new SecretSet([{ label: 'k', value: 'view-bound-secret' }]);
  const whole = Buffer.from('view-bound-secret | clean text here | view-bound-secret');
  const middle = new Uint8Array(whole.buffer, whole.byteOffset + 17, 20);
  t.equal(set.find(middle), undefined, 'not what lies outside the view');
  t.same(set.find(new Uint8Array(whole.buffer, whole.byteOffset, 17)), { label: 'k', encoding: 'raw' });
});
