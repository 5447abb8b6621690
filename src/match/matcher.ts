// Finds every occurrence of many byte strings at once (Wu-Manber). A window as
// long as the shortest needle slides over the data; a table indexed by a hash
// of the window's last three bytes says how far it can jump without passing
// over the start of any needle. Only where the table says 0 are the needles
// whose first window ends in that block compared byte by byte. On text that
// holds no secret the window jumps by nearly its whole length, so most bytes
// are never read.

const BLOCK = 3;
const TABLE_BITS = 16;
const TABLE_SIZE = 1 << TABLE_BITS;
const HASH_SHIFT = 32 - TABLE_BITS;
/** Longer windows would overflow the one-byte shift table, for little gain. */
const MAX_WINDOW = 200;

/** The table index of three bytes: Fibonacci hashing of the 24-bit word. Shared with PrefixIndex. */
export function hash3(b0: number, b1: number, b2: number): number {
  return Math.imul((b0 << 16) | (b1 << 8) | b2, 0x9e3779b1) >>> HASH_SHIFT;
}

/** Buckets of needle ids by table index, flattened: ids[start[h]..start[h+1]) (built once per needle set). */
export function bucketize(count: number, keyOf: (id: number) => number): { start: Int32Array; ids: Int32Array } {
  const start = new Int32Array(TABLE_SIZE + 1);
  const keys: number[] = [];
  for (let id = 0; id < count; id++) {
    const key = keyOf(id);
    keys.push(key);
    start[key + 1]!++;
  }
  for (let h = 0; h < TABLE_SIZE; h++) start[h + 1]! += start[h]!;
  const fill = start.slice(0, TABLE_SIZE);
  const ids = new Int32Array(start[TABLE_SIZE]!);
  keys.forEach((key, id) => {
    ids[fill[key]!++] = id;
  });
  return { start, ids };
}

/** Called for each occurrence, in order of start; returning true stops the scan. */
// biome-ignore lint/suspicious/noConfusingVoidType: a sink that returns nothing goes on scanning
export type MatchSink = (needle: number, start: number, end: number) => boolean | void;

/** A compiled set of needles (each at least 3 bytes) that scans a buffer for all of them in one pass. */
export class Matcher {
  readonly needles: readonly Uint8Array[];
  readonly minLength: number;
  readonly maxLength: number;
  readonly #window: number;
  readonly #shift: Uint8Array;
  readonly #bucketStart: Int32Array;
  readonly #bucketIds: Int32Array;

  constructor(needles: readonly Uint8Array[]) {
    this.needles = needles;
    const lengths = needles.map((n) => n.length);
    this.minLength = needles.length ? Math.min(...lengths) : 0;
    this.maxLength = needles.length ? Math.max(...lengths) : 0;
    if (needles.length && this.minLength < BLOCK) throw new RangeError(`needles must be at least ${BLOCK} bytes long`);
    const m = Math.min(this.minLength, MAX_WINDOW);
    this.#window = m;
    this.#shift = new Uint8Array(TABLE_SIZE).fill(Math.max(m - BLOCK + 1, 1));
    for (const needle of needles) {
      for (let end = BLOCK - 1; end < m; end++) {
        const h = hash3(needle[end - 2]!, needle[end - 1]!, needle[end]!);
        this.#shift[h] = Math.min(this.#shift[h]!, m - 1 - end);
      }
    }
    const { start, ids } = bucketize(needles.length, (id) => {
      const n = needles[id]!;
      return hash3(n[m - 3]!, n[m - 2]!, n[m - 1]!);
    });
    this.#bucketStart = start;
    this.#bucketIds = ids;
  }

  /** Reports every occurrence that starts in [from, to) and ends within `data`. */
  scan(data: Uint8Array, from: number, to: number, sink: MatchSink): void {
    if (this.needles.length === 0) return;
    const m = this.#window;
    const shift = this.#shift;
    const bucketStart = this.#bucketStart;
    const bucketIds = this.#bucketIds;
    const needles = this.needles;
    const length = data.length;
    const limit = Math.min(length, to + m - 1);
    let pos = from + m - 1;
    while (pos < limit) {
      // hash3 of the window's last block, written out: this loop is where the time goes.
      const h = Math.imul((data[pos - 2]! << 16) | (data[pos - 1]! << 8) | data[pos]!, 0x9e3779b1) >>> HASH_SHIFT;
      const jump = shift[h]!;
      if (jump !== 0) {
        pos += jump;
        continue;
      }
      const start = pos - m + 1;
      const last = bucketStart[h + 1]!;
      for (let k = bucketStart[h]!; k < last; k++) {
        const id = bucketIds[k]!;
        const needle = needles[id]!;
        const n = needle.length;
        if (start + n > length) continue;
        let i = 0;
        while (i < n && data[start + i] === needle[i]) i++;
        if (i === n && sink(id, start, start + n) === true) return;
      }
      pos++;
    }
  }
}
