// A short, non-reversible fingerprint of a token for status tables. Kept apart
// from token.ts so that the entrypoint, which never prints fingerprints, does
// not load node:crypto (about 6 ms of its start-up).
import { createHash } from 'node:crypto';

/** The first 12 hex digits of the token's SHA-256. */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 12);
}
