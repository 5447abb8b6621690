// The agent routes' container checks, against a fake daemon (the Upstream the
// guard asks "is this an agent container?"): an absent container in the
// agents' namespace gets Docker's 404 (so `agent up` and `agent down` can
// tell absent from refused: `agent up` of a new agent failed with
// not-an-agent before), any other name or id is refused whether it exists or
// not, and an agent is acted on by its full id. Against a real engine:
// test/e2e/agents.e2e.ts.
import t from 'tap';
import { agentRoutes, type Upstream } from '../../socket-guard/policy/agent-routes.js';
import type { AgentPolicy } from '../../socket-guard/policy/create-policy.js';
import { review } from '../../socket-guard/policy/policy.js';
import { Refusal } from '../../socket-guard/policy/refusal.js';
import { parseTarget } from '../../socket-guard/policy/request-path.js';
import { readAgentsFile } from '../../src/agents/agents-file.js';
import { agentContainer } from '../../src/agents/container-spec.js';
import { AGENT_LABEL, PROJECT_LABEL } from '../../src/contract.js';
import { agentPolicy } from '../support/agent-stack.js';

const policy: AgentPolicy = agentPolicy(t);
const LAL_ID = 'a'.repeat(64);
const OTHER_ID = 'b'.repeat(64);

/** A fake daemon with one agent (cbs-agent-lal), one container of another project's agent and one ordinary container. */
function daemon(): { upstream: Upstream; asked: string[] } {
  const containers = [
    { Id: LAL_ID, Name: '/cbs-agent-lal', Config: { Labels: { [AGENT_LABEL]: 'lal', [PROJECT_LABEL]: 'cbs' } } },
    {
      Id: 'c'.repeat(64),
      Name: '/other-agent-lal',
      Config: { Labels: { [AGENT_LABEL]: 'lal', [PROJECT_LABEL]: 'other' } },
    },
    { Id: OTHER_ID, Name: '/cbs-postgres-1', Config: { Labels: { 'com.docker.compose.project': 'cbs' } } },
  ];
  const volumes: Record<string, Record<string, string>> = {
    'cbs-agent-lal-home': { [PROJECT_LABEL]: 'cbs' },
    'cbs-agent-x-agent-y-home': { [PROJECT_LABEL]: 'cbs-agent-x' },
  };
  const asked: string[] = [];
  const upstream: Upstream = async (path) => {
    asked.push(path);
    const volume = /^\/volumes\/([^/]+)$/.exec(path)?.[1];
    if (volume !== undefined)
      return volumes[volume]
        ? { status: 200, json: { Name: volume, Labels: volumes[volume] } }
        : { status: 404, json: { message: 'no such volume' } };
    // The daemon's container list with label filters, as Docker applies them: every label filter must match.
    const listed = /^\/containers\/json\?all=1&filters=(.*)$/.exec(path);
    if (!listed) return { status: 500, json: { message: `the fake daemon was asked ${path}` } };
    const labels = (JSON.parse(decodeURIComponent(listed[1]!)) as { label: string[] }).label;
    const matches = containers.filter((c) =>
      labels.every((l) => {
        const [key, value] = l.split('=');
        return value === undefined
          ? key! in c.Config.Labels
          : (c.Config.Labels as unknown as Record<string, string>)[key!] === value;
      }),
    );
    return { status: 200, json: matches.map((c) => ({ Id: c.Id, Names: [c.Name], Labels: c.Config.Labels })) };
  };
  return { upstream, asked };
}

const ask = async (method: string, url: string) => {
  const { upstream, asked } = daemon();
  try {
    return {
      verdict: await review(agentRoutes(policy, upstream), { method, target: parseTarget(url), body: undefined }),
      asked,
    };
  } catch (error) {
    if (error instanceof Refusal) return { refused: error.rule, asked };
    throw error;
  }
};

