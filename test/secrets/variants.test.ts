import fc from 'fast-check';
import t from 'tap';
import { base64Aligned, MIN_MASK_LENGTH, percentEncode, secretVariants } from '../../src/secrets/variants.js';
import { cores } from '../support/encodings.js';
import { runs } from '../support/runs.js';

const texts = (secret: string, encoding: string): string[] =>
  secretVariants(secret)
    .filter((v) => v.encoding === encoding)
    .map((v) => v.text);

t.test('the raw value comes first', async (t) => {
  t.same(secretVariants('correct horse battery')[0], { encoding: 'raw', text: 'correct horse battery' });
});

t.test('each line of a multi-line secret, LF or CRLF, except PEM armor', async (t) => {
  t.same(texts('first-line-secret\r\nsecond-line-secret\nok\n', 'line'), ['first-line-secret', 'second-line-secret']);
  const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';
  t.same(texts(pem, 'line'), ['MIIEvQIBADANBgkqhkiG9w0BAQEFAASC']);
  t.same(texts('one-line-secret', 'line'), [], 'a one-line secret has no separate line variant');
  t.same(
    texts('key: -----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY----- and more', 'line'),
    ['key: -----BEGIN PRIVATE KEY-----', '-----END PRIVATE KEY----- and more'],
    'armor with anything before or after it on its line is a line of the secret',
  );
});

t.test('base64 of prefix + secret + suffix contains the variant for each prefix length', async (t) => {
  const secret = 'p4ss/wörd+"quoted"???>>>~~~';
  // A base64url form equal to the base64 one is kept once, tagged base64.
  const all = secretVariants(secret)
    .filter((v) => v.encoding.startsWith('base64'))
    .map((v) => v.text);
  t.ok(texts(secret, 'base64url').length > 0, 'this secret has some base64url forms of its own');
  for (const encoding of ['base64', 'base64url'] as const) {
    const found = new Set<string>();
    for (const prefix of ['', 'a', 'ab', 'abc', 'abcd', 'abcde']) {
      for (const suffix of ['', 'x', 'xy', 'xyz']) {
        const encoded = Buffer.from(prefix + secret + suffix).toString(encoding);
        const hit = all.find((v) => encoded.includes(v));
        t.ok(hit, `${encoding} with a ${prefix.length}-byte prefix and a ${suffix.length}-byte suffix`);
        if (hit) found.add(hit);
      }
    }
    t.equal(found.size, 3, `${encoding}: one variant per alignment`);
  }
});

t.test('base64 variants hold only characters the secret alone determines (property)', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 60 }),
        fc.uint8Array({ maxLength: 5 }),
        fc.uint8Array({ maxLength: 5 }),
        (secret, prefix, suffix) => {
          const lead = prefix.length % 3;
          const variant = base64Aligned(secret, lead, 'base64');
          const encoded = Buffer.concat([prefix, secret, suffix]).toString('base64');
          return encoded.includes(variant) && variant.length >= Math.floor((secret.length * 8) / 6) - 2;
        },
      ),
    ),
  );
});

t.test('URL-encoded as encodeURIComponent and as a form', async (t) => {
  const secret = 'a b/c?d=é&(x)!';
  t.same(texts(secret, 'url'), [encodeURIComponent(secret)]);
  t.same(texts(secret, 'form'), [new URLSearchParams({ v: secret }).toString().slice(2)]);
  t.equal(
    percentEncode(Buffer.from('\ud800abc')),
    '%EF%BF%BDabc',
    'a lone surrogate is encoded as UTF-8 encodes it, not thrown',
  );
});

t.test('JSON-escaped, and ASCII-only \\uXXXX for non-ASCII', async (t) => {
  const secret = 'quote"back\\slash\nnew\tline é 秘 <&>';
  t.same(texts(secret, 'json'), [JSON.stringify(secret).slice(1, -1)]);
  const ascii = texts(secret, 'json-ascii')[0]!;
  t.match(ascii, /^[\x20-\x7e]+$/, 'only printable ASCII');
  t.equal(JSON.parse(`"${ascii}"`), secret, 'decodes back to the secret');
  t.ok(ascii.includes('\\u00e9') && ascii.includes('\\u79d8'));
  t.ok(texts(secret, 'json-ascii-upper')[0]!.includes('\\u00E9'));
  t.ok(texts(secret, 'json-html')[0]!.includes('\\u003c\\u0026\\u003e'), "Go's HTML-safe escapes");
});

t.test('every variant is long enough, and none appears twice', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 8, maxLength: 200 }), (secret) => {
        const variants = secretVariants(secret);
        const lengths = variants.map((v) => [...v.text].length);
        return (
          lengths.every((n) => n >= MIN_MASK_LENGTH) && new Set(variants.map((v) => v.text)).size === variants.length
        );
      }),
    ),
  );
  t.same(
    secretVariants('abcdefgh').map((v) => v.encoding),
    ['raw', 'base64', 'base64', 'base64'],
    'an ASCII-safe secret: raw, and base64 (standard and URL alphabets agree here)',
  );
});

t.test('URL and form forms agree with the byte-wise encoder, also for text encodeURIComponent refuses', async (t) => {
  for (const secret of ["a b!c'd(e)f~g*h-i_j.k/l?m=n&o", 'pässwörd 秘密 😀 +%', 'lone \ud800 surrogate x']) {
    const forms = Object.fromEntries(secretVariants(secret).map((v) => [v.encoding, v.text]));
    const bytes = Buffer.from(secret, 'utf8');
    const url = percentEncode(bytes);
    const form = percentEncode(bytes, true);
    if (url !== secret) t.equal(forms.url, url, `url form of #${secret.length}`);
    if (form !== secret && form !== url) t.equal(forms.form, form, `form form of #${secret.length}`);
  }
});

t.test('property: the variants are exactly the forms Node encoders write, by a second derivation', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'grapheme', minLength: 8, maxLength: 120 }),
          fc.string({ unit: 'binary', minLength: 8, maxLength: 120 }),
          fc
            .array(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 30 }), { minLength: 2, maxLength: 4 })
            .map((lines) => lines.join('\n')),
        ),
        (secret) => {
          const variants = new Set(secretVariants(secret).map((v) => v.text));
          const expected = new Set(cores(secret).map((core) => core.text));
          return [...expected].every((text) => variants.has(text)) && [...variants].every((text) => expected.has(text));
        },
      ),
      { numRuns: runs(500) },
    ),
  );
});
