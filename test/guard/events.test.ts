// The events route: the client's filters rewritten (type forced to
// container, the agent labels appended, other keys refused), each daemon event
// cut down to the allow list (no exec command line, no other labels, nothing
// of other projects' containers or of the host), and the guard's own chunked
// answer. The daemon in the last tests is a fake (a node:http server on a Unix
// socket, which writes what each test tells it to); against the real engine:
// events-engine.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { EventLines, eventFilters, eventsRoute, visibleEvent } from '../../socket-guard/policy/events.js';
import { BASE_ROUTES, review } from '../../socket-guard/policy/policy.js';
import { Refusal } from '../../socket-guard/policy/refusal.js';
import { parseTarget } from '../../socket-guard/policy/request-path.js';
import { stringifyJson } from '../../socket-guard/policy/strict-json.js';
import { createGuard } from '../../socket-guard/server.js';
import { readGuardSettings } from '../../socket-guard/settings.js';
import { AGENT_LABEL, PROJECT_LABEL } from '../../src/contract.js';

const PROJECT = 'cbs';
const CANARY = 'CANARY-7f3a9c';
const AGENT_ID = 'a'.repeat(64);
const OTHER_ID = 'b'.repeat(64);
const routes = [...BASE_ROUTES, eventsRoute(PROJECT)];

const ask = async (url: string, method = 'GET', body?: string) => {
  try {
    return {
      verdict: await review(routes, {
        method,
        target: parseTarget(url),
        body: body === undefined ? undefined : Buffer.from(body),
      }),
    };
  } catch (error) {
    if (error instanceof Refusal) return { refused: error.rule };
    throw error;
  }
};

/** The filters the daemon would get, as plain JSON. */
const forwarded = (verdict: unknown) => {
  const path = (verdict as { stream: { path: string } }).stream.path;
  return {
    path,
    filters: JSON.parse(new URL(path, 'http://docker').searchParams.get('filters')!) as Record<string, string[]>,
  };
};

const FORCED = [`${PROJECT_LABEL}=${PROJECT}`, AGENT_LABEL];

t.test("the filters: type forced to container, the agent labels appended to the client's", async (t) => {
  const cases: Array<[string, Record<string, string[]>]> = [
    ['/events', { type: ['container'], label: FORCED }],
    ['/events?filters=', { type: ['container'], label: FORCED }],
    [
      `/events?filters=${encodeURIComponent('{"type":["image","network","volume","daemon"]}')}`,
      { type: ['container'], label: FORCED },
    ],
    [`/events?filters=${encodeURIComponent('{"type":{"daemon":true}}')}`, { type: ['container'], label: FORCED }],
    [
      `/events?filters=${encodeURIComponent('{"event":["die","stop"],"container":["cbs-agent-lal"]}')}`,
      { event: ['die', 'stop'], container: ['cbs-agent-lal'], type: ['container'], label: FORCED },
    ],
    [
      `/events?filters=${encodeURIComponent('{"label":["com.copilot-bridge-stack.project=other"]}')}`,
      { label: ['com.copilot-bridge-stack.project=other', ...FORCED], type: ['container'] },
    ],
    // The docker CLI's own format (a map of values to true) becomes a list: the daemon refuses the two mixed.
    [
      `/events?filters=${encodeURIComponent('{"event":{"die":true},"label":{"x=1":true}}')}`,
      { event: ['die'], label: ['x=1', ...FORCED], type: ['container'] },
    ],
    // Go's case-insensitive field matching, as the container list route.
    [
      `/events?filters=${encodeURIComponent('{"TYPE":["image"],"Label":["x"]}')}`,
      { type: ['container'], label: ['x', ...FORCED] },
    ],
  ];
  for (const [url, expected] of cases) {
    const { verdict, refused } = await ask(url);
    t.equal(refused, undefined, `${url}: allowed`);
    t.same(forwarded(verdict).filters, expected, `${url}: the daemon gets ${JSON.stringify(expected)}`);
  }
  const since = forwarded((await ask('/v1.41/events?since=1700000000&until=1700000100')).verdict).path;
  t.match(
    since,
    /^\/v1\.41\/events\?since=1700000000&until=1700000100&filters=/,
    'version prefix, since and until kept',
  );
});

