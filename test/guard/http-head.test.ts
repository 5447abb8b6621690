// The guard's request-head reader refuses what a well-behaved Docker client
// never sends, instead of guessing how the daemon would read it: each hostile
// head gets its rule and its exact message, and what is accepted is read
// exactly (method, target, lower-case headers, the head's length, the body's
// length, whether the client asked to close).
import t from 'tap';
import { readHead } from '../../socket-guard/policy/http-head.js';
import { Refusal } from '../../socket-guard/policy/refusal.js';

const MAX_BODY = 65536;
const head = (text: string) => readHead(Buffer.from(text, 'latin1'), MAX_BODY);

/** What the reader made of `text`: the head, undefined (wait for more), or the refusal's rule and message. */
function verdict(text: string): unknown {
  try {
    const read = head(text);
    return read && { ...read, headers: Object.fromEntries(read.headers) };
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    return { rule: error.rule, message: error.message };
  }
}
const malformed = (why: string) => ({
  rule: 'http-parse',
  message: `the request is not well-formed HTTP/1.1 (${why})`,
});
const upgrade = { rule: 'no-upgrade', message: 'connection upgrades (attach, exec, session) are refused' };
/** A head as a test name: everything outside printable ASCII escaped. */
const named = (text: string) =>
  JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}...` : text).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );

t.test('reads a plain request head', async (t) => {
  const h = head(
    'POST /v1.41/containers/create?name=x HTTP/1.1\r\nHost: guard\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
  );
  t.equal(h?.method, 'POST');
  t.equal(h?.target, '/v1.41/containers/create?name=x');
  t.equal(h?.contentLength, 2);
  t.equal(h?.headers.get('content-type'), 'application/json');
  t.equal(h?.close, false);
  t.equal(head('GET /_ping HTTP/1.0\r\n\r\n')?.close, true, 'HTTP/1.0 closes');
  t.equal(head('GET /_ping HTTP/1.1\r\nConnection: close\r\n\r\n')?.close, true);
  t.equal(head('GET /_ping HTTP/1.1\r\nHost: x\r\n'), undefined, 'incomplete: wait for more');
});

t.test('an accepted head, read exactly', async (t) => {
  const text =
    "PUT /a?b=c HTTP/1.1\r\nHOST:guard\r\nX-Spaced: \t two words \t\r\nX-!#$%&'*+.^_`|~09az: caf\xe9\r\n\r\n";
  t.same(verdict(`${text}BODY`), {
    method: 'PUT',
    target: '/a?b=c',
    headers: { host: 'guard', 'x-spaced': 'two words', "x-!#$%&'*+.^_`|~09az": 'caf\xe9' },
    length: text.length,
    contentLength: 0,
    close: false,
  });
  t.same(verdict('GET /_ping HTTP/1.0\r\n\r\n'), {
    method: 'GET',
    target: '/_ping',
    headers: {},
    length: 'GET /_ping HTTP/1.0\r\n\r\n'.length,
    contentLength: 0,
    close: true,
  });
});

t.test('incomplete heads: wait for more, unless they can never become a head', async (t) => {
  t.equal(verdict(''), undefined, 'nothing yet');
  t.equal(verdict('GET /_ping HTTP/1.1'), undefined, 'no line end yet');
  t.equal(verdict('GET /_ping HTTP/1.1\r\nHost: x\r\n'), undefined);
  t.equal(verdict('GET /_ping HTTP/1.1\r\nHost: x\n'), undefined, 'a bare LF after a CRLF: refused when the head ends');
  t.same(verdict('GET /_ping HTTP/1.1\n'), malformed('bare LF'));
  t.same(verdict('GET /_ping HTTP/1.1\nHost: x\n\n'), malformed('bare LF'));
  t.same(verdict('\n'), malformed('bare LF'));
  // The head's bound, 16 KiB: an incomplete head of exactly 16,384 bytes may still end; one byte more may not.
  t.equal(verdict(`GET /${'a'.repeat(16384 - 5)}`), undefined);
  t.same(verdict(`GET /${'a'.repeat(16384 - 4)}`), malformed('head too large'));
});

t.test('a complete head is at most 16,384 bytes before its blank line', async (t) => {
  const start = 'GET /_ping HTTP/1.1\r\nX-Pad: ';
  const padded = (end: number) => `${start}${'a'.repeat(end - start.length)}\r\n\r\n`;
  t.equal(padded(16384).indexOf('\r\n\r\n'), 16384, 'the blank line starts at offset 16,384');
  t.same(head(padded(16384))?.headers.get('x-pad')?.length, 16384 - start.length, 'accepted');
  t.same(verdict(padded(16385)), malformed('head too large'));
  t.same(verdict(padded(20000)), malformed('head too large'));
});

