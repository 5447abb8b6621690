// The events stream, for the agent commands only, filtered twice: the query
// is rewritten so that the daemon sends only this project's agent containers'
// events, and each event the daemon sends is cut down to an allow list of
// fields before the client sees it. The daemon's events carry the command
// line of every `docker exec` (in Action and status) and every label of every
// container; the second filter holds even if the first is ever bypassed.
import { AGENT_LABEL, PROJECT_LABEL } from '../../src/contract.js';
import { canonicalObject, type FieldCheck } from './fields.js';
import { type Route, upstreamPath } from './policy.js';
import { Refusal } from './refusal.js';
import { type JsonObject, parseStrictJson, stringifyJson } from './strict-json.js';

/** A daemon event line longer than this is dropped, not buffered (real ones are under 2 KiB). */
const MAX_EVENT_LINE = 64 * 1024;

export function eventsRoute(project: string): Route {
  return {
    name: 'events',
    methods: ['GET'],
    path: /^\/events$/,
    query: ['since', 'until', 'filters'],
    review: (request) => {
      if (request.body?.length) throw new Refusal('events-body', 'events takes no request body');
      const query = new URLSearchParams(request.target.query);
      query.set('filters', stringifyJson(eventFilters(project, request.target.query.get('filters'))));
      return {
        stream: { path: upstreamPath({ ...request.target, query }), filter: (event) => visibleEvent(project, event) },
      };
    },
  };
}

// Docker reads a filter value as a list of strings or as a map of strings to true (what the docker CLI sends);
// both become a list, so that the forced values below can never be in the other format (the daemon refuses a mix).
const filterValues: FieldCheck = (value, where) => {
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value;
  if (value instanceof Map && [...value.values()].every((flag) => flag === true)) return [...value.keys()];
  throw new Refusal('events-filter', `${where} must be a list of strings (or a map of strings to true)`);
};

/** The client's filters (type, event, container, label only), with type forced to container and the agent labels appended. */
export function eventFilters(project: string, text: string | null): JsonObject {
  let filters: JsonObject;
  try {
    filters = canonicalObject(
      parseStrictJson(text || '{}'),
      { type: filterValues, event: filterValues, container: filterValues, label: filterValues },
      {},
      'filters',
    );
  } catch (error) {
    // Any other key (image, network, daemon...) would widen what the daemon sends, or name what agents do not need.
    if (error instanceof Refusal && error.rule === 'unknown-field')
      throw new Refusal('events-filter', `${error.message}; only type, event, container and label`);
    throw error;
  }
  // Only container events: image, network, volume and daemon events describe the whole host.
  filters.set('type', ['container']);
  // Docker ANDs label filters: whatever the client asked, only this project's agent containers remain.
  const labels = (filters.get('label') as string[] | undefined) ?? [];
  filters.set('label', [...labels, `${PROJECT_LABEL}=${project}`, AGENT_LABEL]);
  return filters;
}

/** Health changes are the one Action whose text after ':' is a fixed word, not a command line. */
const HEALTH = /^health_status: (?:healthy|unhealthy|starting)$/;

/** Action and status: the event's name only; exec_create and exec_start append the whole command line after ':'. */
function actionName(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (HEALTH.test(value)) return value;
  const colon = value.indexOf(':');
  return colon === -1 ? value : value.slice(0, colon);
}

/** Parsed JSON read by field name: a lookup on null, a string, a number or an array finds none of the names asked for here. */
type Fields = Record<string, unknown> | null | undefined;

/** What the client may see of one daemon event (parsed JSON), or undefined when nothing of it. */
export function visibleEvent(project: string, event: unknown): Record<string, unknown> | undefined {
  const source = event as Fields;
  // Container events only, as the forced filter asked: anything else reaching here is the daemon's mistake.
  if (source?.Type !== 'container') return undefined;
  const actor = source.Actor as Fields;
  const attributes = actor?.Attributes as Fields;
  // The container's labels arrive as attributes: without both, with this project, it is not one of our agents.
  if (
    attributes?.[PROJECT_LABEL] !== project ||
    typeof attributes[AGENT_LABEL] !== 'string' ||
    !attributes[AGENT_LABEL]
  )
    return undefined;
  const copy = (
    into: Record<string, unknown>,
    from: Record<string, unknown>,
    key: string,
    type: 'string' | 'number',
  ) => {
    // Only the expected type: an object here could smuggle anything past the allow list.
    if (typeof from[key] === type) into[key] = from[key];
  };
  // A field left undefined is not in the JSON line the client gets.
  const out: Record<string, unknown> = {
    Type: 'container',
    Action: actionName(source.Action),
    // The legacy status repeats Action, command line included.
    status: actionName(source.status),
  };
  // The container id and its image: what `agent` commands match events by.
  for (const key of ['id', 'from', 'scope']) copy(out, source, key, 'string');
  for (const key of ['time', 'timeNano']) copy(out, source, key, 'number');
  const shown: Record<string, unknown> = {};
  // name, image and exitCode tell which agent did what; execID, signal and every other label are dropped.
  for (const key of ['name', 'image', 'exitCode', PROJECT_LABEL, AGENT_LABEL]) copy(shown, attributes, key, 'string');
  // The actor is an object here: it holds the attributes.
  const id = (actor as Record<string, unknown>).ID;
  out.Actor = { ID: typeof id === 'string' ? id : undefined, Attributes: shown };
  return out;
}

/** Splits the daemon's stream into lines (one event each); a line over MAX_EVENT_LINE is dropped whole. */
export class EventLines {
  private parts: Buffer[] = [];
  private length = 0;
  private dropping = false;

  constructor(private readonly maxLine = MAX_EVENT_LINE) {}

  /** The complete lines in `chunk` (with what came before it), without their newlines. */
  push(chunk: Buffer): Buffer[] {
    const lines: Buffer[] = [];
    let start = 0;
    for (let end = chunk.indexOf(0x0a); end !== -1; end = chunk.indexOf(0x0a, start)) {
      this.hold(chunk.subarray(start, end));
      if (!this.dropping) lines.push(Buffer.concat(this.parts));
      this.forget(false);
      start = end + 1;
    }
    this.hold(chunk.subarray(start));
    return lines;
  }

  /** Keeps a piece of the current line; once the line grows past maxLine, forgets it (too long to be an event) up to the next newline. */
  private hold(piece: Buffer): void {
    if (this.length + piece.length > this.maxLine) this.forget(true);
    else {
      this.parts.push(Buffer.from(piece));
      this.length += piece.length;
    }
  }

  private forget(dropping: boolean): void {
    this.parts = [];
    this.length = 0;
    this.dropping = dropping;
  }
}
