// The routes the agent commands need, on top of the base policy: events of
// this project's agents only (events.ts), and containers and volumes. Containers
// are reached only when they carry this stack's agent labels: the guard asks
// the daemon first, then forwards the action by the container's full id (so
// a name cannot be re-bound in between). A name in the agents' namespace
// (PROJECT-agent-NAME) that no container has gets Docker's own 404, so that
// `agent up` can tell "absent" from "refused"; any other unknown name or id
// is refused, telling nothing about the host's other containers. A create
// passes only as the very body the builder makes for a listed agent, and so
// does the agent's home volume (create-policy.ts).
import { AGENT_LABEL, agentOfVolume, agentVolumeName, PROJECT_LABEL } from '../../src/contract.js';
import { type AgentPolicy, agentFromContainerName, reviewCreateBody, reviewVolumeBody } from './create-policy.js';
import { eventsRoute } from './events.js';
import { canonicalObject } from './fields.js';
import { BASE_ROUTES, type Forward, type GuardRequest, type Reply, type Route, upstreamPath } from './policy.js';
import { Refusal } from './refusal.js';
import { parseStrictJson, stringifyJson } from './strict-json.js';

/** Asks the Docker daemon (GET) and returns its status and JSON body. */
export type Upstream = (path: string) => Promise<{ status: number; json: unknown }>;

const ID = '([A-Za-z0-9][A-Za-z0-9_.-]*)';

