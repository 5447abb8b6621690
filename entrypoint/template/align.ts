// Recovers the substituted values from a rendered file and the template it
// came from, without asking 1Password again: the template's literal text must
// appear in order in the rendered file, and whatever lies between is a value.
// Used by `verify`, which runs later and cannot call op.
import type { Reference } from '../../src/template/references.js';

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The value of each reference, in order, or undefined when the file was not rendered from this template. */
export function alignValues(
  template: string,
  references: readonly Reference[],
  rendered: string,
): string[] | undefined {
  let source = '^';
  let at = 0;
  for (const r of references) {
    source += `${escapeRegExp(template.slice(at, r.start))}([\\s\\S]*?)`;
    at = r.end;
  }
  source += `${escapeRegExp(template.slice(at))}$`;
  const match = new RegExp(source).exec(rendered);
  return match ? match.slice(1).map((v) => v ?? '') : undefined;
}