t.test("an absent container in the agents' namespace gets a 404, for every container action", async (t) => {
  for (const [method, url] of [
    ['GET', '/v1.41/containers/cbs-agent-data/json'],
    ['POST', '/containers/cbs-agent-data/stop?t=10'],
    ['DELETE', '/containers/cbs-agent-data?force=true'],
    ['GET', '/containers/cbs-agent-data/logs?stdout=1'],
  ] as const) {
    const { verdict, asked } = await ask(method, url);
    t.same(
      verdict,
      { reply: { status: 404, json: { message: 'No such container: cbs-agent-data' } } },
      `${method} ${url}: 404`,
    );
    t.same(
      asked,
      [
        `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: [`${PROJECT_LABEL}=cbs`, AGENT_LABEL] }))}`,
      ],
      "the daemon was asked only for this project's agents, never about the name itself",
    );
  }
});

t.test('any other name or id is refused, whether it exists or not', async (t) => {
  const cases: Array<[string, string]> = [
    ['GET', '/containers/cbs-postgres-1/json'],
    ['GET', `/containers/${OTHER_ID}/json`],
    ['POST', '/containers/cbs-postgres-1/stop'],
    ['GET', '/containers/nothing-here/json'],
    ['GET', `/containers/${'d'.repeat(64)}/json`],
    ['GET', '/containers/other-agent-lal/json'],
    ['GET', '/containers/cbs-agent-Bad_Name/json'],
  ];
  for (const [method, url] of cases) {
    const { refused, asked } = await ask(method, url);
    t.equal(refused, 'not-an-agent', `${method} ${url}: not-an-agent`);
    t.notOk(
      asked.some((path) => path.includes('postgres') || path.includes(OTHER_ID) || path.includes('nothing-here')),
      'the daemon was never asked about that name or id: nothing to time',
    );
  }
});

t.test('a create is forwarded without a version prefix: the daemon reads the body by its current rules', async (t) => {
  const { upstream } = daemon();
  const body = Buffer.from(JSON.stringify(agentContainer(policy.stack, readAgentsFile(policy.agentsFile)[0]!).body));
  const verdict = await review(agentRoutes(policy, upstream), {
    method: 'POST',
    target: parseTarget('/v1.41/containers/create?name=cbs-agent-lal'),
    body,
  });
  t.match(verdict, { method: 'POST', path: '/containers/create?name=cbs-agent-lal' });
});

t.test(
  "a create is refused until the agent's home volume exists as this project's: the daemon would make it unlabelled",
  async (t) => {
    const { upstream } = daemon();
    const data = readAgentsFile(policy.agentsFile).find((agent) => agent.name === 'data')!;
    const body = Buffer.from(JSON.stringify(agentContainer(policy.stack, data).body));
    const refused = await review(agentRoutes(policy, upstream), {
      method: 'POST',
      target: parseTarget('/containers/create?name=cbs-agent-data'),
      body,
    }).catch((error: unknown) => error);
    t.ok(refused instanceof Refusal, 'refused');
    t.match(refused, {
      rule: 'volume-missing',
      message: /create the volume cbs-agent-data-home first \(agent up does\)/,
    });
  },
);

t.test('an agent is acted on by its full id', async (t) => {
  t.match(
    await ask('GET', '/v1.41/containers/cbs-agent-lal/json'),
    { verdict: { method: 'GET', path: `/v1.41/containers/${LAL_ID}/json` } },
    'inspect by name goes to the full id',
  );
  t.match(
    await ask('POST', '/containers/cbs-agent-lal/stop?t=10'),
    { verdict: { method: 'POST', path: `/containers/${LAL_ID}/stop?t=10` } },
    'stop keeps its query',
  );
  t.match(
    await ask('DELETE', `/containers/${LAL_ID.slice(0, 12)}?force=true`),
    { verdict: { method: 'DELETE', path: `/containers/${LAL_ID}?force=true` } },
    'a short id too',
  );
});

