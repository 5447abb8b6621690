// The request target as the Docker daemon would route it, or a refusal. Only
// plain origin-form paths are accepted: no percent-encoding, no dot segments,
// no empty segments, no backslashes, no absolute URLs. An optional API version
// prefix (/v1.41) is removed, so that a policy sees one spelling per endpoint.
import { Refusal } from './refusal.js';

export interface Target {
  /** The path without the version prefix, e.g. /containers/abc/json. */
  path: string;
  /** The version prefix as given ('' when absent), kept when forwarding. */
  version: string;
  query: URLSearchParams;
}

const SEGMENT = /^[A-Za-z0-9_.-]+$/;
const VERSION = /^\/v\d{1,2}\.\d{1,3}(?=\/)/;

export function parseTarget(raw: string): Target {
  if (!raw.startsWith('/')) throw new Refusal('path-form', 'only origin-form request targets are accepted');
  const q = raw.indexOf('?');
  const rawPath = q === -1 ? raw : raw.slice(0, q);
  const rawQuery = q === -1 ? '' : raw.slice(q + 1);
  if (/[%\\]/.test(rawPath)) throw new Refusal('path-encoding', 'percent-encoded or backslashed paths are refused');
  const version = VERSION.exec(rawPath)?.[0] ?? '';
  const path = rawPath.slice(version.length);
  const segments = path.split('/').slice(1);
  // An empty segment ('/', '//', a trailing '/') fails SEGMENT; '.' and '..' pass it, so they are named.
  if (segments.some((s) => !SEGMENT.test(s) || s === '.' || s === '..')) {
    throw new Refusal('path-shape', 'the path has empty, dot or unusual segments');
  }
  if (/[#\s]/.test(rawQuery)) throw new Refusal('path-encoding', 'the query has characters a client never sends');
  return { path, version, query: new URLSearchParams(rawQuery) };
}
