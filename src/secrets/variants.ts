// The encoded forms under which a secret can reach a log: as itself, line by
// line, inside base64 at any byte alignment, URL-encoded, JSON-escaped. Each
// form is worked out from the secret's UTF-8 bytes, so that the redactor can
// look for plain byte strings. Forms shorter than MIN_MASK_LENGTH are dropped:
// masking them would mask ordinary words.

/** Secrets and forms shorter than this (in Unicode code points) are never masked: they would match ordinary text. */
export const MIN_MASK_LENGTH = 8;

/** One encoded form of a secret, tagged with how it was encoded so that a leak report can say which form leaked. */
export interface Variant {
  encoding: string;
  text: string;
}

/** Unicode code points in `text`: the length that MIN_MASK_LENGTH is compared with. */
function codePointLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** Whether `text` is too short to mask; counts code points only when UTF-16 length leaves it open. */
export function tooShortToMask(text: string): boolean {
  return text.length < 2 * MIN_MASK_LENGTH && codePointLength(text) < MIN_MASK_LENGTH;
}

// PEM armor lines ("-----BEGIN PRIVATE KEY-----") are public, identical in
// every key, and would mask the headers of certificates: not a line variant.
const PEM_ARMOR = /^-----(BEGIN|END) [A-Z0-9 ]+-----$/;

/** The base64 characters that depend only on `bytes` when `lead` other bytes precede them (0, 1 or 2). */
export function base64Aligned(bytes: Uint8Array, lead: number, encoding: 'base64' | 'base64url'): string {
  const text = Buffer.concat([Buffer.alloc(lead), bytes]).toString(encoding);
  const first = Math.ceil((8 * lead) / 6);
  const end = Math.floor((8 * (lead + bytes.length)) / 6);
  return text.slice(first, end);
}

const HEX = '0123456789ABCDEF';
const URI_SAFE = /[A-Za-z0-9\-_.!~*'()]/;
const FORM_SAFE = /[A-Za-z0-9\-_.*]/;

/** Percent-encodes UTF-8 bytes as encodeURIComponent does (form: as URLSearchParams does), without throwing on lone surrogates. */
export function percentEncode(bytes: Uint8Array, form = false): string {
  let out = '';
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    if ((form ? FORM_SAFE : URI_SAFE).test(char))
      out += char; // the safe sets are ASCII: no byte >= 0x80 passes
    else if (form && byte === 0x20) out += '+';
    else out += '%' + HEX[byte >> 4] + HEX[byte & 15];
  }
  return out;
}

/** URL and form encodings: native encodeURIComponent, or the byte-wise path for text it refuses (lone surrogates). */
function urlForms(secret: string, bytes: Uint8Array): Variant[] {
  let url: string;
  try {
    url = encodeURIComponent(secret);
  } catch {
    return [
      { encoding: 'url', text: percentEncode(bytes) },
      { encoding: 'form', text: percentEncode(bytes, true) },
    ];
  }
  const form = url.replace(/[!'()~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()).replace(/%20/g, '+');
  return [
    { encoding: 'url', text: url },
    { encoding: 'form', text: form },
  ];
}

const hex4 = (char: string): string => char.charCodeAt(0).toString(16).padStart(4, '0');

/** JSON string escapes without the quotes, in the flavours that common encoders write. */
function jsonForms(secret: string): Variant[] {
  const json = JSON.stringify(secret).slice(1, -1);
  return [
    { encoding: 'json', text: json },
    // Python's json.dumps (ensure_ascii) and JavaScript escapers: \u00e9
    { encoding: 'json-ascii', text: json.replace(/[\u0080-\uffff]/g, (c) => '\\u' + hex4(c)) },
    // Java's and C#'s escapers: \u00E9
    { encoding: 'json-ascii-upper', text: json.replace(/[\u0080-\uffff]/g, (c) => '\\u' + hex4(c).toUpperCase()) },
    // Go's encoding/json: <, >, & and U+2028/2029 as \u003c...
    { encoding: 'json-html', text: json.replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + hex4(c)) },
  ];
}

/** Every form of `secret` worth masking: at least MIN_MASK_LENGTH code points each, no text twice, first tag wins. */
export function secretVariants(secret: string): Variant[] {
  const bytes = Buffer.from(secret);
  const candidates: Variant[] = [{ encoding: 'raw', text: secret }];
  // A one-line secret's only line is the raw value: dropped below as a repeat.
  for (const line of secret.split(/\r?\n/))
    if (!PEM_ARMOR.test(line)) candidates.push({ encoding: 'line', text: line });
  candidates.push(...jsonForms(secret));
  candidates.push(...urlForms(secret, bytes));
  for (const encoding of ['base64', 'base64url'] as const) {
    for (const lead of [0, 1, 2]) candidates.push({ encoding, text: base64Aligned(bytes, lead, encoding) });
  }
  const seen = new Set<string>();
  return candidates.filter(({ text }) => {
    if (tooShortToMask(text) || seen.has(text)) return false;
    seen.add(text);
    return true;
  });
}
