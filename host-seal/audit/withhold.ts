// What audit prints is named by what this host chose (a file's or a
// process's name): a place that spells a value, or a good part of one, must
// not print it. A line is withheld when it holds any form of a value whole, or
// shares a run of RUN characters with a value, as written or with everything
// but letters and digits taken out of both (a value cut by separators, `/`,
// `#` or any other). Control characters in a
// name are shown escaped, so a name cannot rewrite the terminal either.
import type { SecretSet } from '../../src/secrets/secret-set.js';

/** The shortest run of a value's characters a printed line may not share with it. */
const RUN = 12;

const alnum = (text: string) => text.replace(/[^A-Za-z0-9]/g, '');

export class Withhold {
  readonly #runs = new Set<string>();

  constructor(
    private readonly secrets: SecretSet,
    values: readonly string[],
  ) {
    for (const value of values)
      for (const form of [value, alnum(value)])
        for (let at = 0; at + RUN <= form.length; at++) this.#runs.add(form.slice(at, at + RUN));
  }

  /** Whether `line` spells a value, whole or a run of RUN of its characters, with or without separators. */
  names(line: string): boolean {
    if (this.secrets.find(line) || this.secrets.find(alnum(line))) return true;
    for (const form of [line, alnum(line)])
      for (let at = 0; at + RUN <= form.length; at++) if (this.#runs.has(form.slice(at, at + RUN))) return true;
    return false;
  }
}

/** `line` with control characters (a terminal's escapes) and invisible or direction marks shown as \xNN / \uNNNN. */
export const printable = (line: string): string =>
  line.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, (c) =>
    c.charCodeAt(0) > 0xff
      ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
      : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