t.test('an API version older than v1.40 is refused: the daemon would read a body by older rules', async (t) => {
  for (const url of [
    '/v1.24/containers/create?name=cbs-agent-lal',
    '/v1.39/_ping',
    '/v0.99/version',
    '/v1.12/containers/json',
  ]) {
    const method = url.includes('create') ? 'POST' : 'GET';
    t.match(await ask(method, url), { refused: 'api-version' }, url);
  }
  t.match(await ask('GET', '/v1.40/_ping'), { verdict: { path: '/v1.40/_ping' } }, 'v1.40 passes');
  t.match(await ask('GET', '/v1.41/_ping'), { verdict: { path: '/v1.41/_ping' } }, 'v1.41 passes');
  t.match(await ask('GET', '/_ping'), { verdict: { path: '/_ping' } }, 'no prefix passes');
});

t.test('a query parameter given twice is refused: the daemon and the policy could each take another one', async (t) => {
  t.match(await ask('POST', '/containers/create?name=cbs-agent-lal&name=cbs-agent-data'), {
    refused: 'query-repeated',
  });
  t.match(await ask('GET', '/events?filters=%7B%7D&filters=%7B%22type%22%3A%5B%22network%22%5D%7D'), {
    refused: 'query-repeated',
  });
  t.match(await ask('POST', '/containers/cbs-agent-lal/stop?t=1&t=2'), { refused: 'query-repeated' });
});

t.test("a volume is acted on only when its label says it is this project's agent home", async (t) => {
  t.match(
    await ask('DELETE', '/volumes/cbs-agent-lal-home'),
    { verdict: { method: 'DELETE', path: '/volumes/cbs-agent-lal-home' } },
    "lal's home: forwarded",
  );
  t.match(await ask('GET', '/volumes/cbs-agent-lal-home'), { verdict: { method: 'GET' } }, 'inspect too');
  t.match(
    await ask('DELETE', '/volumes/cbs-agent-x-agent-y-home'),
    { refused: 'not-an-agent' },
    'a name that fits, but the home of project cbs-agent-x',
  );
  t.match(
    await ask('DELETE', '/volumes/cbs-agent-data-home'),
    { verdict: { reply: { status: 404 } } },
    "an absent one gets Docker's 404",
  );
  t.match(
    await ask('DELETE', '/volumes/cbs_bridge-home'),
    { refused: 'volume-name' },
    "the stack's own volumes are never reached",
  );
});

t.test("a raw container list: whatever its filters, the daemon is asked for this project's agents only", async (t) => {
  const forced = [`${PROJECT_LABEL}=cbs`, AGENT_LABEL];
  const cases: Array<[string, unknown, string[]]> = [
    ['no filters', undefined, forced],
    ['empty filters', {}, forced],
    ['another project', { label: [`${PROJECT_LABEL}=other`] }, [`${PROJECT_LABEL}=other`, ...forced]],
    ['compose services', { label: ['com.docker.compose.project=cbs'] }, ['com.docker.compose.project=cbs', ...forced]],
    ['labels as a map (dropped)', { label: { 'com.docker.compose.service=postgres': true } }, forced],
    ['by name', { name: ['postgres'] }, forced],
  ];
  for (const [label, filters, labels] of cases) {
    for (const prefix of ['', '/v1.41']) {
      const query = filters === undefined ? '?all=1' : `?all=1&filters=${encodeURIComponent(JSON.stringify(filters))}`;
      const { verdict } = await ask('GET', `${prefix}/containers/json${query}`);
      const forward = verdict as { method?: string; path?: string } | undefined;
      t.equal(forward?.method, 'GET', `${label}${prefix}: forwarded`);
      const url = new URL(`http://x${forward?.path ?? ''}`);
      t.equal(url.pathname, `${prefix}/containers/json`, `${label}${prefix}: the same list`);
      t.equal(url.searchParams.get('all'), '1', `${label}${prefix}: all kept`);
      const sent = JSON.parse(url.searchParams.get('filters') ?? '{}');
      t.same(sent.label, labels, `${label}${prefix}: the project's agent labels appended (Docker ANDs them)`);
      if (label === 'by name') t.same(sent.name, ['postgres'], `${label}${prefix}: other filters kept`);
    }
  }
  t.equal((await ask('GET', '/containers/json?filters=%7B%22label%22%3A1')).refused, 'json-syntax', 'bad JSON');
  t.match((await ask('GET', '/containers/json?size=1')).refused ?? '', /./, 'a parameter outside the list');
});

