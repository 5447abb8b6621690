// Finds the 1Password secret references in a template, as `op inject` reads
// them: enclosed `{{ op://vault/item[/section]/field }}` (spaces inside the
// braces allowed) and unenclosed `op://vault/item/field` (not preceded by a
// letter, digit, `-`, `+`, `\` or `.`; ending at the first character that
// cannot be part of one). `${VAR}` inside a reference is left for op to
// expand. Everything else is literal text that op copies through unchanged.

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

const ENCLOSED = /\{\{\s*(op:\/\/(?:[^{}]|\$\{[A-Za-z_][A-Za-z0-9_]*\})*?)\s*\}\}/g;
const UNENCLOSED = /(?<![A-Za-z0-9\-+\\.])(op:\/\/(?:[A-Za-z0-9\-?_./=]|\$\{[A-Za-z_][A-Za-z0-9_]*\})+)/g;

/** Every reference in the template, enclosed or not, in order. */
export function findReferences(template: string): Reference[] {
  const spans = [...template.matchAll(ENCLOSED)].map((m) => ({
    start: m.index,
    end: m.index + m[0].length,
    ref: m[1] ?? '',
  }));
  for (const m of template.matchAll(UNENCLOSED)) {
    if (!spans.some((s) => m.index >= s.start && m.index < s.end))
      spans.push({ start: m.index, end: m.index + m[0].length, ref: m[1] ?? '' });
  }
  return spans.sort((a, b) => a.start - b.start).map((s, index) => ({ index, ...s }));
}

/** 1-based line number of an offset, for messages that point into a file without quoting it. */
export function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}
