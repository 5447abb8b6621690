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
