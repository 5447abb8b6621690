// The search structures for one needle list, built once and shared by the
// SecretSet's find, every stream redactor and the one-shot redact of that set.
import { Matcher } from './matcher.js';
import { PrefixIndex } from './prefix-index.js';

/** A needle list with its matcher and its hold-back index. */
export interface Compiled {
  readonly matcher: Matcher;
  readonly prefixes: PrefixIndex;
}

const cache = new WeakMap<readonly Uint8Array[], Compiled>();

/** The compiled form of `needles`, cached per array so that building tables is paid once per SecretSet. */
export function compile(needles: readonly Uint8Array[]): Compiled {
  let compiled = cache.get(needles);
  if (!compiled) {
    compiled = { matcher: new Matcher(needles), prefixes: new PrefixIndex(needles) };
    cache.set(needles, compiled);
  }
  return compiled;
}
