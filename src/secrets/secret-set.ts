// All the secrets of one deployment, each under a label that says where it
// came from, turned into the byte strings that must never reach a log. Both
// the redactor (which masks them) and the leak check (which reports them)
// work from this one list, so they cannot disagree about what a secret is.
// Nothing here returns or prints a value: hits carry labels and encodings.
import { compile } from '../match/compiled.js';
import { secretVariants, tooShortToMask } from './variants.js';

/** A secret and where it came from; the label names a place, never the value. */
export interface LabeledSecret {
  label: string;
  value: string;
}

/** Which secret was found, and in which encoded form. */
export interface SecretHit {
  label: string;
  encoding: string;
}

/** The maskable forms of a list of secrets, and the ones too short to mask. */
export class SecretSet {
  /** secrets shorter than MIN_MASK_LENGTH: callers warn about them (by label) instead of masking them */
  readonly short: readonly LabeledSecret[];
  /** the byte strings to match (all variants of all maskable secrets) */
  readonly needles: readonly Buffer[];
  /** For each needle, every secret and encoding it stands for (the same bytes can be two secrets). */
  readonly #owners: readonly SecretHit[][];
  readonly #byBytes: ReadonlyMap<string, number>;

  constructor(secrets: Iterable<LabeledSecret>, base?: SecretSet) {
    const short: LabeledSecret[] = [...(base?.short ?? [])];
    const needles: Buffer[] = [...(base?.needles ?? [])];
    const owners: SecretHit[][] = base ? base.#owners.map((hits) => [...hits]) : [];
    const byBytes = new Map<string, number>(base ? base.#byBytes : []);
    for (const { label, value } of secrets) {
      if (tooShortToMask(value)) {
        short.push(Object.freeze({ label, value }));
        continue;
      }
      for (const { encoding, text } of secretVariants(value)) {
        const bytes = Buffer.from(text);
        const key = bytes.toString('latin1');
        let id = byBytes.get(key);
        if (id === undefined) {
          id = needles.push(bytes) - 1;
          owners.push([]);
          byBytes.set(key, id);
        }
        // The same secret listed twice adds a second equal hit: findAll reports each distinct one once.
        owners[id]!.push({ label, encoding });
      }
    }
    this.short = Object.freeze(short);
    this.needles = Object.freeze(needles);
    this.#owners = owners;
    this.#byBytes = byBytes;
  }

  /** This set plus more secrets, without computing this set's variants again. */
  with(secrets: Iterable<LabeledSecret>): SecretSet {
    return new SecretSet(secrets, this);
  }

  /** the first secret found in the text (any variant), or undefined; never returns the value */
  find(haystack: string | Uint8Array): SecretHit | undefined {
    const [id] = this.#matchingIds(haystack, true);
    return id === undefined ? undefined : { ...this.#owners[id]![0]! };
  }

  /** every distinct hit */
  findAll(haystack: string | Uint8Array): SecretHit[] {
    const ids = this.#matchingIds(haystack, false);
    const hits = new Map<string, SecretHit>();
    for (const id of ids) {
      for (const hit of this.#owners[id]!) hits.set(JSON.stringify([hit.label, hit.encoding]), { ...hit });
    }
    return [...hits.values()];
  }

  /** Ids of the needles that occur in the haystack (the first one only, when `first`). */
  #matchingIds(haystack: string | Uint8Array, first: boolean): number[] {
    const bytes =
      typeof haystack === 'string'
        ? Buffer.from(haystack)
        : Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength);
    const ids: number[] = [];
    if (this.needles.length * bytes.length <= DIRECT_SCAN_LIMIT) {
      let leftmost = Infinity;
      for (let id = 0; id < this.needles.length; id++) {
        const at = bytes.indexOf(this.needles[id]!);
        if (at === -1) continue;
        if (!first) ids.push(id);
        else if (at < leftmost) [leftmost, ids[0]] = [at, id];
      }
      return ids;
    }
    compile(this.needles).matcher.scan(bytes, 0, Infinity, (id) => {
      ids.push(id);
      return first;
    });
    return [...new Set(ids)];
  }
}

/**
 * Below this many needle-bytes of work, searching each needle natively
 * (Buffer#includes) is cheaper than building the matcher's tables: the
 * entrypoint's checks of an environment and a few log lines never build them.
 */
const DIRECT_SCAN_LIMIT = 1 << 20;
