// The guard's request-head reader refuses what a well-behaved Docker client
// never sends, instead of guessing how the daemon would read it.
import t from 'tap';
import { readHead } from '../../socket-guard/policy/http-head.js';
import { Refusal } from '../../socket-guard/policy/refusal.js';

const head = (text: string) => readHead(Buffer.from(text, 'latin1'), 65536);

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

t.test('refuses what it will not interpret', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['GET /_ping HTTP/1.1\nHost: x\n\n', 'http-parse', /bare LF/],
    ['GET /_ping HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n', 'http-parse', /bad header line/],
    [
      'GET /_ping HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'http-parse',
      /repeated header content-length/,
    ],
    ['GET /_ping HTTP/1.1\r\nContent-Length: +5\r\n\r\n', 'http-parse', /bad Content-Length/],
    ['GET /_ping HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n', 'http-parse', /Transfer-Encoding is not accepted/],
    ['GET /_ping HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n', 'http-parse', /bad header line/],
    ['GET /_ping HTTP/1.1\r\nX-A: a\u0000b\r\n\r\n', 'http-parse', /bad header line/],
    ['GET /_ping HTTP/2.0\r\n\r\n', 'http-parse', /bad request line/],
    ['get /_ping HTTP/1.1\r\n\r\n', 'http-parse', /bad request line/],
    ['GET  /_ping HTTP/1.1\r\n\r\n', 'http-parse', /bad request line/],
    ['GET /_ping HTTP/1.1\r\nUpgrade: tcp\r\n\r\n', 'no-upgrade', /upgrades/],
    ['GET /_ping HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\n\r\n', 'no-upgrade', /upgrades/],
    ['POST /x HTTP/1.1\r\nContent-Length: 70000\r\n\r\n', 'body-size', /limited to 65536 bytes/],
    [`GET /${'a'.repeat(17000)}`, 'http-parse', /head too large/],
  ];
  for (const [text, rule, message] of cases) {
    try {
      head(text);
      t.fail(`accepted ${JSON.stringify(text.slice(0, 50))}`);
    } catch (error) {
      t.ok(error instanceof Refusal);
      t.equal((error as Refusal).rule, rule, JSON.stringify(text.slice(0, 50)));
      t.match((error as Refusal).message, message);
    }
  }
});
