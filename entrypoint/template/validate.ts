// Checks a rendered config before it is written: op's output must not be
// empty, no reference may be left unrendered, and a .json file must parse. A
// value that breaks the JSON is named by its JSON path, never shown.
import { ExitCode, failAt } from '../../src/errors.js';
import { lineOf } from '../../src/template/references.js';
import type { ReferencePlace } from './json-paths.js';

export interface RenderedValue {
  /** The reference's op:// address (committed to git, not secret). */
  ref: string;
  place: ReferencePlace;
  value: string;
}

/** Throws a StackError (exit 65) naming the first problem found. */
export function validateRendered(text: string, values: readonly RenderedValue[], json: boolean, step: string): void {
  const fail = failAt(step, ExitCode.dataErr);
  if (text.trim().length === 0)
    fail('render-empty', 'op inject produced no output; check the template file is not empty');
  for (const marker of ['{{', 'op://']) {
    const at = text.indexOf(marker);
    if (at !== -1) {
      fail(
        'render-unresolved',
        `the rendered config still contains '${marker}' at line ${lineOf(text, at)}; every reference must have the form {{ op://vault/item/field }}`,
      );
    }
  }
  if (!json) return;
  try {
    JSON.parse(text);
    return;
  } catch {
    // Find the value to blame below.
  }
  for (const v of values) {
    if (v.place.inString && JSON.stringify(v.value).slice(1, -1) !== v.value) {
      fail(
        'render-json-value',
        `the secret at ${v.place.path ?? v.ref} contains a quote, backslash or control character that breaks the JSON; store it JSON-escaped in 1Password, or reference a field that holds it escaped`,
      );
    }
  }
  fail(
    'render-json',
    'the rendered config is not valid JSON (the template itself may be invalid); check the template with the references replaced by strings',
  );
}