/** One request against a daemon set up for it: its container list, volumes, and the status of each. */
async function against(
  method: string,
  url: string,
  daemonSays: {
    containers?: unknown;
    listStatus?: number;
    volumes?: Record<string, { status: number; json: unknown }>;
    body?: string;
  } = {},
) {
  const asked: string[] = [];
  const upstream: Upstream = async (path) => {
    asked.push(path);
    if (path.startsWith('/containers/json'))
      return { status: daemonSays.listStatus ?? 200, json: daemonSays.containers ?? [] };
    const volume = /^\/volumes\/(.+)$/.exec(path)?.[1] ?? '';
    return daemonSays.volumes?.[volume] ?? { status: 404, json: { message: 'no such volume' } };
  };
  const body = daemonSays.body === undefined ? undefined : Buffer.from(daemonSays.body);
  try {
    return { verdict: await review(agentRoutes(policy, upstream), { method, target: parseTarget(url), body }), asked };
  } catch (error) {
    if (error instanceof Refusal) return { refused: error.rule, message: error.message, asked };
    throw error;
  }
}

const lal = { Id: 'ab12'.repeat(16), Names: ['/cbs-agent-lal'] };
const data = { Id: 'ab13'.repeat(16), Names: ['/cbs-agent-data'] };

t.test('the route table: each path whole, each method its own, each query key listed', async (t) => {
  const refusedPaths = [
    ['GET', '/containers/json/extra'],
    ['GET', '/x/containers/json'],
    ['POST', '/containers/createx'],
    ['POST', '/x/containers/create'],
    ['POST', '/volumes/createx'],
    ['POST', '/x/volumes/create'],
    ['GET', '/volumes/cbs-agent-lal-home/x'],
    ['GET', `/containers/${lal.Id}/json/x`],
    ['POST', `/containers/${lal.Id}/startx`],
    ['GET', `/x/containers/${lal.Id}/json`],
    ['GET', '/containers/-lal/json'],
    ['GET', '/containers/.lal/json'],
    ['GET', '/volumes/-x'],
  ] as const;
  for (const [method, url] of refusedPaths) {
    const { refused } = await against(method, url, { containers: [lal] });
    t.equal(refused, 'default-deny', `${method} ${url}: no route`);
  }
  const wrongMethods = [
    ['POST', '/containers/json'],
    ['GET', '/containers/create'],
    ['DELETE', `/containers/${lal.Id}/json`],
    ['GET', `/containers/${lal.Id}/start`],
    ['PUT', `/containers/${lal.Id}`],
    ['POST', '/volumes/cbs-agent-lal-home'],
  ] as const;
  t.equal((await against('GET', '/volumes/create')).refused, 'volume-name', 'GET /volumes/create: no such volume name');
  for (const [method, url] of wrongMethods) {
    t.equal((await against(method, url, { containers: [lal] })).refused, 'default-deny', `${method} ${url}: refused`);
  }
  const routes: Array<[string, string, string, string[]]> = [
    ['GET', '/containers/json', 'container-list', ['all', 'filters', 'limit']],
    ['GET', '/containers/cbs-agent-lal/json', 'container-inspect', []],
    ['POST', '/containers/cbs-agent-lal/start', 'container-start', []],
    ['POST', '/containers/cbs-agent-lal/stop', 'container-stop', ['t']],
    ['POST', '/containers/cbs-agent-lal/restart', 'container-restart', ['t']],
    ['POST', '/containers/cbs-agent-lal/wait', 'container-wait', ['condition']],
    [
      'GET',
      '/containers/cbs-agent-lal/logs',
      'container-logs',
      ['stdout', 'stderr', 'follow', 'tail', 'timestamps', 'since'],
    ],
    ['DELETE', '/containers/cbs-agent-lal', 'container-remove', ['force', 'v']],
    ['POST', '/volumes/create', 'volume-create', []],
    ['GET', '/volumes/cbs-agent-lal-home', 'volume-inspect', []],
    ['DELETE', '/volumes/cbs-agent-lal-home', 'volume-remove', ['force']],
    ['POST', '/containers/create', 'container-create', ['name']],
  ];
  const volumes = { 'cbs-agent-lal-home': { status: 200, json: { Labels: { [PROJECT_LABEL]: 'cbs' } } } };
  for (const [method, url, name, keys] of routes) {
    for (const key of ['size', 'signal', 'x', 'all', 't', 'force', 'name'].filter((k) => !keys.includes(k))) {
      const { refused } = await against(method, `${url}?${key}=1`, { containers: [lal], volumes });
      t.equal(refused, `${name}-query`, `${name}: ${key} is not its parameter`);
    }
    for (const key of keys.filter((k) => k !== 'filters' && k !== 'name')) {
      const { refused } = await against(method, `${url}?${key}=1`, { containers: [lal], volumes });
      t.not(refused, `${name}-query`, `${name}: ${key} is`);
    }
  }
});