t.test('the filters: other keys, other shapes, malformed or repeated JSON are refused', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['image filter', '{"image":["alpine"]}', /^events-filter$/],
    ['network filter', '{"network":["host"]}', /^events-filter$/],
    ['daemon filter', '{"daemon":["x"]}', /^events-filter$/],
    ['scope filter', '{"scope":["swarm"]}', /^events-filter$/],
    ['value not a list', '{"event":"die"}', /^events-filter$/],
    ['list of non-strings', '{"label":[1]}', /^events-filter$/],
    ['map with false', '{"label":{"x":false}}', /^events-filter$/],
    ['not an object', '["type"]', /^body-shape$/],
    ['malformed JSON', '{"type":', /^json-syntax$/],
    ['trailing garbage', '{}x', /^json-syntax$/],
    ['duplicate key', '{"label":["a"],"label":["b"]}', /^json-duplicate-key$/],
    ['duplicate key by case', '{"label":["a"],"LABEL":["b"]}', /^json-duplicate-key$/],
    ['duplicate key by escape', '{"type":["container"],"\\u0074ype":["image"]}', /^json-duplicate-key$/],
  ];
  for (const [name, filters, rule] of cases) {
    const { refused } = await ask(`/events?filters=${encodeURIComponent(filters)}`);
    t.match(refused, rule, `${name}: ${refused}`);
  }
  t.equal(
    (await ask('/events?type=container')).refused,
    'events-query',
    'a query key other than since, until, filters',
  );
  t.equal((await ask('/events', 'GET', 'x')).refused, 'events-body', 'a body');
  t.equal((await ask('/events', 'POST')).refused, 'default-deny', 'POST');
  t.equal(
    await review(BASE_ROUTES, { method: 'GET', target: parseTarget('/_ping'), body: undefined }).then(() => 'ok'),
    'ok',
    'the base routes still allow ping',
  );
  const base = await review(BASE_ROUTES, { method: 'GET', target: parseTarget('/events'), body: undefined }).catch(
    (error: Refusal) => error.rule,
  );
  t.equal(base, 'default-deny', 'the base policy has no events');
  t.same(
    stringifyJson(eventFilters(PROJECT, null)),
    JSON.stringify({ type: ['container'], label: FORCED }),
    'no filters: only the forced ones',
  );
});

const agentAttributes = {
  [AGENT_LABEL]: 'lal',
  [PROJECT_LABEL]: PROJECT,
  'com.docker.compose.service': 'x',
  'secret.label': `${CANARY}-label`,
  image: 'copilot-bridge-stack:test',
  name: 'cbs-agent-lal',
};
const containerEvent = (
  action: string,
  attributes: Record<string, string> = agentAttributes,
  extra: Record<string, unknown> = {},
) => ({
  status: action,
  id: AGENT_ID,
  from: 'copilot-bridge-stack:test',
  Type: 'container',
  Action: action,
  Actor: { ID: AGENT_ID, Attributes: attributes },
  scope: 'local',
  time: 1796035693,
  timeNano: 1796035693000000000,
  ...extra,
});
const shownAttributes = {
  name: 'cbs-agent-lal',
  image: 'copilot-bridge-stack:test',
  [PROJECT_LABEL]: PROJECT,
  [AGENT_LABEL]: 'lal',
};
const shown = (action: string, attributes: Record<string, string> = shownAttributes) => ({
  Type: 'container',
  Action: action,
  status: action,
  id: AGENT_ID,
  from: 'copilot-bridge-stack:test',
  scope: 'local',
  time: 1796035693,
  timeNano: 1796035693000000000,
  Actor: { ID: AGENT_ID, Attributes: attributes },
});

