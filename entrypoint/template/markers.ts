// Learns exactly which value `op inject` substituted for each reference, in one
// call to op: every reference is wrapped in markers made of a random nonce that
// no secret can contain by chance, op renders the wrapped template, and the
// markers are cut out again. The values are what the leak checks search for;
// the unwrapped text is the rendered file.

import { ExitCode, StackError } from '../../src/errors.js';
import { randomHex } from '../../src/process/random.js';
import type { Reference } from '../../src/template/references.js';

export interface Markers {
  nonce: string;
  /** The template with every reference wrapped in markers: what op renders. */
  wrapped: string;
}

export interface Unwrapped {
  /** The rendered text with the markers removed. */
  text: string;
  /** The substituted value of each reference, by reference index. */
  values: string[];
}

const open = (nonce: string, i: number) => `\u27e6${nonce}:${i}:`;
const close = (nonce: string, i: number) => `:${i}:${nonce}\u27e7`;

/** Wraps each reference in nonce markers. */
export function wrapReferences(template: string, references: readonly Reference[]): Markers {
  const nonce = randomHex(12);
  let wrapped = '';
  let at = 0;
  for (const r of references) {
    wrapped +=
      template.slice(at, r.start) + open(nonce, r.index) + template.slice(r.start, r.end) + close(nonce, r.index);
    at = r.end;
  }
  return { nonce, wrapped: wrapped + template.slice(at) };
}

/** Cuts the markers out of op's output; fails if op did not render every reference exactly once. */
export function unwrapReferences(output: string, markers: Markers, count: number, step: string): Unwrapped {
  const values: string[] = [];
  let text = '';
  let at = 0;
  for (let i = 0; i < count; i++) {
    const start = output.indexOf(open(markers.nonce, i), at);
    const valueStart = start + open(markers.nonce, i).length;
    const end = start === -1 ? -1 : output.indexOf(close(markers.nonce, i), valueStart);
    if (start === -1 || end === -1) {
      throw new StackError(
        'render-incomplete',
        `op inject did not render reference #${i + 1}; check that the template is unchanged and op is the 1Password CLI`,
        {
          step,
          exitCode: ExitCode.dataErr,
        },
      );
    }
    values.push(output.slice(valueStart, end));
    text += output.slice(at, start) + output.slice(valueStart, end);
    at = end + close(markers.nonce, i).length;
  }
  return { text: text + output.slice(at), values };
}
