// How real software writes a secret into text, by Node's and the platform's
// own encoders, for the tests of the leak checks and the redactor to take
// their expected forms from: a second, deliberately simple derivation, never
// src/secrets/variants.ts. `occurrence` is what lands in a log; `cores` is
// what of it depends on the secret alone, found black-box: for base64, the
// characters that stay the same whatever bytes stand before and after it.

export interface Core {
  how: string;
  /** The part of every occurrence that only the secret determines. */
  text: string;
}

/** At least this many code points: shorter forms are too common to mask (the documented rule). */
const MIN_CORE = 8;
const PEM_ARMOR = /^-----(BEGIN|END) [A-Z0-9 ]+-----$/;

const escapeNonAscii = (json: string, upper: boolean) => {
  let out = '';
  for (let i = 0; i < json.length; i++) {
    const unit = json.charCodeAt(i);
    if (unit < 0x80) out += json[i];
    else {
      const hex = unit.toString(16).padStart(4, '0');
      out += `\\u${upper ? hex.toUpperCase() : hex}`;
    }
  }
  return out;
};

/** The whole text a program writes for `secret` in the form `how`, with `lead`/`tail` bytes around it in binary forms. */
export function occurrence(secret: string, how: string, lead = Buffer.alloc(0), tail = Buffer.alloc(0)): string {
  const json = JSON.stringify(secret);
  switch (how) {
    case 'raw':
      return secret;
    case 'json':
      return json;
    case 'json-ascii':
      return escapeNonAscii(json, false);
    case 'json-ascii-upper':
      return escapeNonAscii(json, true);
    case 'json-html':
      return json
        .replaceAll('<', '\\u003c')
        .replaceAll('>', '\\u003e')
        .replaceAll('&', '\\u0026')
        .replaceAll('\u2028', '\\u2028')
        .replaceAll('\u2029', '\\u2029');
    case 'url':
      return encodeURIComponent(secret);
    case 'form':
      return new URLSearchParams({ v: secret }).toString().slice(2);
    case 'base64':
    case 'base64url':
      return Buffer.concat([lead, Buffer.from(secret, 'utf8'), tail]).toString(how);
    default:
      throw new Error(`unknown form ${how}`);
  }
}

/** Whether encodeURIComponent takes `secret` (it refuses lone surrogates). */
const urlSafe = (secret: string) => {
  try {
    encodeURIComponent(secret);
    return true;
  } catch {
    return false;
  }
};

const codePoints = (text: string) => [...text].length;

/** The first run of characters two strings of one length agree on, after what they differ on first. */
function commonMiddle(a: string, b: string): string {
  let start = 0;
  while (start < a.length && a[start] !== b[start]) start++;
  let end = start;
  while (end < a.length && a[end] === b[end]) end++;
  return a.slice(start, end);
}

/** Every form's core that is long enough to mask, and each line of a multi-line secret (PEM armor aside). */
export function cores(secret: string): Core[] {
  const out: Core[] = [{ how: 'raw', text: secret }];
  const lines = secret.split(/\r?\n/);
  if (lines.length > 1) for (const line of lines) if (!PEM_ARMOR.test(line)) out.push({ how: 'line', text: line });
  for (const how of ['json', 'json-ascii', 'json-ascii-upper', 'json-html'])
    out.push({ how, text: occurrence(secret, how).slice(1, -1) });
  if (urlSafe(secret)) for (const how of ['url', 'form']) out.push({ how, text: occurrence(secret, how) });
  for (const how of ['base64', 'base64url']) {
    for (const n of [0, 1, 2]) {
      // Bytes around it that differ in every bit: whatever depends on them differs; the rest is the secret's.
      const low = occurrence(secret, how, Buffer.alloc(n, 0x00), Buffer.alloc(3, 0x00));
      const high = occurrence(secret, how, Buffer.alloc(n, 0xff), Buffer.alloc(3, 0xff));
      out.push({ how: `${how}+${n}`, text: commonMiddle(low, high) });
    }
  }
  return out.filter((core) => codePoints(core.text) >= MIN_CORE);
}

/** The forms `occurrence` writes. */
export const FORMS = [
  'raw',
  'json',
  'json-ascii',
  'json-ascii-upper',
  'json-html',
  'url',
  'form',
  'base64',
  'base64url',
];

/** Whether `secret` can be written in `how` (encodeURIComponent refuses lone surrogates). */
export const writable = (secret: string, how: string) => (how === 'url' || how === 'form' ? urlSafe(secret) : true);