t.test('each daemon event, cut down to the allow list', async (t) => {
  const exec = { ...agentAttributes, execID: `e${'1'.repeat(63)}` };
  const table: Array<[string, unknown, unknown]> = [
    [
      'exec_create with a command line',
      containerEvent(`exec_create: sh -c 'mysql -p${CANARY}'`, exec),
      shown('exec_create'),
    ],
    ['exec_start with a command line', containerEvent(`exec_start: sh -c 'echo ${CANARY}'`, exec), shown('exec_start')],
    [
      'exec_die: exit code kept, execID dropped',
      containerEvent('exec_die', { ...exec, exitCode: '0' }),
      shown('exec_die', { ...shownAttributes, exitCode: '0' }),
    ],
    [
      'exec_create, Action and status differing',
      containerEvent('exec_create: x', exec, {
        status: `exec_create: ${CANARY}`,
        Action: `exec_create: ${CANARY}: more`,
      }),
      shown('exec_create'),
    ],
    ['health_status: healthy kept whole', containerEvent('health_status: healthy'), shown('health_status: healthy')],
    [
      'health_status: unhealthy kept whole',
      containerEvent('health_status: unhealthy'),
      shown('health_status: unhealthy'),
    ],
    ['health_status: starting kept whole', containerEvent('health_status: starting'), shown('health_status: starting')],
    ['health_status with anything else is cut', containerEvent(`health_status: ${CANARY}`), shown('health_status')],
    [
      'die with exitCode',
      containerEvent('die', { ...agentAttributes, exitCode: '137' }),
      shown('die', { ...shownAttributes, exitCode: '137' }),
    ],
    ['kill: the signal dropped', containerEvent('kill', { ...agentAttributes, signal: '15' }), shown('kill')],
    ['start', containerEvent('start'), shown('start')],
    [
      'unknown extra fields dropped',
      containerEvent(
        'stop',
        { ...agentAttributes, futureAttribute: CANARY },
        { futureField: CANARY, Actor: { ID: AGENT_ID, Attributes: agentAttributes, Extra: CANARY } },
      ),
      shown('stop'),
    ],
    [
      'fields of the wrong type dropped',
      containerEvent(
        'stop',
        { ...agentAttributes, name: { nested: CANARY } as unknown as string },
        { id: { x: CANARY }, time: `${CANARY}` },
      ),
      (() => {
        const out: Record<string, unknown> = shown('stop', {
          image: 'copilot-bridge-stack:test',
          [PROJECT_LABEL]: PROJECT,
          [AGENT_LABEL]: 'lal',
        });
        delete out.id;
        delete out.time;
        return out;
      })(),
    ],
    [
      "another project's agent",
      containerEvent(`exec_create: ${CANARY}`, { ...agentAttributes, [PROJECT_LABEL]: 'other' }),
      undefined,
    ],
    [
      'a project-labelled container that is not an agent',
      containerEvent('die', { [PROJECT_LABEL]: PROJECT, name: 'cbs-postgres-1' }),
      undefined,
    ],
    ['an empty agent label', containerEvent('die', { ...agentAttributes, [AGENT_LABEL]: '' }), undefined],
    ['an unlabelled container', containerEvent(`exec_start: ${CANARY}`, { name: 'mysql', image: 'mysql' }), undefined],
    [
      'a network event',
      {
        Type: 'network',
        Action: 'connect',
        Actor: { ID: 'n', Attributes: { container: OTHER_ID, name: 'bridge', type: 'bridge' } },
        scope: 'local',
        time: 1,
        timeNano: 1,
      },
      undefined,
    ],
    [
      'an image event',
      {
        status: 'pull',
        id: 'alpine',
        Type: 'image',
        Action: 'pull',
        Actor: { ID: 'alpine', Attributes: { ...agentAttributes } },
        scope: 'local',
        time: 1,
      },
      undefined,
    ],
    [
      'a volume event',
      {
        Type: 'volume',
        Action: 'mount',
        Actor: { ID: 'v', Attributes: { ...agentAttributes, destination: '/x', container: OTHER_ID } },
        scope: 'local',
        time: 1,
      },
      undefined,
    ],
    [
      'a daemon event',
      {
        Type: 'daemon',
        Action: 'reload',
        Actor: { ID: 'd', Attributes: { name: 'host', 'registry-mirrors': CANARY } },
        scope: 'local',
        time: 1,
      },
      undefined,
    ],
    ['a legacy event without Type', { status: `exec_create: ${CANARY}`, id: AGENT_ID, from: 'x', time: 1 }, undefined],
    [
      'a container event without Actor',
      { status: 'die', id: AGENT_ID, Type: 'container', Action: 'die', time: 1 },
      undefined,
    ],
    ['Actor without Attributes', { Type: 'container', Action: 'die', Actor: { ID: AGENT_ID } }, undefined],
    [
      'Attributes as an array',
      { Type: 'container', Action: 'die', Actor: { ID: AGENT_ID, Attributes: [PROJECT, 'lal'] } },
      undefined,
    ],
    ['not an object', 'die', undefined],
    ['null', null, undefined],
  ];
  t.ok(table.length >= 25, `${table.length} events in the table`);
  for (const [name, event, expected] of table) {
    const out = visibleEvent(PROJECT, event);
    t.same(out, expected, name);
    t.notMatch(JSON.stringify(out ?? null), CANARY, `${name}: no canary`);
    t.notMatch(
      JSON.stringify(out ?? null),
      /execID|secret\.label|compose\.service|signal/,
      `${name}: no execID, other labels or signal`,
    );
  }
  const out = visibleEvent(PROJECT, containerEvent('die'))!;
  t.same(
    Object.keys(out),
    ['Type', 'Action', 'status', 'id', 'from', 'scope', 'time', 'timeNano', 'Actor'],
    'only the allowed fields, nothing else',
  );
});

