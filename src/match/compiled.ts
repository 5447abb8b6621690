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

/** Builds each structure on first use: a leak check needs only the matcher, a redactor both. */
class LazyCompiled implements Compiled {
  #matcher: Matcher | undefined;
  #prefixes: PrefixIndex | undefined;
  constructor(private readonly needles: readonly Uint8Array[]) {}
  get matcher(): Matcher {
    return (this.#matcher ??= new Matcher(this.needles));
  }
  get prefixes(): PrefixIndex {
    return (this.#prefixes ??= new PrefixIndex(this.needles));
  }
}

/** The compiled form of `needles`, cached per array so that building tables is paid once per SecretSet. */
export function compile(needles: readonly Uint8Array[]): Compiled {
  let compiled = cache.get(needles);
  if (!compiled) {
    compiled = new LazyCompiled(needles);
    cache.set(needles, compiled);
  }
  return compiled;
}
