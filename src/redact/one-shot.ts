// The one-shot form of the redactor, for text that is already whole: an error
// message, a rendered file shown in a diff, a captured log. The stream form
// produces exactly the same bytes; the tests hold them to it.
import type { SecretSet } from '../secrets/secret-set.js';
import { compile } from './compiled.js';
import { MASK, regionsOf } from './regions.js';

/** Replaces every occurrence of every needle of `set` in `input` with `mask`; input without any is returned as is. */
export function redact(set: SecretSet, input: string, mask?: string): string;
export function redact(set: SecretSet, input: Buffer, mask?: string): Buffer;
export function redact(set: SecretSet, input: string | Buffer, mask: string = MASK): string | Buffer {
  if (set.needles.length === 0) return input;
  const data = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const regions = regionsOf(compile(set.needles).matcher, data);
  if (regions.length === 0) return input;
  const maskBytes = Buffer.from(mask, 'utf8');
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