export function agentRoutes(policy: AgentPolicy, upstream: Upstream): Route[] {
  const { project } = policy.stack;
  const isAgentName = (id: string) => {
    try {
      return Boolean(agentFromContainerName(project, id));
    } catch {
      return false;
    }
  };
  // Which container a name or id means is decided among this project's agents only (a label-filtered list), the way
  // Docker resolves it: full id, exact name, or a unique id prefix. The daemon is never asked about the client's
  // word itself, so neither its answer nor its timing tells whether some other container exists.
  const agentsFilter = encodeURIComponent(JSON.stringify({ label: [`${PROJECT_LABEL}=${project}`, AGENT_LABEL] }));
  const ownContainer = async (request: GuardRequest, id: string, action: string): Promise<Forward | Reply> => {
    const { status, json } = await upstream(`/containers/json?all=1&filters=${agentsFilter}`);
    if (status !== 200 || !Array.isArray(json))
      throw new Refusal('upstream', `the Docker daemon did not list the agents (${status})`);
    const agents = json as Array<{ Id?: string; Names?: string[] }>;
    const exact = agents.filter((c) => c.Id === id || c.Names?.includes(`/${id}`));
    const prefixed = /^[0-9a-f]{1,64}$/.test(id) ? agents.filter((c) => c.Id?.startsWith(id)) : [];
    const found = exact.length === 1 ? exact[0] : exact.length === 0 && prefixed.length === 1 ? prefixed[0] : undefined;
    if (!found?.Id) {
      // Nothing has that name or id (an agent's name, PROJECT-agent-NAME, is never hex, so never an id prefix).
      if (exact.length === 0 && isAgentName(id))
        return { reply: { status: 404, json: { message: `No such container: ${id}` } } };
      throw new Refusal('not-an-agent', `${id} is not an agent container of ${project}`);
    }
    if (request.body?.length) throw new Refusal(`${action}-body`, `${action} takes no request body`);
    const path = request.target.path.replace(`/containers/${id}`, `/containers/${found.Id}`);
    return { method: request.method, path: upstreamPath({ ...request.target, path }), body: undefined };
  };
  const container = (name: string, methods: string[], suffix: string, query: string[]): Route => ({
    name,
    methods,
    path: new RegExp(`^/containers/${ID}${suffix}$`),
    query,
    review: (request, match) => ownContainer(request, match[1]!, name),
  });
  return [
    ...BASE_ROUTES,
    eventsRoute(project),
    {
      name: 'container-list',
      methods: ['GET'],
      path: /^\/containers\/json$/,
      query: ['all', 'filters', 'limit'],
      review: (request) => {
        const filters = parseStrictJson(request.target.query.get('filters') ?? '{}');
        const checked = canonicalObject(
          filters,
          { label: (v) => v, name: (v) => v, status: (v) => v, health: (v) => v },
          {},
          'filters',
        );
        const labels = checked.get('label');
        const list = Array.isArray(labels) ? labels.filter((l): l is string => typeof l === 'string') : [];
        checked.set('label', [...list, `${PROJECT_LABEL}=${project}`, AGENT_LABEL]);
        const query = new URLSearchParams(request.target.query);
        query.set('filters', stringifyJson(checked));
        return { method: 'GET', path: upstreamPath({ ...request.target, query }), body: undefined };
      },
    },
    {
      name: 'container-create',
      methods: ['POST'],
      path: /^\/containers\/create$/,
      query: ['name'],
      review: async (request) => {
        const agent = agentFromContainerName(project, request.target.query.get('name'));
        const body = reviewCreateBody(policy, agent, parseStrictJson(request.body?.toString('utf8') ?? ''));
        // The home volume must be this project's already: else the daemon would make it on the fly, without the
        // project's label, and no agent command could use or remove it afterwards.
        const volume = agentVolumeName(project, agent);
        const { status, json } = await upstream(`/volumes/${volume}`);
        const labels = (json as { Labels?: Record<string, string> | null } | undefined)?.Labels ?? {};
        if (status !== 200 || labels[PROJECT_LABEL] !== project)
          throw new Refusal('volume-missing', `create the volume ${volume} first (agent up does)`);
        // Without a version prefix the daemon reads the body by its own, current rules: the ones the builder wrote for.
        return { method: 'POST', path: upstreamPath({ ...request.target, version: '' }), body };
      },
    },
    container('container-inspect', ['GET'], '/json', []),
    container('container-start', ['POST'], '/start', []),
    container('container-stop', ['POST'], '/stop', ['t']),
    container('container-restart', ['POST'], '/restart', ['t']),
    container('container-wait', ['POST'], '/wait', ['condition']),
    container('container-logs', ['GET'], '/logs', ['stdout', 'stderr', 'follow', 'tail', 'timestamps', 'since']),
    container('container-remove', ['DELETE'], '', ['force', 'v']),
    {
      name: 'volume-create',
      methods: ['POST'],
      path: /^\/volumes\/create$/,
      query: [],
      review: (request) => ({
        method: 'POST',
        path: upstreamPath(request.target),
        body: reviewVolumeBody(policy, parseStrictJson(request.body?.toString('utf8') ?? '')),
      }),
    },
    ...(['GET', 'DELETE'] as const).map(
      (method): Route => ({
        name: method === 'GET' ? 'volume-inspect' : 'volume-remove',
        methods: [method],
        path: /^\/volumes\/([A-Za-z0-9][A-Za-z0-9_.-]*)$/,
        query: method === 'DELETE' ? ['force'] : [],
        review: async (request, match) => {
          const name = match[1]!;
          if (agentOfVolume(project, name) === undefined)
            throw new Refusal('volume-name', `only ${project}-agent-NAME-home volumes`);
          if (request.body?.length) throw new Refusal('volume-body', 'no request body');
          // The name alone could be another project's (one named PROJECT-agent-X): the label says whose it is.
          const { status, json } = await upstream(`/volumes/${name}`);
          if (status === 404) return { reply: { status: 404, json: { message: `get ${name}: no such volume` } } };
          const labels = (json as { Labels?: Record<string, string> | null } | undefined)?.Labels ?? {};
          if (status !== 200 || labels[PROJECT_LABEL] !== project)
            throw new Refusal('not-an-agent', `${name} is not an agent volume of ${project}`);
          return { method, path: upstreamPath(request.target), body: undefined };
        },
      }),
    ),
  ];
}
