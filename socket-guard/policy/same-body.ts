// Whether a client's JSON body is the body the builder made, read the way the
// Docker daemon reads it: Go's encoding/json matches a struct's field names
// case-insensitively (goFold), while the keys of a map field (labels, tmpfs
// paths, networks) are taken exactly. The guard never forwards the client's
// bytes, only the builder's body, so this decides equality and nothing else.
import { goFold } from './fields.js';
import type { Json } from './strict-json.js';

/**
 * Fields that are Go maps, by their path of canonical names (`*` for a map's
 * key): their keys are data, compared exactly, not field names.
 */
export type MapFields = ReadonlySet<string>;

/** Where the walk is: the JSON path shown in messages, the schema path of canonical names, and the map fields. */
interface At {
  path: string;
  schema: string;
  maps: MapFields;
}

/** The first JSON path at which `actual` differs from `expected`, with what is wrong there; undefined when they are the same. */
export function firstDifference(actual: Json, expected: unknown, maps: MapFields): string | undefined {
  return walk(actual, expected, { path: '$', schema: '', maps });
}

function walk(actual: Json, expected: unknown, at: At): string | undefined {
  const { path } = at;
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${path} is not a list`;
    if (actual.length !== expected.length) return `${path} has ${actual.length} entries, not ${expected.length}`;
    for (const [i, item] of expected.entries()) {
      const found = walk(actual[i]!, item, { ...at, path: `${path}[${i}]` });
      if (found) return found;
    }
    return undefined;
  }
  if (expected !== null && typeof expected === 'object') {
    if (!(actual instanceof Map)) return `${path} is not an object`;
    return at.maps.has(at.schema)
      ? walkMap(actual, expected as Record<string, unknown>, at)
      : walkStruct(actual, expected as Record<string, unknown>, at);
  }
  return actual === expected ? undefined : `${path} differs`;
}

function walkStruct(actual: Map<string, Json>, expected: Record<string, unknown>, at: At): string | undefined {
  const { path, schema } = at;
  const byFold = new Map(Object.keys(expected).map((name) => [goFold(name), name]));
  const seen = new Set<string>();
  for (const [key, value] of actual) {
    const name = byFold.get(goFold(key));
    if (name === undefined) return `${path}.${shown(key)} is not part of the spec`;
    if (seen.has(name)) return `${path}.${name} is given twice (keys differing only in case)`;
    seen.add(name);
    const found = walk(value, expected[name], {
      ...at,
      path: `${path}.${name}`,
      schema: schema ? `${schema}.${name}` : name,
    });
    if (found) return found;
  }
  const missing = Object.keys(expected).find((name) => !seen.has(name));
  return missing === undefined ? undefined : `${path}.${missing} is missing`;
}

function walkMap(actual: Map<string, Json>, expected: Record<string, unknown>, at: At): string | undefined {
  const { path, schema } = at;
  for (const [key, value] of actual) {
    if (!Object.hasOwn(expected, key)) return `${path}[${JSON.stringify(shown(key))}] is not part of the spec`;
    const found = walk(value, expected[key], { ...at, path: `${path}[${JSON.stringify(key)}]`, schema: `${schema}.*` });
    if (found) return found;
  }
  const missing = Object.keys(expected).find((key) => !actual.has(key));
  return missing === undefined ? undefined : `${path}[${JSON.stringify(missing)}] is missing`;
}

/** A client's key for a message: printable ASCII, at most 40 characters. */
function shown(key: string): string {
  const printable = key.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 40 ? `${printable.slice(0, 40)}...` : printable;
}