t.test("the daemon's stream, split into lines; an overlong line dropped whole", async (t) => {
  const lines = new EventLines(16);
  const text = (buffers: Buffer[]) => buffers.map((b) => b.toString());
  t.same(text(lines.push(Buffer.from('{"a":1}\n{"b":'))), ['{"a":1}'], 'a complete line, the rest kept');
  t.same(text(lines.push(Buffer.from('2}\n'))), ['{"b":2}'], 'a line split over two chunks');
  t.same(text(lines.push(Buffer.from('x'.repeat(10)))), []);
  t.same(text(lines.push(Buffer.from('y'.repeat(10)))), [], 'over the limit: forgotten');
  t.same(text(lines.push(Buffer.from('zzz\n{"c":3}\n'))), ['{"c":3}'], 'skipped to the next newline');
  t.same(
    text(lines.push(Buffer.from(`${'q'.repeat(20)}\n{"d":4}\n`))),
    ['{"d":4}'],
    'an overlong line within one chunk',
  );
  t.same(text(lines.push(Buffer.from('é'))).length, 0);
  t.same(text(lines.push(Buffer.from('\n'))), ['é'], 'multi-byte characters kept whole');
});

t.test('the route and its filters, as a hostile client would try them: each refusal and its message', async (t) => {
  const refusal = async (url: string, body?: string) => {
    try {
      await review(routes, {
        method: 'GET',
        target: parseTarget(url),
        body: body === undefined ? undefined : Buffer.from(body),
      });
      return undefined;
    } catch (error) {
      return error instanceof Refusal ? { rule: error.rule, message: error.message } : error;
    }
  };
  for (const url of ['/eventsx', '/x/events', '/events/x', '/v1.41/events/json']) {
    const path = parseTarget(url).path;
    t.same(await refusal(url), { rule: 'default-deny', message: `GET ${path} is not an allowed Docker API call` }, url);
  }
  t.same(await refusal('/events', '{}'), { rule: 'events-body', message: 'events takes no request body' });
  const filters = (json: string) => `/events?filters=${encodeURIComponent(json)}`;
  const notAList = (key: string) => ({
    rule: 'events-filter',
    message: `filters.${key} must be a list of strings (or a map of strings to true)`,
  });
  t.same(await refusal(filters('{"event":["die",1]}')), notAList('event'), 'a list with one non-string');
  t.same(await refusal(filters('{"label":["x",null]}')), notAList('label'), 'a list ending in null');
  t.same(await refusal(filters('{"container":{"a":true,"b":false}}')), notAList('container'), 'a map with one false');
  t.same(await refusal(filters('{"label":{"a":true,"b":"true"}}')), notAList('label'), 'a map with one string');
  t.same(await refusal(filters('{"type":"container"}')), notAList('type'), 'a bare string');
  for (const key of ['image', 'network', 'daemon', 'scope', 'plugin', 'node', 'until']) {
    t.same(
      await refusal(filters(`{"${key}":["x"]}`)),
      {
        rule: 'events-filter',
        message: `filters has a field the policy does not know: '${key}'; only type, event, container and label`,
      },
      `${key}: would widen or name what agents do not need`,
    );
  }
  t.same(await refusal(filters('["type"]')), { rule: 'body-shape', message: 'filters must be a JSON object' });
  t.same(
    forwarded((await ask(filters('{"container":{"cbs-agent-lal":true},"label":[]}'))).verdict).filters,
    { container: ['cbs-agent-lal'], label: FORCED, type: ['container'] },
    "the CLI's map of names to true becomes a list; an empty label list still gets the forced labels",
  );
});