t.test('which container a word means, among the agents only, as Docker resolves it', async (t) => {
  const forward = async (word: string, containers: unknown[]) =>
    (await against('POST', `/v1.41/containers/${word}/start`, { containers })) as {
      verdict?: { path?: string; method?: string; body?: unknown; reply?: unknown };
      refused?: string;
      asked: string[];
    };
  t.same(
    (await forward(lal.Id, [lal, data])).verdict,
    { method: 'POST', path: `/v1.41/containers/${lal.Id}/start`, body: undefined },
    'full id',
  );
  t.same(
    (await forward('cbs-agent-lal', [lal, data])).verdict?.path,
    `/v1.41/containers/${lal.Id}/start`,
    'exact name, sent on by full id',
  );
  t.same(
    (await forward('ab12ab12', [lal, data])).verdict?.path,
    `/v1.41/containers/${lal.Id}/start`,
    'a unique id prefix',
  );
  t.equal((await forward('ab1', [lal, data])).refused, 'not-an-agent', 'an ambiguous prefix is no container');
  t.equal((await forward('AB12AB12', [lal, data])).refused, 'not-an-agent', 'prefixes are lower-case hex');
  t.equal((await forward(`${lal.Id}0`, [lal])).refused, 'not-an-agent', 'longer than an id: no prefix');
  t.equal((await forward('b12ab12', [lal])).refused, 'not-an-agent', 'only a prefix, not any part of the id');
  t.equal((await forward('12ab', [lal])).refused, 'not-an-agent', 'not a suffix either');
  t.equal((await forward('agent-lal', [lal])).refused, 'not-an-agent', 'a name is matched whole');
  t.equal(
    (await forward('cbs-agent-lal', [lal, { ...lal, Id: 'cd'.repeat(32) }])).refused,
    'not-an-agent',
    'two containers of one name: neither',
  );
  t.same(
    (await forward('cbs-agent-lal', [{ Id: lal.Id }])).verdict,
    { reply: { status: 404, json: { message: 'No such container: cbs-agent-lal' } } },
    'a container without names is not found by name',
  );
  t.equal(
    (await forward('cbs-agent-lal', [{ Names: ['/cbs-agent-lal'] }])).refused,
    'not-an-agent',
    'nor one without an id',
  );
  t.same(
    (await forward('cbs-agent-data', [lal])).verdict,
    { reply: { status: 404, json: { message: 'No such container: cbs-agent-data' } } },
    "an absent agent's name: Docker's 404",
  );
  t.equal((await forward('ab99', [lal])).refused, 'not-an-agent', 'an absent id: refused, never 404');
  const listedBy = (await forward(lal.Id, [lal])).asked;
  t.same(
    listedBy,
    [
      `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: [`${PROJECT_LABEL}=cbs`, AGENT_LABEL] }))}`,
    ],
    'asked once, for the labelled list',
  );
  for (const [status, containers] of [
    [500, []],
    [200, { message: 'not a list' }],
    [404, [lal]],
  ] as const) {
    const answer = await against('POST', `/containers/${lal.Id}/start`, { listStatus: status, containers });
    t.equal(
      answer.refused,
      'upstream',
      `a daemon answering ${status} ${JSON.stringify(containers).slice(0, 20)}: refused`,
    );
    t.equal(answer.message, `the Docker daemon did not list the agents (${status})`);
  }
  const withBody = await against('POST', '/containers/cbs-agent-lal/start', { containers: [lal], body: '{"x":1}' });
  t.equal(withBody.refused, 'container-start-body', 'an action with a body');
  t.equal(withBody.message, 'container-start takes no request body');
  const empty = await against('POST', '/containers/cbs-agent-lal/start', { containers: [lal], body: '' });
  t.same(
    empty.verdict,
    { method: 'POST', path: `/containers/${lal.Id}/start`, body: undefined },
    'an empty body is no body',
  );
});

