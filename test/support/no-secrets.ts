// Asserts that no secret value appears in a text, in its raw form or in the
// encodings a leak usually takes (base64 of the value, each line of a
// multi-line value). Written independently of src/secrets so that the code
// under test is not its own judge.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface Asserter {
  notOk(value: unknown, message: string): unknown;
}

export function leakedForms(secret: string): string[] {
  const forms = [secret, Buffer.from(secret).toString('base64').replace(/=+$/, '')];
  for (const line of secret.split(/\r?\n/)) if (line.length >= 8) forms.push(line);
  return forms;
}

/** Fails the test for each secret found in `text`, naming where, not what. */
export function assertNoSecrets(t: Asserter, where: string, text: string, secrets: readonly string[]): void {
  secrets.forEach((secret, i) => {
    const found = leakedForms(secret).some((form) => text.includes(form));
    t.notOk(found, `secret #${i} must not appear in ${where}`);
  });
}

/** Every regular file under a directory, with its contents. */
export function filesUnder(dir: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const s = statSync(p, { throwIfNoEntry: false });
      if (s?.isDirectory()) walk(p);
      else if (s?.isFile()) out.push([p, readFileSync(p, 'utf8')]);
    }
  };
  walk(dir);
  return out;
}
