import t from 'tap';
import { MASK, redact } from '../../src/redact/index.js';
import { SecretSet } from '../../src/secrets/secret-set.js';

const set = new SecretSet([
  { label: 'a', value: 'abcdefgh12' },
  { label: 'b', value: 'gh12345678' },
  { label: 'c', value: 'zyxwvutsrq' },
  { label: 'short', value: 'pw' },
]);

t.test('masks each occurrence, in strings and buffers alike', async (t) => {
  t.equal(MASK, '<redacted>');
  t.equal(redact(set, 'x=abcdefgh12; y=zyxwvutsrq.'), 'x=<redacted>; y=<redacted>.');
  t.same(redact(set, Buffer.from('x=abcdefgh12')), Buffer.from('x=<redacted>'));
  t.equal(
    redact(set, 'b64 ' + Buffer.from('abcdefgh12').toString('base64')),
    'b64 <redacted>g==',
    'the last character, partly the next byte, stays',
  );
  t.equal(redact(set, 'pw pw pw'), 'pw pw pw', 'short secrets are not masked');
});

t.test('overlapping and adjacent matches are masked once, as their union', async (t) => {
  t.equal(redact(set, '[abcdefgh12345678]'), '[<redacted>]', 'overlapping: a then b');
  t.equal(redact(set, '[abcdefgh12zyxwvutsrq]'), '[<redacted>]', 'adjacent');
  t.equal(redact(set, '[abcdefgh12 zyxwvutsrq]'), '[<redacted> <redacted>]', 'one byte apart: two masks');
  t.equal(redact(set, 'abcdefgh12abcdefgh12', '***'), '***', 'a chosen mask');
});

t.test('input without a secret comes back byte for byte, invalid UTF-8 included', async (t) => {
  const binary = Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x61, 0x62, 0x63, 0x64, 0x65, 0x80]);
  t.equal(redact(set, binary), binary, 'the same buffer');
  const text = 'lone surrogate \ud800 and abcdefgh1 (one short)';
  t.equal(redact(set, text), text);
  t.equal(redact(new SecretSet([]), text), text);
});

t.test('a secret around invalid UTF-8 is still masked and the rest kept', async (t) => {
  const input = Buffer.concat([Buffer.from([0xff, 0xc3]), Buffer.from('abcdefgh12'), Buffer.from([0x80, 0xfe])]);
  t.same(redact(set, input), Buffer.concat([Buffer.from([0xff, 0xc3]), Buffer.from(MASK), Buffer.from([0x80, 0xfe])]));
});

t.test('a secret inside a longer one, starting later and ending earlier, leaves none of the longer one', async (t) => {
  const nested = new SecretSet([
    { label: 'long', value: '0123456789abcdef' },
    { label: 'inside', value: '23456789' },
  ]);
  t.equal(redact(nested, 'k=0123456789abcdef;'), 'k=<redacted>;');
  t.equal(redact(nested, 'k=23456789;'), 'k=<redacted>;');
  t.equal(redact(new SecretSet([]), 'nothing to mask'), 'nothing to mask', 'no secrets: the text as it is');
});