t.test('the home volume: its name, its label, no body', async (t) => {
  const own = { status: 200, json: { Name: 'cbs-agent-lal-home', Labels: { [PROJECT_LABEL]: 'cbs' } } };
  for (const method of ['GET', 'DELETE'] as const) {
    const ok = await against(method, '/v1.41/volumes/cbs-agent-lal-home', { volumes: { 'cbs-agent-lal-home': own } });
    t.same(ok.verdict, { method, path: '/v1.41/volumes/cbs-agent-lal-home', body: undefined }, `${method}: forwarded`);
    t.same(ok.asked, ['/volumes/cbs-agent-lal-home'], `${method}: its label asked first`);
    const absent = await against(method, '/volumes/cbs-agent-lal-home');
    t.same(absent.verdict, { reply: { status: 404, json: { message: 'get cbs-agent-lal-home: no such volume' } } });
    for (const [label, answer] of [
      ['another project', { status: 200, json: { Labels: { [PROJECT_LABEL]: 'other' } } }],
      ['no labels', { status: 200, json: { Labels: null } }],
      ['no answer body', { status: 200, json: undefined }],
      ['a daemon error', { status: 500, json: { message: 'x' } }],
    ] as const) {
      const refused = await against(method, '/volumes/cbs-agent-lal-home', {
        volumes: { 'cbs-agent-lal-home': answer },
      });
      t.equal(refused.refused, 'not-an-agent', `${method}, ${label}: refused`);
      t.equal(refused.message, 'cbs-agent-lal-home is not an agent volume of cbs');
    }
    const named = await against(method, '/volumes/postgres-data', { volumes: { 'postgres-data': own } });
    t.equal(named.refused, 'volume-name', `${method}: another name`);
    t.equal(named.message, 'only cbs-agent-NAME-home volumes');
    t.same(named.asked, [], 'the daemon is not asked about it');
    const body = await against(method, '/volumes/cbs-agent-lal-home', {
      volumes: { 'cbs-agent-lal-home': own },
      body: 'x',
    });
    t.equal(body.refused, 'volume-body');
  }
});

