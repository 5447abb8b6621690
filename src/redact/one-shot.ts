// The one-shot form of the redactor, for text that is already whole: an error
// message, a rendered file shown in a diff, a captured log. The stream form
// produces exactly the same bytes; the tests hold them to it.
//
// Matches of different needles that overlap or touch are masked once, as one
// region covering all of them: two masks side by side would only tell the
// reader where one secret ended and the next began.

import { compile } from '../match/compiled.js';
import type { Matcher } from '../match/matcher.js';
import type { SecretSet } from '../secrets/secret-set.js';

/** The text that replaces each masked region unless the caller chooses another. */
export const MASK = '<redacted>';

/**
 * Appends to `out`, as flat [start, end) pairs shifted by `offset`, the regions
 * of all matches starting in [from, to); a region that overlaps or touches the
 * last pair already in `out` extends it. Matches must come in order of start.
 */
export function collectRegions(
  matcher: Matcher,
  data: Uint8Array,
  from: number,
  to: number,
  out: number[],
  offset = 0,
): void {
  matcher.scan(data, from, to, (_id, start, end) => {
    const s = start + offset;
    const e = end + offset;
    const n = out.length;
    if (n > 0 && s <= out[n - 1]!) {
      if (e > out[n - 1]!) out[n - 1] = e;
    } else {
      out.push(s, e);
    }
  });
}

/** Every region of `data`, merged: what both the one-shot and the stream form mask. */
function regionsOf(matcher: Matcher, data: Uint8Array): number[] {
  const out: number[] = [];
  collectRegions(matcher, data, 0, data.length, out);
  return out;
}

/** Replaces every occurrence of every needle of `set` in `input` with `mask`; input without any is returned as is. */
export function redact(set: SecretSet, input: string, mask?: string): string;
export function redact(set: SecretSet, input: Buffer, mask?: string): Buffer;
export function redact(set: SecretSet, input: string | Buffer, mask: string = MASK): string | Buffer {
  const data = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const regions = regionsOf(compile(set.needles).matcher, data);
  if (regions.length === 0) return input;
  const maskBytes = Buffer.from(mask);
  const pieces: Buffer[] = [];
  let pos = 0;
  for (let i = 0; i < regions.length; i += 2) {
    pieces.push(data.subarray(pos, regions[i]!), maskBytes);
    pos = regions[i + 1]!;
  }
  pieces.push(data.subarray(pos));
  const output = Buffer.concat(pieces);
  return typeof input === 'string' ? output.toString('utf8') : output;
}
