// A short, non-reversible fingerprint of a token for status tables. Apart from
// token.ts: the entrypoint never loads node:crypto (docs/performance.md).
import { createHash } from 'node:crypto';

/** The first 12 hex digits of the token's SHA-256. */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 12);
}
