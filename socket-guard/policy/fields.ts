// Matching JSON keys to Docker's field names the way the daemon does: Go's
// encoding/json matches keys case-insensitively with Unicode simple folding,
// so `privileged`, `PRIVILEGED` and `Bindſ` (long s) all reach the field.
// Each object is rebuilt under the canonical names; a key that folds to no
// known field, or two keys that fold to the same field, are refused.
import { Refusal } from './refusal.js';
import type { Json, JsonObject } from './strict-json.js';

/** Go's fold of a key for field matching: ASCII case, plus U+017F (ſ) as s and U+212A (Kelvin) as k. */
export function goFold(key: string): string {
  return key
    .replace(/\u017f/g, 's')
    .replace(/\u212a/g, 'k')
    .replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** A field's check: returns the value to forward, or throws a Refusal. */
export type FieldCheck = (value: Json, where: string) => Json;

export interface FieldSpec {
  [canonicalName: string]: FieldCheck;
}

/** Fields that are never allowed, each with the rule that names why. */
export interface ForbiddenSpec {
  [canonicalName: string]: string;
}

/** Rebuilds `object` under canonical field names, checking each value; refuses unknown, forbidden and repeated fields. */
export function canonicalObject(value: Json, fields: FieldSpec, forbidden: ForbiddenSpec, where: string): JsonObject {
  if (!(value instanceof Map)) throw new Refusal('body-shape', `${where} must be a JSON object`);
  const byFold = new Map(Object.keys(fields).map((name) => [goFold(name), name]));
  const forbiddenByFold = new Map(
    Object.entries(forbidden).map(([name, rule]) => [goFold(name), [name, rule] as const]),
  );
  const out: JsonObject = new Map();
  for (const [key, field] of value) {
    const folded = goFold(key);
    const banned = forbiddenByFold.get(folded);
    if (banned) throw new Refusal(banned[1], `${where}.${banned[0]} is not allowed`);
    const name = byFold.get(folded);
    if (name === undefined)
      throw new Refusal('unknown-field', `${where} has a field the policy does not know: '${key.slice(0, 40)}'`);
    if (out.has(name))
      throw new Refusal('json-duplicate-key', `${where}.${name} is given twice (keys differing only in case)`);
    out.set(name, fields[name]!(field, `${where}.${name}`));
  }
  return out;
}
