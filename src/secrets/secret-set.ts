// All the secrets of one deployment, each under a label that says where it
// came from, turned into the byte strings that must never reach a log. Both
// the redactor (which masks them) and the leak check (which reports them)
// work from this one list, so they cannot disagree about what a secret is.
// Nothing here returns or prints a value: hits carry labels and encodings.
import { compile } from '../redact/compiled.js';
import { codePointLength, MIN_MASK_LENGTH, secretVariants } from './variants.js';

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

  constructor(secrets: Iterable<LabeledSecret>) {
    const short: LabeledSecret[] = [];
    const needles: Buffer[] = [];
    const owners: SecretHit[][] = [];
    const byBytes = new Map<string, number>();
    for (const { label, value } of secrets) {
      if (codePointLength(value) < MIN_MASK_LENGTH) {
        short.push(Object.freeze({ label, value }));
        continue;
      }
      for (const { encoding, text } of secretVariants(value)) {
        const bytes = Buffer.from(text, 'utf8');
        const key = bytes.toString('latin1');
        let id = byBytes.get(key);
        if (id === undefined) {
          id = needles.push(bytes) - 1;
          owners.push([]);
          byBytes.set(key, id);
        }
        const hits = owners[id]!;
        if (!hits.some((hit) => hit.label === label && hit.encoding === encoding)) hits.push({ label, encoding });
      }
    }
    this.short = Object.freeze(short);
    this.needles = Object.freeze(needles);
    this.#owners = owners;
  }

  /** the first secret found in the text (any variant), or undefined; never returns the value */
  find(haystack: string | Uint8Array): SecretHit | undefined {
    let found: SecretHit | undefined;
    compile(this.needles).matcher.scan(toBytes(haystack), 0, Infinity, (id) => {
      found = { ...this.#owners[id]![0]! };
      return true;
    });
    return found;
  }

  /** every distinct hit */
  findAll(haystack: string | Uint8Array): SecretHit[] {
    const ids = new Set<number>();
    compile(this.needles).matcher.scan(toBytes(haystack), 0, Infinity, (id) => {
      ids.add(id);
    });
    const hits = new Map<string, SecretHit>();
    for (const id of ids) {
      for (const hit of this.#owners[id]!) hits.set(JSON.stringify([hit.label, hit.encoding]), { ...hit });
    }
    return [...hits.values()];
  }
}

function toBytes(haystack: string | Uint8Array): Uint8Array {
  return typeof haystack === 'string' ? Buffer.from(haystack, 'utf8') : haystack;
}
