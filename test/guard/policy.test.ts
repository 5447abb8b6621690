// The guard's allow list itself (socket-guard/policy/policy.ts), in-process,
// from a hostile client's side: the base policy (ping and version, for health
// checks) and the checks every request meets before any route: the oldest API
// version, a query parameter given twice, a query key or a body the route
// does not take, and the default refusal. Each refusal is asserted with its
// rule and its exact message; each allowed request with the exact request
// that goes to the daemon.
import t from 'tap';
import { BASE_ROUTES, type Route, review } from '../../socket-guard/policy/policy.js';
import { Refusal } from '../../socket-guard/policy/refusal.js';
import { parseTarget } from '../../socket-guard/policy/request-path.js';

/** What the guard does with one request: the verdict, or the refusal's rule and message. */
const ask = async (method: string, url: string, body?: string, routes: readonly Route[] = BASE_ROUTES) => {
  try {
    return await review(routes, {
      method,
      target: parseTarget(url),
      body: body === undefined ? undefined : Buffer.from(body),
    });
  } catch (error) {
    if (error instanceof Refusal) return { rule: error.rule, message: error.message };
    throw error;
  }
};

const denied = (method: string, path: string) => ({
  rule: 'default-deny',
  message: `${method} ${path} is not an allowed Docker API call`,
});

t.test('the base policy is exactly ping and version, for a health check', async (t) => {
  t.same(
    BASE_ROUTES.map((route) => ({ name: route.name, methods: route.methods, query: route.query })),
    [
      { name: 'ping', methods: ['GET', 'HEAD'], query: [] },
      { name: 'version', methods: ['GET'], query: [] },
    ],
    'two routes, their methods and (no) query keys',
  );
  for (const [method, url] of [
    ['GET', '/_ping'],
    ['HEAD', '/_ping'],
    ['GET', '/v1.41/_ping'],
    ['HEAD', '/v1.45/_ping'],
    ['GET', '/version'],
    ['GET', '/v1.40/version'],
  ] as const) {
    t.same(await ask(method, url), { method, path: url, body: undefined }, `${method} ${url}: forwarded as is`);
  }
});

t.test('everything else is refused by default, naming the method and path', async (t) => {
  for (const [method, url, path] of [
    ['POST', '/_ping', '/_ping'],
    ['DELETE', '/_ping', '/_ping'],
    ['get', '/_ping', '/_ping'],
    ['HEAD', '/version', '/version'],
    ['POST', '/v1.41/version', '/version'],
    ['GET', '/_pingx', '/_pingx'],
    ['GET', '/x/_ping', '/x/_ping'],
    ['GET', '/_ping/x', '/_ping/x'],
    ['GET', '/versions', '/versions'],
    ['GET', '/x/version', '/x/version'],
    ['GET', '/version/x', '/version/x'],
    ['GET', '/v1.41/v1.41/_ping', '/v1.41/_ping'],
    ['GET', '/info', '/info'],
    ['GET', '/events', '/events'],
    ['GET', '/containers/json', '/containers/json'],
    ['POST', '/containers/create', '/containers/create'],
    ['POST', '/images/create?fromImage=alpine', '/images/create'],
    ['POST', '/build', '/build'],
    ['GET', '/secrets', '/secrets'],
  ] as const) {
    t.same(await ask(method, url), denied(method, path), `${method} ${url}`);
  }
});

t.test('a query key or a body the route does not take is refused, naming the route', async (t) => {
  t.same(await ask('GET', '/_ping?x=1'), {
    rule: 'ping-query',
    message: "the query parameter 'x' is not allowed for ping",
  });
  t.same(await ask('HEAD', '/v1.41/_ping?filters=%7B%7D'), {
    rule: 'ping-query',
    message: "the query parameter 'filters' is not allowed for ping",
  });
  t.same(await ask('GET', '/version?'), { method: 'GET', path: '/version', body: undefined }, 'an empty query is none');
  t.same(await ask('GET', '/version?all=1&x=2'), {
    rule: 'version-query',
    message: "the query parameter 'all' is not allowed for version",
  });
  t.same(await ask('GET', '/_ping', 'x'), { rule: 'ping-body', message: 'ping takes no request body' });
  t.same(await ask('GET', '/version', '{}'), { rule: 'version-body', message: 'version takes no request body' });
  t.same(
    await ask('GET', '/_ping', ''),
    { method: 'GET', path: '/_ping', body: undefined },
    'an empty body is no body, and none is forwarded',
  );
});

