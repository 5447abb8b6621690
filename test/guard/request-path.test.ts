// The request target as the guard reads it (socket-guard/policy/request-path.ts),
// in-process: what a hostile client may put in the request line to make the
// guard and the daemon see two different endpoints. Only plain origin-form
// paths pass; an optional version prefix (/v1.41) is split off, only at the
// start and only once; the query is decoded the way Go's url.ParseQuery
// decodes it. Every other spelling is refused with its rule and message.
import t from 'tap';
import { Refusal } from '../../socket-guard/policy/refusal.js';
import { parseTarget } from '../../socket-guard/policy/request-path.js';

/** The target as plain data, or the refusal's rule and message. */
const read = (raw: string) => {
  try {
    const target = parseTarget(raw);
    return { path: target.path, version: target.version, query: [...target.query] };
  } catch (error) {
    if (error instanceof Refusal) return { rule: error.rule, message: error.message };
    throw error;
  }
};

t.test('plain paths pass, with the version prefix split off and the query decoded', async (t) => {
  const cases: Array<[string, string, string, Array<[string, string]>]> = [
    ['/_ping', '/_ping', '', []],
    ['/version', '/version', '', []],
    ['/v1.41/_ping', '/_ping', '/v1.41', []],
    ['/v1.40/containers/json?all=1', '/containers/json', '/v1.40', [['all', '1']]],
    // Two digits of major version, three of minor: the widest prefix that is still one.
    ['/v10.41/_ping', '/_ping', '/v10.41', []],
    ['/v1.123/_ping', '/_ping', '/v1.123', []],
    ['/v01.039/_ping', '/_ping', '/v01.039', []],
    // Wider than that it is no version: the whole path stays, and no route has it.
    ['/v100.41/_ping', '/v100.41/_ping', '', []],
    ['/v1.1234/_ping', '/v1.1234/_ping', '', []],
    ['/v1/_ping', '/v1/_ping', '', []],
    ['/v1.41', '/v1.41', '', []],
    ['/V1.41/_ping', '/V1.41/_ping', '', []],
    // A prefix is taken only at the start, and only once.
    ['/x/v1.41/_ping', '/x/v1.41/_ping', '', []],
    ['/containers/v1.41/json', '/containers/v1.41/json', '', []],
    ['/v1.41/v1.24/_ping', '/v1.24/_ping', '/v1.41', []],
    // Dots, dashes and underscores inside a segment are a name's, not a dot segment.
    ['/volumes/cbs-agent-lal.x_y-home', '/volumes/cbs-agent-lal.x_y-home', '', []],
    ['/containers/.../json', '/containers/.../json', '', []],
    ['/containers/..x/json', '/containers/..x/json', '', []],
    // The query: percent-encoding and '+' decoded as Go decodes them, a '?' in a value kept, nothing after an empty '?'.
    [
      '/containers/json?filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D&all=1',
      '/containers/json',
      '',
      [
        ['filters', '{"label":["a=b"]}'],
        ['all', '1'],
      ],
    ],
    ['/_ping?a=b?c', '/_ping', '', [['a', 'b?c']]],
    ['/_ping?fil%74ers=a+b%2Fc', '/_ping', '', [['filters', 'a b/c']]],
    ['/_ping?', '/_ping', '', []],
    [
      '/_ping?x=1&x=2',
      '/_ping',
      '',
      [
        ['x', '1'],
        ['x', '2'],
      ],
    ],
  ];
  for (const [raw, path, version, query] of cases) {
    t.same(read(raw), { path, version, query }, raw);
  }
});

t.test('a target that is not origin-form is refused: path-form', async (t) => {
  for (const raw of ['http://docker/_ping', 'http://docker/v1.41/containers/json', '*', '', '_ping', 'unix:/_ping']) {
    t.same(
      read(raw),
      { rule: 'path-form', message: 'only origin-form request targets are accepted' },
      JSON.stringify(raw),
    );
  }
});

t.test('percent-encoding or a backslash in the path is refused: path-encoding', async (t) => {
  for (const raw of [
    '/_p%69ng',
    '/containers/%2e%2e/_ping',
    '/containers/a%2fb/json',
    '/containers/a%2Fb/json',
    '/containers/a%252fb/json',
    '/v1.41%2f_ping',
    '/%761.41/_ping',
    '/containers\\..\\_ping',
    '/containers/cbs-agent-lal\\json',
    '/_ping%3Fx=1',
    '/%',
  ]) {
    t.same(read(raw), { rule: 'path-encoding', message: 'percent-encoded or backslashed paths are refused' }, raw);
  }
});

t.test('an empty, dot or unusual segment is refused: path-shape', async (t) => {
  for (const raw of [
    '/',
    '/?all=1',
    '/v1.41/',
    '/v1.41//_ping',
    '//docker/_ping',
    '/containers//json',
    '/containers/json/',
    '/containers/./json',
    '/containers/../_ping',
    '/containers/cbs-agent-lal/..',
    '/v1.41/../_ping',
    '/v1.41/./_ping',
    '/.',
    '/..',
    '/./_ping',
    '/../_ping',
    // Characters outside a name's: Docker's router would cut or read them otherwise.
    '/containers/a:b/json',
    '/_ping;x',
    '/;x/_ping',
    '/_ping#x',
    '/containers/é/json',
    '/containers/a b/json',
    '/containers/a@b/json',
    '/containers/*/json',
  ]) {
    t.same(read(raw), { rule: 'path-shape', message: 'the path has empty, dot or unusual segments' }, raw);
  }
});

t.test('a query with a fragment or white space is refused: path-encoding', async (t) => {
  for (const raw of [
    '/_ping?x=1#frag',
    '/_ping?#',
    '/containers/json?all=1#&filters=x',
    '/_ping?a=\tb',
    '/_ping?a b',
  ]) {
    t.same(
      read(raw),
      { rule: 'path-encoding', message: 'the query has characters a client never sends' },
      JSON.stringify(raw),
    );
  }
  t.same(read('/_ping?x=%23%20'), { path: '/_ping', version: '', query: [['x', '# ']] }, 'encoded, they are values');
});
