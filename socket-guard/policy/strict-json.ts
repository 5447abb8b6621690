// A strict JSON reader for request bodies the guard must understand exactly:
// objects come back as Maps with the keys as decoded (so `\u0050rivileged`
// is seen as `Privileged`), duplicate keys are refused, nesting is bounded,
// and anything JSON.parse would reject is refused. The policy never forwards
// the original bytes, only what it rebuilt from this tree.
import { Refusal } from './refusal.js';

export type Json = null | boolean | number | string | Json[] | JsonObject;
export type JsonObject = Map<string, Json>;

const MAX_DEPTH = 32;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

export function parseStrictJson(text: string): Json {
  let at = 0;
  const fail = (why: string): never => {
    throw new Refusal('json-syntax', `the request body is not strict JSON (${why} at offset ${at})`);
  };
  const space = () => {
    // JSON's four whitespace characters only (charAt is '' past the end).
    while (/[ \t\n\r]/.test(text.charAt(at))) at++;
  };
  const value = (depth: number): Json => {
    if (depth > MAX_DEPTH) throw new Refusal('json-depth', `the request body nests deeper than ${MAX_DEPTH}`);
    space();
    const c = text.charAt(at);
    if (c === '{') return object(depth);
    if (c === '[') return array(depth);
    if (c === '"') return string();
    if (c === '-' || (c >= '0' && c <= '9')) return number();
    for (const [word, result] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(word, at)) {
        at += word.length;
        return result;
      }
    }
    return fail('unexpected character');
  };
  const object = (depth: number): JsonObject => {
    const map: JsonObject = new Map();
    at++;
    space();
    if (text[at] === '}') return (at++, map);
    for (;;) {
      space();
      if (text[at] !== '"') fail('expected a key');
      const key = string();
      if (map.has(key))
        throw new Refusal('json-duplicate-key', `the request body repeats the key '${key.slice(0, 40)}'`);
      space();
      if (text[at] !== ':') fail("expected ':'");
      at++;
      map.set(key, value(depth + 1));
      space();
      if (text[at] === '}') return (at++, map);
      if (text[at] !== ',') fail("expected ',' or '}'");
      at++;
    }
  };
  const array = (depth: number): Json[] => {
    const list: Json[] = [];
    at++;
    space();
    if (text[at] === ']') return (at++, list);
    for (;;) {
      list.push(value(depth + 1));
      space();
      if (text[at] === ']') return (at++, list);
      if (text[at] !== ',') fail("expected ',' or ']'");
      at++;
    }
  };
  const string = (): string => {
    STRING.lastIndex = at;
    const match = STRING.exec(text);
    if (!match) return fail('bad string');
    at += match[0].length;
    return JSON.parse(match[0]) as string;
  };
  const number = (): number => {
    NUMBER.lastIndex = at;
    const match = NUMBER.exec(text);
    if (!match) return fail('bad number');
    at += match[0].length;
    return Number(match[0]);
  };
  const result = value(0);
  space();
  if (at !== text.length) fail('trailing characters');
  return result;
}

/** Converts back to ordinary JSON text (Maps as objects), for forwarding what was checked. */
export function stringifyJson(value: Json): string {
  return JSON.stringify(value, (_key, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v));
}