t.test('the request line: METHOD, one space, a target, one space, HTTP/1.0 or HTTP/1.1, nothing else', async (t) => {
  for (const line of [
    'GET /_ping HTTP/2.0',
    'get /_ping HTTP/1.1',
    'gET /_ping HTTP/1.1',
    ' GET /_ping HTTP/1.1',
    'GET  /_ping HTTP/1.1',
    'GET /_ping  HTTP/1.1',
    'GET /_ping HTTP/1.1 ',
    'GET /_ping HTTP/1.1x',
    'GET /_ping HTTP/1.10',
    'GET /_ping HTTP/1.2',
    'GET /_ping http/1.1',
    'GET /a b HTTP/1.1',
    'GET\t/_ping HTTP/1.1',
    'GET /_ping',
    '',
  ]) {
    t.same(verdict(`${line}\r\nHost: x\r\n\r\n`), malformed('bad request line'), named(line));
  }
});

t.test('header lines: a token, a colon, a value of visible characters, tabs and spaces', async (t) => {
  for (const line of [
    ' folded',
    ' X-A: b',
    '\tX-A: b',
    'X A: b',
    'X-A : b',
    '(X-A): b',
    'X-\xe9: b',
    ': b',
    'Host',
    'X-A: a\u0000b',
    'X-A: a\u007fb',
    'X-A: a\u001bb',
    'X-A: a\rb',
    'X-A: a\nb',
    'X-A: b\n',
    '\nX-A: b',
  ]) {
    t.same(verdict(`GET /_ping HTTP/1.1\r\n${line}\r\n\r\n`), malformed('bad header line'), named(line));
  }
  t.same(verdict('GET /_ping HTTP/1.1\r\nHost: a\r\nhOST: b\r\n\r\n'), malformed('repeated header host'));
  t.same(
    verdict('GET /_ping HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n'),
    malformed('repeated header content-length'),
  );
});

t.test('bodies: a Content-Length of digits, never a Transfer-Encoding, at most the limit', async (t) => {
  const withLength = (value: string) => `POST /x HTTP/1.1\r\nContent-Length: ${value}\r\n\r\n`;
  t.equal(head(withLength('65536'))?.contentLength, 65536, 'the limit itself');
  t.equal(head(withLength('0000000005'))?.contentLength, 5, 'ten digits, leading zeros');
  t.equal(head(withLength('0'))?.contentLength, 0);
  t.equal(head('POST /x HTTP/1.1\r\n\r\n')?.contentLength, 0, 'none: no body');
  t.same(verdict(withLength('65537')), { rule: 'body-size', message: 'request bodies are limited to 65536 bytes' });
  t.same(verdict(withLength('9999999999')), {
    rule: 'body-size',
    message: 'request bodies are limited to 65536 bytes',
  });
  for (const value of ['+5', '-1', '5x', '5 5', '0x10', '1e3', '5.0', '', '12345678901', '\u0665']) {
    t.same(verdict(withLength(value)), malformed('bad Content-Length'), named(value));
  }
  for (const value of ['chunked', 'identity', '']) {
    t.same(
      verdict(`POST /x HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: ${value}\r\n\r\n`),
      malformed('Transfer-Encoding is not accepted; send a Content-Length'),
      named(value),
    );
  }
  t.same(
    verdict('GET /_ping HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n'),
    malformed('bad header line'),
    'a space before the colon is not read as Transfer-Encoding',
  );
});

t.test('upgrades are refused however the Connection header names them', async (t) => {
  for (const value of [
    'Upgrade',
    'upgrade',
    'keep-alive, Upgrade',
    'keep-alive,upgrade',
    'Upgrade , keep-alive',
    'a,\tUPGRADE\t,b',
  ]) {
    t.same(verdict(`GET /_ping HTTP/1.1\r\nConnection: ${value}\r\n\r\n`), upgrade, named(value));
  }
  t.same(verdict('GET /_ping HTTP/1.1\r\nUpgrade: tcp\r\n\r\n'), upgrade);
  t.same(verdict('GET /_ping HTTP/1.1\r\nupgrade:\r\n\r\n'), upgrade, 'an Upgrade header, even empty');
  for (const value of ['upgraded', 'x-upgrade', 'upgrade-insecure', 'keep-alive']) {
    t.equal(head(`GET /_ping HTTP/1.1\r\nConnection: ${value}\r\n\r\n`)?.close, false, `${value}: not an upgrade`);
  }
});

t.test("close: HTTP/1.0, or close among the Connection header's words", async (t) => {
  const close = (version: string, connection?: string) =>
    head(`GET /_ping HTTP/${version}\r\n${connection === undefined ? '' : `Connection: ${connection}\r\n`}\r\n`)?.close;
  t.equal(close('1.0'), true);
  t.equal(close('1.0', 'keep-alive'), true, 'HTTP/1.0 closes whatever it says');
  t.equal(close('1.1'), false);
  for (const value of [
    'close',
    'CLOSE',
    'keep-alive, close',
    'keep-alive,close',
    'close ,keep-alive',
    'a,\tclose\t,b',
  ]) {
    t.equal(close('1.1', value), true, value);
  }
  for (const value of ['closed', 'xclose', 'close-ish', 'keep-alive', '']) {
    t.equal(close('1.1', value), false, JSON.stringify(value));
  }
});