t.test(
  'what the client receives of an event: nothing smuggled through odd types or a crafted command line',
  async (t) => {
    /** The JSON line the guard writes for the event, read back as the client reads it. */
    const received = (event: unknown) => {
      const out = visibleEvent(PROJECT, event);
      return out === undefined ? undefined : JSON.parse(JSON.stringify(out));
    };
    // An exec's command line is the client's choice: it can end with, or start with, what a health event says.
    for (const [action, kept] of [
      [`exec_start: sh -c 'echo ${CANARY}' health_status: healthy`, 'exec_start'],
      [`exec_create: health_status: unhealthy`, 'exec_create'],
      [`health_status: healthy ${CANARY}`, 'health_status'],
      [`health_status: starting; echo ${CANARY}`, 'health_status'],
      [`health_status: healthy\n${CANARY}`, 'health_status'],
      [' health_status: healthy', ' health_status'],
      ['health_status:  healthy', 'health_status'],
      ['health_status: Healthy', 'health_status'],
    ] as const) {
      t.same(received(containerEvent(action)), shown(kept), JSON.stringify(action));
    }
    // Action and status of any other type than a string: left out, never passed on as they are.
    for (const odd of [42, true, null, { cmd: CANARY }, [`exec_create: ${CANARY}`], ['health_status: healthy']]) {
      const out = received(containerEvent('die', agentAttributes, { Action: odd, status: odd }));
      const { Action: _a, status: _s, ...rest } = shown('die');
      t.same(out, rest, `Action and status ${JSON.stringify(odd)}: left out`);
    }
    t.same(
      received(containerEvent('die', agentAttributes, { Action: 'die', status: undefined })),
      (({ status: _s, ...rest }) => rest)(shown('die')),
      'no status: none made up',
    );
    // The agent label must be a non-empty string; the project label exactly this project.
    for (const label of [5, true, { lal: CANARY }, ['lal'], null]) {
      const attributes = { ...agentAttributes, [AGENT_LABEL]: label } as unknown as Record<string, string>;
      t.equal(received(containerEvent('die', attributes)), undefined, `an agent label ${JSON.stringify(label)}`);
    }
    for (const project of [['cbs'], 'CBS', 'cbs ', `${PROJECT}x`, null]) {
      const attributes = { ...agentAttributes, [PROJECT_LABEL]: project } as unknown as Record<string, string>;
      t.equal(received(containerEvent('die', attributes)), undefined, `a project label ${JSON.stringify(project)}`);
    }
    // The actor's ID: a string, or left out; the attributes stay.
    for (const id of [{ x: CANARY }, 7, [CANARY], null, undefined]) {
      const out = received(containerEvent('die', agentAttributes, { Actor: { ID: id, Attributes: agentAttributes } }));
      t.same(
        out,
        { ...shown('die'), Actor: { Attributes: shownAttributes } },
        `Actor.ID ${JSON.stringify(id)}: left out`,
      );
    }
    for (const actor of [
      null,
      'x',
      7,
      [agentAttributes],
      { ID: AGENT_ID, Attributes: null },
      { ID: AGENT_ID, Attributes: 'cbs' },
    ]) {
      t.equal(
        received(containerEvent('die', agentAttributes, { Actor: actor })),
        undefined,
        `Actor ${JSON.stringify(actor)}`,
      );
    }
    for (const event of [
      7,
      'container',
      ['container'],
      true,
      { type: 'container', Actor: { Attributes: agentAttributes } },
    ]) {
      t.equal(received(event), undefined, `an event ${JSON.stringify(event)}`);
    }
  },
);

