// Finds the 1Password secret references in a template, exactly as `op inject`
// reads them: `{{ op://vault/item[/section]/field }}`, spaces inside the braces
// allowed, `${VAR}` inside a reference left for op to expand. Everything else in
// the template is literal text that op copies through unchanged.

/** One `{{ op://... }}` occurrence in a template. */
export interface Reference {
  /** 0-based position among the template's references. */
  index: number;
  /** Offsets of the whole `{{ ... }}` in the template. */
  start: number;
  end: number;
  /** The reference itself, `op://...`, without braces or surrounding spaces. */
  ref: string;
}

const REFERENCE = /\{\{\s*(op:\/\/[^{}]*?)\s*\}\}/g;

/** Every reference in the template, in order. */
export function findReferences(template: string): Reference[] {
  const found: Reference[] = [];
  for (const match of template.matchAll(REFERENCE)) {
    found.push({
      index: found.length,
      start: match.index,
      end: match.index + match[0].length,
      ref: match[1] ?? '',
    });
  }
  return found;
}

/** 1-based line number of an offset, for messages that point into a file without quoting it. */
export function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}
