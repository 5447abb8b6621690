// Names each reference of a JSON template by its JSON path
// ($.platforms.mattermost.bots.admin.token), so that errors and leak reports
// can say where a secret belongs without ever showing it. The template is
// parsed with each reference replaced by a sentinel string.
import type { Reference } from '../../src/template/references.js';

export interface ReferencePlace {
  /** JSON path of the value that holds the reference, or undefined when the template is not JSON. */
  path: string | undefined;
  /** True when the reference sits inside a JSON string literal (so its value must be JSON-escaped). */
  inString: boolean;
}

const sentinel = (i: number) => `__cbs_ref_${i}__`;

/** For each reference: its JSON path (when the template parses as JSON) and whether it is inside a string. */
export function placeReferences(template: string, references: readonly Reference[]): ReferencePlace[] {
  const inString = stringContexts(template, references);
  let probe = '';
  let at = 0;
  for (const r of references) {
    probe += template.slice(at, r.start) + (inString[r.index] ? sentinel(r.index) : `"${sentinel(r.index)}"`);
    at = r.end;
  }
  probe += template.slice(at);
  const paths = new Map<number, string>();
  try {
    collectPaths(JSON.parse(probe), '$', paths);
  } catch {
    // Not JSON: references are named by their op:// address instead.
  }
  return references.map((r) => ({ path: paths.get(r.index), inString: inString[r.index] ?? false }));
}

/** Scans the literal text between references, tracking whether each reference starts inside a JSON string. */
function stringContexts(template: string, references: readonly Reference[]): boolean[] {
  const result: boolean[] = [];
  let inside = false;
  let escaped = false;
  let at = 0;
  for (const r of references) {
    for (let i = at; i < r.start; i++) {
      const c = template[i];
      if (escaped) escaped = false;
      else if (inside && c === '\\') escaped = true;
      else if (c === '"') inside = !inside;
    }
    result[r.index] = inside;
    at = r.end;
  }
  return result;
}

function collectPaths(node: unknown, path: string, paths: Map<number, string>): void {
  if (typeof node === 'string') {
    for (const m of node.matchAll(/__cbs_ref_(\d+)__/g)) paths.set(Number(m[1]), path);
  } else if (Array.isArray(node)) {
    node.forEach((item, i) => collectPaths(item, `${path}[${i}]`, paths));
  } else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) collectPaths(value, `${path}${pathKey(key)}`, paths);
  }
}

/** `.name` for identifier-like keys, `["odd key"]` otherwise. */
function pathKey(key: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}