t.test('the line limit is exact, however the daemon splits its writes', async (t) => {
  const split = (limit: number, chunks: string[]) => {
    const lines = new EventLines(limit);
    return chunks.flatMap((chunk) => lines.push(Buffer.from(chunk)).map((b) => b.toString()));
  };
  const at = 'a'.repeat(16);
  const over = 'b'.repeat(17);
  t.same(split(16, [`${at}\n`]), [at], 'exactly the limit, in one chunk: kept');
  t.same(split(16, [`${over}\n`]), [], 'one over, in one chunk: dropped');
  t.same(split(16, [at, '\n']), [at], 'the limit, then its newline alone: kept');
  t.same(split(16, [over, '\n', 'x\n']), ['x'], 'one over, then its newline alone: dropped, the next line kept');
  t.same(split(16, [at.slice(0, 10), `${at.slice(10)}\n`]), [at], 'the limit in two pieces: kept');
  t.same(split(16, [over.slice(0, 10), `${over.slice(10)}\n`, 'y\n']), ['y'], 'one over in two pieces: dropped');
  t.same(split(16, ['c'.repeat(8), 'c'.repeat(8), 'c\n', 'z\n']), ['z'], 'one over in three pieces: dropped');
  t.same(
    split(16, [`${'d'.repeat(10)}\n${'e'.repeat(10)}`, `${'e'.repeat(6)}\n`]),
    ['d'.repeat(10), 'e'.repeat(16)],
    'a line the limit long, begun after another in the same chunk',
  );
  t.same(split(16, [over, over, `${over}\n${at}\n`]), [at], 'a long run of one overlong line, then one at the limit');
  t.same(split(16, ['\n\n']), ['', ''], 'empty lines are lines (the caller skips what is not JSON)');
  t.same(split(0, ['\nx\n']), [''], 'a limit of 0 keeps only empty lines');
  t.same(
    split(64 * 1024, ['f'.repeat(64 * 1024), '\n', 'g'.repeat(64 * 1024 + 1), '\n']),
    ['f'.repeat(64 * 1024)],
    'the given limit',
  );
  const standard = new EventLines();
  t.same(
    [
      ...standard.push(Buffer.from(`${'h'.repeat(64 * 1024)}\n`)),
      ...standard.push(Buffer.from(`${'i'.repeat(64 * 1024 + 1)}\n`)),
    ].map((b) => b.length),
    [64 * 1024],
    'by default, 64 KiB: longer than any real event',
  );
});

interface FakeDaemon {
  socketPath: string;
  /** What the guard asked for, in order. */
  asked: string[];
  /** The response of the open events request, for the test to write to. */
  next: () => Promise<ServerResponse>;
  closed: () => number;
}

