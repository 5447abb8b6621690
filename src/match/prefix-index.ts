// Which tail of the data seen so far could still become a secret: the longest
// suffix that is a proper prefix of some needle. The stream redactor holds
// back exactly that tail and emits everything before it, so that a log line
// ending in a newline goes out at once and a half-written secret does not.
import { bucketize, hash3 } from './matcher.js';

/** Answers "where does the held-back tail start" for one needle set (each at least 3 bytes, as Matcher requires), reading at most maxLength - 1 bytes. */
export class PrefixIndex {
  readonly #needles: readonly Uint8Array[];
  readonly #maxLength: number;
  /** Bytes that start some needle, and pairs of bytes that do. */
  readonly #first = new Uint8Array(256);
  readonly #pair = new Uint8Array(1 << 16);
  /** Needles bucketed by the hash of their first three bytes. */
  readonly #start: Int32Array;
  readonly #ids: Int32Array;

  constructor(needles: readonly Uint8Array[]) {
    this.#needles = needles;
    this.#maxLength = needles.reduce((max, n) => Math.max(max, n.length), 0);
    for (const n of needles) {
      this.#first[n[0]!] = 1;
      this.#pair[(n[0]! << 8) | n[1]!] = 1;
    }
    // A needle of 3 bytes is bucketed too, but never a proper prefix of the 3 or more bytes compared there.
    const buckets = bucketize(needles.length, (id) => {
      const n = needles[id]!;
      return hash3(n[0]!, n[1]!, n[2]!);
    });
    this.#start = buckets.start;
    this.#ids = buckets.ids;
  }

  /**
   * The index in `data` where the longest suffix that is a proper prefix of
   * some needle starts; data.length when there is none.
   */
  heldStart(data: Uint8Array): number {
    const end = data.length;
    let q = Math.max(0, end - this.#maxLength + 1);
    for (; q < end - 2; q++) {
      const h = hash3(data[q]!, data[q + 1]!, data[q + 2]!);
      const last = this.#start[h + 1]!;
      for (let k = this.#start[h]!; k < last; k++) {
        const needle = this.#needles[this.#ids[k]!]!;
        const rest = end - q;
        if (needle.length <= rest) continue;
        let i = 0;
        while (i < rest && data[q + i] === needle[i]) i++;
        if (i === rest) return q;
      }
    }
    // Only the last two bytes are left: a proper prefix of 2 or of 1 byte.
    if (end >= 2 && this.#pair[(data[end - 2]! << 8) | data[end - 1]!]) return end - 2;
    if (end >= 1 && this.#first[data[end - 1]!]) return end - 1;
    return end;
  }
}