t.test('an API version older than v1.40 is refused, however it is spelled', async (t) => {
  const old = (version: string) => ({
    rule: 'api-version',
    message: `API version ${version} is older than v1.40; use a current Docker client, or no version prefix`,
  });
  for (const [url, version] of [
    ['/v1.39/_ping', 'v1.39'],
    ['/v1.4/_ping', 'v1.4'],
    ['/v1.24/version', 'v1.24'],
    ['/v0.99/_ping', 'v0.99'],
    ['/v0.41/_ping', 'v0.41'],
    ['/v1.0/_ping', 'v1.0'],
    // Leading zeros: Docker reads the numbers, so v01.39 is v1.39.
    ['/v01.39/_ping', 'v01.39'],
    ['/v1.039/_ping', 'v1.039'],
    ['/v00.99/_ping', 'v00.99'],
  ] as const) {
    t.same(await ask('GET', url), old(version), url);
  }
  t.same(
    await ask('GET', '/v1.24/nothing'),
    old('v1.24'),
    'before any route is looked at: an old client learns why, not default-deny',
  );
  t.same(await ask('GET', '/v1.24/_ping?x=1&x=2'), old('v1.24'), 'before the query is looked at');
  for (const url of [
    '/v1.40/_ping',
    '/v1.041/_ping',
    '/v01.40/_ping',
    '/v1.123/_ping',
    '/v2.0/_ping',
    '/v10.1/_ping',
  ]) {
    t.same(await ask('GET', url), { method: 'GET', path: url, body: undefined }, `${url}: not older, forwarded as is`);
  }
});

t.test('a query parameter given twice is refused, however it is spelled', async (t) => {
  const twice = (key: string) => ({
    rule: 'query-repeated',
    message: `the query parameter '${key}' is given more than once`,
  });
  t.same(await ask('GET', '/_ping?x=1&x=2'), twice('x'), 'before the route rejects x: the same answer for any route');
  t.same(await ask('GET', '/nothing?a=1&a=1'), twice('a'), 'before the default refusal');
  t.same(
    await ask('GET', '/_ping?filters=%7B%7D&fil%74ers=%7B%22type%22%3A%5B%22image%22%5D%7D'),
    twice('filters'),
    'one of them encoded',
  );
  t.same(await ask('GET', '/_ping?a=1&b=2&b=3&a=4'), twice('b'), 'the key seen again first is named');
  t.same(await ask('GET', '/_ping?=1&=2'), twice(''), 'an empty key');
  const long = 'k'.repeat(60);
  t.same(await ask('GET', `/_ping?${long}=1&${long}=2`), twice('k'.repeat(40)), 'a long key: its first 40 characters');
});

t.test("a route's own review decides, given the request and the path's match", async (t) => {
  const seen: string[] = [];
  const routes: Route[] = [
    {
      name: 'item-get',
      methods: ['GET'],
      path: /^\/items\/([a-z]+)$/,
      query: ['q'],
      review: (request, match) => {
        seen.push(`${request.method} ${match[1]} ${request.body?.toString() ?? '-'}`);
        return { method: 'GET', path: `/items/${match[1]!.toUpperCase()}`, body: undefined };
      },
    },
    {
      name: 'item-put',
      methods: ['PUT'],
      path: /^\/items\/([a-z]+)$/,
      query: [],
      review: (request) => ({ method: 'PUT', path: request.target.path, body: request.body }),
    },
  ];
  t.same(await ask('GET', '/items/abc?q=1', 'b', routes), { method: 'GET', path: '/items/ABC', body: undefined });
  t.same(seen, ['GET abc b'], 'the review got the body and the path match; no body check of its own before');
  t.same(
    await ask('PUT', '/items/abc', 'x', routes),
    { method: 'PUT', path: '/items/abc', body: Buffer.from('x') },
    'a route whose method does not fit is passed over for the next',
  );
  t.same(await ask('PUT', '/items/abc?q=1', undefined, routes), {
    rule: 'item-put-query',
    message: "the query parameter 'q' is not allowed for item-put",
  });
  t.same(await ask('DELETE', '/items/abc', undefined, routes), denied('DELETE', '/items/abc'));
});

t.test('an allowed query goes upstream re-encoded: no raw byte of it reaches the request line', async (t) => {
  const routes: Route[] = [{ name: 'item-list', methods: ['GET'], path: /^\/items$/, query: ['q', 'all'] }];
  for (const [url, path] of [
    ['/items?q=a%20b&all=1', '/items?q=a+b&all=1'],
    ['/v1.41/items?all=1&q=x', '/v1.41/items?all=1&q=x'],
    ['/items?q=%0D%0AHost:%20evil', '/items?q=%0D%0AHost%3A+evil'],
    ['/items?q=%E2%80%A8%00', '/items?q=%E2%80%A8%00'],
    ['/items?q=a/b?c&all', '/items?q=a%2Fb%3Fc&all='],
    ['/items?', '/items'],
  ] as const) {
    t.same(await ask('GET', url, undefined, routes), { method: 'GET', path, body: undefined }, url);
  }
});
