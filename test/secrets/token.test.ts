// The token's shape in-process: each way a wrong file or a pasted note can
// differ from a service-account token is refused with its own reason and the
// expected shape, never the token, exit 65; one newline at the end, and only
// one, is what a file may add. (End to end, through the programs that read a
// token: test/host-seal/cli.test.ts and test/entrypoint/refusals.test.ts.)
import t from 'tap';
import { StackError } from '../../src/errors.js';
import { assertTokenShape, trimOneNewline } from '../../src/secrets/token.js';
import { fakeServiceAccountToken } from '../fixtures/tokens.js';

const EXPECTED = "expected a 1Password service-account token: 'ops_' followed by base64url-encoded JSON, on one line";
const token = fakeServiceAccountToken();
const body = (json: string) => `ops_${Buffer.from(json).toString('base64url')}`;
const padded = (json: string) => body(json.padEnd(80, ' '));

/** The refusal `assertTokenShape` throws for `text`, or undefined. */
function refusal(text: string, step?: string): StackError | undefined {
  try {
    assertTokenShape(text, step);
  } catch (error) {
    if (error instanceof StackError) return error;
    throw error;
  }
  return undefined;
}

t.test('a service-account token passes, and so do the smallest and the largest that fit the shape', async (t) => {
  t.equal(refusal(token), undefined, 'a token of the real shape');
  const smallest = `ops_${Buffer.from('{"a":1}'.padEnd(45, ' ')).toString('base64url')}`;
  t.equal(smallest.length, 64, 'the smallest: 64 characters');
  t.equal(refusal(smallest), undefined, 'passes');
  const largest = `ops_${Buffer.from(`{"a":"${'x'.repeat(6133)}"}`).toString('base64url')}`;
  t.equal(largest.length, 8192, 'the largest: 8,192 characters');
  t.equal(refusal(largest), undefined, 'passes');
});

t.test('each deviation, with its own reason, the expected shape, exit 65 and never the token', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['empty', '', 'the token is empty'],
    ['a leading space', ` ${token}`, 'the token starts with whitespace (a space, tab or line break); remove it'],
    ['a leading tab', `\t${token}`, 'the token starts with whitespace (a space, tab or line break); remove it'],
    ['a leading line break', `\n${token}`, 'the token starts with whitespace (a space, tab or line break); remove it'],
    [
      'a trailing space',
      `${token} `,
      'the token ends with whitespace (a space, tab or a second line break); remove it',
    ],
    [
      'a second line break',
      `${token}\n`,
      'the token ends with whitespace (a space, tab or a second line break); remove it',
    ],
    [
      'two lines',
      `${token.slice(0, 100)}\n${token.slice(100)}`,
      'the token has whitespace inside it (a space or a line break: two lines, or a wrapped paste); pass it on one line',
    ],
    [
      'a space inside',
      `${token.slice(0, 100)} ${token.slice(100)}`,
      'the token has whitespace inside it (a space or a line break: two lines, or a wrapped paste); pass it on one line',
    ],
    ['another prefix', `opx_${token.slice(4)}`, "the token does not start with 'ops_'"],
    ['upper-case prefix', `OPS_${token.slice(4)}`, "the token does not start with 'ops_'"],
    [
      'a Connect token',
      'eyJhbGciOiJFUzI1NiIsImtpZCI6Inh4In0.eyJ4IjoxfQ.c2lnbmF0dXJl',
      "the token does not start with 'ops_'",
    ],
    ['63 characters', `ops_${'a'.repeat(59)}`, 'the token has 63 characters, outside 64..8192'],
    ['8,193 characters', `ops_${'a'.repeat(8189)}`, 'the token has 8193 characters, outside 64..8192'],
    [
      'a dot',
      `${token.slice(0, 100)}.${token.slice(101)}`,
      'the token has characters outside base64url after its prefix',
    ],
    [
      'a plus',
      `${token.slice(0, 100)}+${token.slice(101)}`,
      'the token has characters outside base64url after its prefix',
    ],
    [
      'a foreign character before a second prefix',
      `ops_.${token}`,
      'the token has characters outside base64url after its prefix',
    ],
    ['three =', `${token}===`, 'the token has characters outside base64url after its prefix'],
    [
      '= inside',
      `${token.slice(0, 100)}=${token.slice(101)}`,
      'the token has characters outside base64url after its prefix',
    ],
    ['not JSON', body('not json at all, just text that is long enough'), 'the token body does not decode to JSON'],
    ['JSON null', padded('null'), 'the token body decodes to JSON that is not an object'],
    ['a JSON list', padded('[1,2,3]'), 'the token body decodes to JSON that is not an object'],
    ['a JSON string', padded('"a string"'), 'the token body decodes to JSON that is not an object'],
    ['a JSON number', padded('42'), 'the token body decodes to JSON that is not an object'],
  ];
  for (const [label, text, reason] of cases) {
    const error = refusal(text, 'seal');
    t.equal(error?.code, 'token-shape', `${label}: refused`);
    t.equal(error?.exitCode, 65, `${label}: a data error`);
    t.equal(error?.step, 'seal', `${label}: the step given`);
    t.equal(error?.message, `${reason}; ${EXPECTED}`, `${label}: its reason and the expected shape`);
    if (text.length > 20) t.notOk(error?.message.includes(text.trim().slice(4, 40)), `${label}: never the token`);
  }
  t.equal(refusal('')?.step, undefined, 'no step unless given');
});

t.test('one trailing newline, LF or CRLF, and only one, is removed', async (t) => {
  t.equal(trimOneNewline('abc\n'), 'abc');
  t.equal(trimOneNewline('abc\r\n'), 'abc');
  t.equal(trimOneNewline('abc\n\n'), 'abc\n');
  t.equal(trimOneNewline('abc\r\n\r\n'), 'abc\r\n');
  t.equal(trimOneNewline('abc\r'), 'abc\r', 'a lone CR is not a line end');
  t.equal(trimOneNewline('abc'), 'abc');
  t.equal(trimOneNewline(''), '');
  t.equal(trimOneNewline('\n'), '');
});