/** A fake Docker daemon on a Unix socket (the real one is in events-engine.test.ts): each /events request is handed to the test. */
async function fakeDaemon(
  t: Test,
  dir: string,
  onRequest?: (url: string, response: ServerResponse) => boolean,
): Promise<FakeDaemon> {
  const socketPath = join(dir, 'docker.sock');
  const asked: string[] = [];
  const waiting: Array<(response: ServerResponse) => void> = [];
  const pending: ServerResponse[] = [];
  let closed = 0;
  const server = createHttpServer((request, response) => {
    asked.push(request.url ?? '');
    request.socket.on('close', () => closed++);
    if (onRequest?.(request.url ?? '', response)) return;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.flushHeaders();
    const waiter = waiting.shift();
    if (waiter) waiter(response);
    else pending.push(response);
  });
  await new Promise<void>((done) => server.listen(socketPath, done));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return {
    socketPath,
    asked,
    next: () => new Promise((done) => (pending.length ? done(pending.shift()!) : waiting.push(done))),
    closed: () => closed,
  };
}

/** A guard in this process, with the events route of PROJECT, on a free port. */
async function guardOn(t: Test, socketPath: string) {
  const settings = readGuardSettings({ GUARD_LISTEN: '127.0.0.1:1', GUARD_DOCKER_SOCKET: socketPath });
  const log: string[] = [];
  const server = createGuard(settings, routes, (line) => log.push(line));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { port: (server.address() as AddressInfo).port, log };
}

/** A raw client: what arrived so far, whether the guard closed, and a way to wait for text. */
function client(port: number, request: string) {
  const socket = connect(port, '127.0.0.1');
  const state = { text: '', closed: false, socket };
  const waiters: Array<() => void> = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  socket.on('data', (chunk) => ((state.text += chunk.toString('utf8')), wake()));
  socket.on('close', () => ((state.closed = true), wake()));
  socket.on('error', () => undefined);
  socket.write(request);
  const until = (what: string, ready: () => boolean, ms = 5000) =>
    new Promise<void>((done, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`timed out waiting for ${what}; got ${JSON.stringify(state.text.slice(-300))}`)),
        ms,
      );
      const check = () => (ready() ? (clearTimeout(timer), done()) : waiters.push(check));
      check();
    });
  return { state, until };
}

const EVENTS_REQUEST = 'GET /events?since=1 HTTP/1.1\r\nHost: guard\r\nUser-Agent: events-test\r\n\r\n';

t.test(
  'the guard answers with a chunked stream: one event per chunk, at once, ended when the daemon ends',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cbs-events-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const daemon = await fakeDaemon(t, dir);
    const { port } = await guardOn(t, daemon.socketPath);
    const { state, until } = client(port, EVENTS_REQUEST + 'GET /_ping HTTP/1.1\r\nHost: guard\r\n\r\n');
    const response = await daemon.next();
    await until('the head', () => state.text.includes('\r\n\r\n'));
    t.equal(
      state.text,
      'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
      'the head, sent before any event',
    );
    t.match(daemon.asked[0], /^\/events\?since=1&filters=/, 'the daemon is asked with the forced filters');
    t.same(JSON.parse(new URLSearchParams(daemon.asked[0]!.split('?')[1]).get('filters')!), {
      type: ['container'],
      label: FORCED,
    });

    const head = state.text.length;
    response.write(`${JSON.stringify(containerEvent(`exec_create: ${CANARY}`))}\n`);
    await until('the first event', () => state.text.endsWith('\r\n') && state.text.length > head);
    const line = `${JSON.stringify(shown('exec_create'))}\n`;
    t.equal(
      state.text.slice(head),
      `${Buffer.byteLength(line).toString(16)}\r\n${line}\r\n`,
      "one event, one chunk, while the daemon's stream is still open",
    );

    // An event of another project, a line too long to be an event, garbage, an event split over writes.
    const before = state.text.length;
    response.write(`${JSON.stringify(containerEvent('die', { ...agentAttributes, [PROJECT_LABEL]: 'other' }))}\n`);
    response.write(`{"Type":"container","pad":"${'x'.repeat(70 * 1024)}"}\n`);
    response.write('not json\n');
    const die = JSON.stringify(containerEvent('die', { ...agentAttributes, exitCode: '0' }));
    response.write(die.slice(0, 100));
    await new Promise((r) => setTimeout(r, 100));
    t.equal(
      state.text.length,
      before,
      "nothing of the other project's event, the overlong line, the garbage or half an event",
    );
    response.write(`${die.slice(100)}\n`);
    await until('the die event', () => state.text.includes('"die"') && state.text.endsWith('\r\n'));
    response.end();
    await until('the end of the stream', () => state.closed);
    t.ok(state.text.endsWith('\r\n0\r\n\r\n'), 'the terminating chunk, then the connection closes');
    t.notMatch(state.text, CANARY, 'no canary');
    t.notMatch(state.text, /HTTP\/1\.1[\s\S]*HTTP\/1\.1/, 'the request pipelined behind the stream is never answered');
    t.equal(daemon.asked.length, 1, 'and never reaches the daemon');
  },
);