t.test("a create waits for the home volume, this project's by its label", async (t) => {
  const body = JSON.stringify(agentContainer(policy.stack, readAgentsFile(policy.agentsFile)[0]!).body);
  for (const [label, answer] of [
    ['absent', undefined],
    ['another project', { status: 200, json: { Labels: { [PROJECT_LABEL]: 'other' } } }],
    ['no labels', { status: 200, json: { Labels: null } }],
    ['no answer body', { status: 200, json: undefined }],
    ['a daemon error with our label', { status: 500, json: { Labels: { [PROJECT_LABEL]: 'cbs' } } }],
  ] as const) {
    const refused = await against('POST', '/containers/create?name=cbs-agent-lal', {
      body,
      volumes: answer ? { 'cbs-agent-lal-home': answer } : {},
    });
    t.equal(refused.refused, 'volume-missing', `${label}: refused`);
    t.equal(refused.message, 'create the volume cbs-agent-lal-home first (agent up does)');
  }
  const passed = await against('POST', '/v1.41/containers/create?name=cbs-agent-lal', {
    body,
    volumes: { 'cbs-agent-lal-home': { status: 200, json: { Labels: { [PROJECT_LABEL]: 'cbs' } } } },
  });
  t.equal(
    (passed.verdict as { path: string }).path,
    '/containers/create?name=cbs-agent-lal',
    'forwarded without version',
  );
  t.equal((passed.verdict as { method: string }).method, 'POST');
  const none = await against('POST', '/containers/create?name=cbs-agent-lal');
  t.match(none.refused ?? '', /json/, 'a create without a body is refused');
});

t.test("the agents' allow list, exactly: each route's name, methods and query keys", async (t) => {
  t.same(
    agentRoutes(policy, daemon().upstream).map((route) => [route.name, route.methods, route.query]),
    [
      ['ping', ['GET', 'HEAD'], []],
      ['version', ['GET'], []],
      ['events', ['GET'], ['since', 'until', 'filters']],
      ['container-list', ['GET'], ['all', 'filters', 'limit']],
      ['container-create', ['POST'], ['name']],
      ['container-inspect', ['GET'], []],
      ['container-start', ['POST'], []],
      ['container-stop', ['POST'], ['t']],
      ['container-restart', ['POST'], ['t']],
      ['container-wait', ['POST'], ['condition']],
      ['container-logs', ['GET'], ['stdout', 'stderr', 'follow', 'tail', 'timestamps', 'since']],
      ['container-remove', ['DELETE'], ['force', 'v']],
      ['volume-create', ['POST'], []],
      ['volume-inspect', ['GET'], []],
      ['volume-remove', ['DELETE'], ['force']],
    ],
    'nothing more: no exec, attach, archive, export, update, images, networks or system',
  );
});

t.test('a word that is no agent: refused with the same message whatever exists', async (t) => {
  for (const [word, containers] of [
    ['nothing-here', []],
    ['cbs-postgres-1', [lal]],
    [OTHER_ID, [lal]],
    ['ab1', [lal, data]],
    ['cbs-agent-postgres', []],
    ['cbs-agent-Lal', [lal]],
  ] as const) {
    const answer = await against('GET', `/containers/${word}/json`, { containers: [...containers] });
    t.same(
      [answer.refused, answer.message],
      ['not-an-agent', `${word} is not an agent container of cbs`],
      `${word.slice(0, 20)}: refused`,
    );
  }
});

t.test('which container a word means: name before prefix, nothing guessed from a broken list', async (t) => {
  const start = async (word: string, containers: unknown[]) =>
    (await against('POST', `/containers/${word}/start`, { containers })) as {
      verdict?: { path?: string };
      refused?: string;
    };
  const named = { Id: 'cd'.repeat(32), Names: ['/ab12ab12'] };
  t.equal(
    (await start('ab12ab12', [lal, named])).verdict?.path,
    `/containers/${named.Id}/start`,
    'an exact name wins over an id prefix (as Docker resolves it)',
  );
  t.equal(
    (await start('ab12ab12', [lal, named, { ...named, Id: 'ef'.repeat(32) }])).refused,
    'not-an-agent',
    'a name two containers have is no container, even when it is also a unique id prefix',
  );
  t.equal(
    (await start('ab12', [{ Names: ['/cbs-agent-x'] }, lal])).verdict?.path,
    `/containers/${lal.Id}/start`,
    'a listed entry without an id is skipped, not a crash',
  );
  t.same(
    (await start('cbs-agent-x', [{ Names: ['/cbs-agent-y'] }, { Id: 'ef'.repeat(32) }])).verdict,
    { reply: { status: 404, json: { message: 'No such container: cbs-agent-x' } } },
    'entries without a name or an id match nothing',
  );
});

