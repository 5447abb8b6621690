// Matches of different needles that overlap or touch are masked once, as one
// region covering all of them: two masks side by side would only tell the
// reader where one secret ended and the next began.
import type { Matcher } from './matcher.js';

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
export function regionsOf(matcher: Matcher, data: Uint8Array): number[] {
  const out: number[] = [];
  collectRegions(matcher, data, 0, data.length, out);
  return out;
}