t.test('a client that goes away ends the daemon request', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cbs-events-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const daemon = await fakeDaemon(t, dir);
  const { port } = await guardOn(t, daemon.socketPath);
  const { state, until } = client(port, EVENTS_REQUEST);
  await daemon.next();
  await until('the head', () => state.text.includes('\r\n\r\n'));
  t.equal(daemon.closed(), 0, 'the daemon connection is open while the client listens');
  state.socket.destroy();
  const deadline = Date.now() + 5000;
  while (daemon.closed() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(daemon.closed(), 1, 'the daemon connection is closed once the client has gone');
});

t.test('daemon errors: before the head a 502, a refusal passed on with its status and message', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cbs-events-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const nowhere = await guardOn(t, join(dir, 'absent.sock'));
  const lost = client(nowhere.port, EVENTS_REQUEST);
  await lost.until('the answer', () => lost.state.closed);
  t.match(
    lost.state.text,
    /^HTTP\/1\.1 502 Bad Gateway\r\n[\s\S]*content-type: application\/json[\s\S]*\r\n\r\n\{"message":"docker-socket-guard: the Docker daemon did not answer \(ENOENT\)"\}$/,
  );
  t.match(nowhere.log.join('\n'), /the Docker daemon did not answer \(ENOENT\)/, 'and a log line');

  const daemon = await fakeDaemon(t, dir, (url, response) => {
    const status = url.includes('since=bad') ? 400 : 500;
    response.writeHead(status, { 'content-type': status === 400 ? 'application/json' : 'text/plain' });
    response.end(
      status === 400 ? JSON.stringify({ message: 'invalid value for since', extra: CANARY }) : `oops ${CANARY}`,
    );
    return true;
  });
  const { port } = await guardOn(t, daemon.socketPath);
  const bad = client(port, 'GET /events?since=bad HTTP/1.1\r\nHost: guard\r\n\r\n');
  await bad.until('the answer', () => bad.state.closed);
  t.match(
    bad.state.text,
    /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*\r\n\r\n\{"message":"invalid value for since"\}$/,
    "the daemon's status and message, nothing else",
  );
  const broken = client(port, 'GET /events HTTP/1.1\r\nHost: guard\r\n\r\n');
  await broken.until('the answer', () => broken.state.closed);
  t.match(
    broken.state.text,
    /^HTTP\/1\.1 500 Internal Server Error\r\n[\s\S]*\r\n\r\n\{"message":"the Docker daemon answered 500"\}$/,
    'not JSON: the status alone',
  );
  t.notMatch(bad.state.text + broken.state.text, CANARY);
});

t.test('a daemon that dies mid-stream: the client sees no clean end', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cbs-events-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const daemon = await fakeDaemon(t, dir);
  const { port } = await guardOn(t, daemon.socketPath);
  const { state, until } = client(port, EVENTS_REQUEST);
  const response = await daemon.next();
  response.write(`${JSON.stringify(containerEvent('start'))}\n`);
  await until('the first event', () => state.text.includes('"start"'));
  response.socket!.destroy();
  await until('the close', () => state.closed);
  t.notOk(state.text.endsWith('0\r\n\r\n'), 'no terminating chunk: the stream was cut, not ended');
});
