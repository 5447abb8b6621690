// The stream form of the redactor: what the entrypoint puts between a child
// process and its own stdout and stderr. It holds back only what could be the
// start of a secret, so lines come out as soon as they are complete.
//
// The rule for what it may emit: the data seen so far is D = pending + chunk. Everything before the
// held-back tail (the longest suffix of D that is a proper prefix of a needle)
// is final: every match that starts there is complete in D. So we emit, in
// order, raw bytes up to the tail and one mask per region; a mask that runs to
// or into the tail stays "open", so that a match found later that overlaps or
// touches it extends it silently, as the one-shot form would have merged them.
// The output is therefore byte for byte the output of the one-shot form.
import { Transform, type TransformCallback } from 'node:stream';
import { type Compiled, compile } from '../match/compiled.js';
import type { SecretSet } from '../secrets/secret-set.js';
import { collectRegions, MASK } from './one-shot.js';

const EMPTY = Buffer.alloc(0);

/** Pending bytes, what of them was already emitted, and whether the output ends in a mask that may still grow. */
class StreamState {
  readonly #compiled: Compiled;
  readonly #mask: Buffer;
  /** Chunks up to this size are joined to the pending bytes; larger ones are scanned in place. */
  readonly #joinLimit: number;
  readonly #regions: number[] = [];
  #pending: Buffer = EMPTY;
  /** Bytes at the start of #pending already covered by the last mask emitted. */
  #covered = 0;
  #maskOpen = false;

  constructor(compiled: Compiled, mask: Buffer) {
    this.#compiled = compiled;
    this.#mask = mask;
    this.#joinLimit = Math.max(2 * compiled.matcher.maxLength, 16 * 1024);
  }

  /** Takes one chunk and returns the pieces that may be emitted now (subarrays of the input where possible). */
  write(chunk: Buffer): Buffer[] {
    const { matcher, prefixes } = this.#compiled;
    let head = this.#pending;
    let tail = chunk;
    if (head.length > 0 && tail.length <= this.#joinLimit) {
      tail = Buffer.concat([head, tail]);
      head = EMPTY;
    }
    const regions = this.#regions;
    regions.length = 0;
    const split = head.length;
    if (split > 0) {
      // Matches that start in the pending bytes end within maxLength - 1 bytes of the chunk.
      const junction = Buffer.concat([head, tail.subarray(0, matcher.maxLength - 1)]);
      collectRegions(matcher, junction, 0, split, regions);
    }
    collectRegions(matcher, tail, 0, tail.length, regions, split);
    // When split > 0 the chunk is longer than any needle, so the held tail lies within it.
    const held = split + prefixes.heldStart(tail);
    return this.#emit(head, tail, held);
  }

  /** Returns the last pieces: at the end of the input nothing can grow any more. */
  end(): Buffer[] {
    const data = this.#pending;
    const regions = this.#regions;
    regions.length = 0;
    collectRegions(this.#compiled.matcher, data, 0, data.length, regions);
    return this.#emit(EMPTY, data, data.length);
  }

  /** Emits D[covered, held) with its regions masked and keeps D[held, end) pending. D = head + tail. */
  #emit(head: Buffer, tail: Buffer, held: number): Buffer[] {
    const split = head.length;
    const slice = (from: number, to: number): Buffer => {
      if (from >= split) return tail.subarray(from - split, to - split);
      if (to <= split) return head.subarray(from, to);
      return Buffer.concat([head.subarray(from), tail.subarray(0, to - split)]);
    };
    const pieces: Buffer[] = [];
    const regions = this.#regions;
    let pos = this.#covered;
    let open = this.#maskOpen;
    for (let i = 0; i < regions.length; i += 2) {
      const start = regions[i]!;
      const end = regions[i + 1]!;
      if (open && start <= pos) {
        if (end > pos) pos = end;
        continue;
      }
      if (start > held) break;
      if (start > pos) pieces.push(slice(pos, start));
      pieces.push(Buffer.from(this.#mask));
      pos = end;
      open = true;
    }
    if (pos < held) {
      pieces.push(slice(pos, held));
      pos = held;
      open = false;
    }
    const total = split + tail.length;
    this.#pending = Buffer.from(slice(held, total));
    this.#covered = pos - held;
    this.#maskOpen = open;
    return pieces;
  }
}

/** How masked regions are written. */
export interface RedactorOptions {
  mask?: string;
}

/** A Transform (Buffer in, Buffer out) that replaces every occurrence of every needle with MASK, even split across chunks. */
export function createRedactor(set: SecretSet, options: RedactorOptions = {}): Transform {
  if (set.needles.length === 0) {
    return new Transform({
      transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
        callback(null, chunk);
      },
    });
  }
  const state = new StreamState(compile(set.needles), Buffer.from(options.mask ?? MASK));
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      for (const piece of state.write(chunk)) this.push(piece);
      callback();
    },
    flush(callback: TransformCallback) {
      for (const piece of state.end()) this.push(piece);
      callback();
    },
  });
}