t.test('the container list: the client may narrow it, never widen it', async (t) => {
  const list = async (filters: string) => {
    const answer = await against('GET', `/containers/json?all=1&filters=${encodeURIComponent(filters)}`);
    if (answer.refused) return { rule: answer.refused, message: answer.message };
    const path = (answer.verdict as { path: string }).path;
    return JSON.parse(new URL(`http://docker${path}`).searchParams.get('filters')!) as Record<string, unknown>;
  };
  const forced = [`${PROJECT_LABEL}=cbs`, AGENT_LABEL];
  t.same(
    await list('{"status":["running"],"health":["healthy"],"name":["cbs-agent-lal"]}'),
    { status: ['running'], health: ['healthy'], name: ['cbs-agent-lal'], label: forced },
    'status, health and name kept as the client sent them',
  );
  t.same(
    await list('{"label":["a=1",7,null,"b",{"c":true}]}'),
    { label: ['a=1', 'b', ...forced] },
    'labels that are not strings dropped, the forced ones appended',
  );
  t.same(await list('{"label":"a=1"}'), { label: forced }, 'a label that is not a list: only the forced ones');
  for (const key of ['ancestor', 'id', 'network', 'volume', 'before', 'since', 'is-task']) {
    t.same(
      await list(`{"${key}":["x"]}`),
      { rule: 'unknown-field', message: `filters has a field the policy does not know: '${key}'` },
      `${key}: refused`,
    );
  }
  t.same(await list('[]'), { rule: 'body-shape', message: 'filters must be a JSON object' });
});

t.test("a volume create: the builder's body forwarded, the path as sent", async (t) => {
  const built = agentContainer(policy.stack, readAgentsFile(policy.agentsFile)[0]!).volumeBody;
  for (const url of ['/volumes/create', '/v1.41/volumes/create']) {
    const sent = { ...(built as Record<string, unknown>) };
    const answer = await against('POST', url, { body: JSON.stringify(sent) });
    t.same(
      answer.verdict,
      { method: 'POST', path: url, body: Buffer.from(JSON.stringify(built)) },
      `${url}: forwarded`,
    );
    t.same(answer.asked, [], 'the daemon is not asked anything first');
  }
  const none = await against('POST', '/volumes/create');
  t.equal(none.refused, 'json-syntax', 'no body: refused');
  const other = await against('POST', '/volumes/create', { body: '{"Name":"cbs-postgres-data"}' });
  t.same(
    [other.refused, other.message],
    ['volume-name', '$.Name must be cbs-agent-NAME-home for an agent NAME of the agents file'],
  );
});

t.test('a volume: the route is whole, a body or a daemon error refused', async (t) => {
  const own = { status: 200, json: { Labels: { [PROJECT_LABEL]: 'cbs' } } };
  for (const url of ['/x/volumes/cbs-agent-lal-home', '/v1.41/x/volumes/cbs-agent-lal-home']) {
    const answer = await against('GET', url, { volumes: { 'cbs-agent-lal-home': own } });
    t.same([answer.refused, answer.asked], ['default-deny', []], `${url}: no route`);
  }
  const body = await against('DELETE', '/volumes/cbs-agent-lal-home', {
    volumes: { 'cbs-agent-lal-home': own },
    body: '{}',
  });
  t.same([body.refused, body.message, body.asked], ['volume-body', 'no request body', []]);
  for (const status of [201, 500, 304]) {
    const answer = await against('DELETE', '/volumes/cbs-agent-lal-home', {
      volumes: { 'cbs-agent-lal-home': { ...own, status } },
    });
    t.same(
      [answer.refused, answer.message],
      ['not-an-agent', 'cbs-agent-lal-home is not an agent volume of cbs'],
      `the daemon answering ${status} with this project's label: refused`,
    );
  }
});
