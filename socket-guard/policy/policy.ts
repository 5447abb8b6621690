// What the guard lets through: an allow list of routes (method, path pattern,
// query keys), everything else refused. A route may check and rewrite the
// request before it is forwarded (the agents' policy adds container creation
// with a body check), answer it itself, or have the guard answer with a
// filtered event stream (events.ts). The base policy allows only what a health
// check needs: ping and version. Events are not in it: unfiltered, they show
// every container's labels and every `docker exec` command line on the host.
import { Refusal } from './refusal.js';
import type { Target } from './request-path.js';

export interface GuardRequest {
  method: string;
  target: Target;
  /** The whole body, already read (size-limited), or undefined when there was none. */
  body: Buffer | undefined;
}

/** What goes upstream: the canonical path (version prefix and query re-attached) and body. */
export interface Forward {
  method: string;
  path: string;
  body: Buffer | undefined;
}

/** An answer the guard gives itself, without the daemon: a 404 for an agent container that does not exist. */
export interface Reply {
  reply: { status: number; json: Record<string, unknown> };
}

/** An event stream the guard answers itself: it GETs `path` from the daemon and sends each event as `filter` returns it (none when undefined). */
export interface Stream {
  stream: { path: string; filter: (event: unknown) => Record<string, unknown> | undefined };
}

/** What a route decides for an allowed request. */
export type Verdict = Forward | Reply | Stream;

export interface Route {
  /** The rule's name, reported with refusals and in logs. */
  name: string;
  methods: readonly string[];
  path: RegExp;
  /** Query keys the daemon may see; others are refused. */
  query: readonly string[];
  /** Checks and rewrites; default: forward as is, without a body. */
  review?: (request: GuardRequest, match: RegExpExecArray) => Promise<Verdict> | Verdict;
}

export const BASE_ROUTES: readonly Route[] = [
  { name: 'ping', methods: ['GET', 'HEAD'], path: /^\/_ping$/, query: [] },
  { name: 'version', methods: ['GET'], path: /^\/version$/, query: [] },
];

/**
 * The oldest API version a request may name: older versions make the daemon
 * read a body by older rules (fields added since, such as NanoCpus or Mounts,
 * ignored), so the body it acts on would not be the one the policy checked.
 */
const OLDEST_API_VERSION = [1, 40] as const;

/** Finds the route for a request and reviews it; throws a Refusal otherwise. */
export async function review(routes: readonly Route[], request: GuardRequest): Promise<Verdict> {
  if (request.target.version) {
    // The prefix is /vMAJOR.MINOR, digits only (request-path.ts); Docker compares the numbers, so v01.039 is v1.39.
    const [major, minor] = request.target.version.slice(2).split('.').map(Number) as [number, number];
    if (major < OLDEST_API_VERSION[0] || (major === OLDEST_API_VERSION[0] && minor < OLDEST_API_VERSION[1]))
      throw new Refusal(
        'api-version',
        `API version ${request.target.version.slice(1)} is older than v${OLDEST_API_VERSION.join('.')}; use a current Docker client, or no version prefix`,
      );
  }
  const keys = [...request.target.query.keys()];
  const repeated = keys.find((key, i) => keys.indexOf(key) !== i);
  // The daemon and the policy would each pick one of the values, not necessarily the same.
  if (repeated !== undefined)
    throw new Refusal('query-repeated', `the query parameter '${repeated.slice(0, 40)}' is given more than once`);
  for (const route of routes) {
    const match = route.path.exec(request.target.path);
    if (!match || !route.methods.includes(request.method)) continue;
    for (const key of request.target.query.keys()) {
      if (!route.query.includes(key))
        throw new Refusal(`${route.name}-query`, `the query parameter '${key}' is not allowed for ${route.name}`);
    }
    if (route.review) return route.review(request, match);
    if (request.body && request.body.length > 0)
      throw new Refusal(`${route.name}-body`, `${route.name} takes no request body`);
    return { method: request.method, path: upstreamPath(request.target), body: undefined };
  }
  throw new Refusal('default-deny', `${request.method} ${request.target.path} is not an allowed Docker API call`);
}

/** The path to send upstream: version prefix, path and the (already checked) query. */
export function upstreamPath(target: Target): string {
  const query = target.query.toString();
  return `${target.version}${target.path}${query ? `?${query}` : ''}`;
}
