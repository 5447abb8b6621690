// The resident scanner's log search in-process (entrypoint/health/leak-scan.ts
// appendedOnly): it reads only what was appended since the last search, yet
// finds a secret written across two appends at every split point, keeps what
// it found before, and searches a file whole again once it shrank, was
// replaced (rotated) or was rewritten in place (every `fullEvery` searches).
// The encodings come from Node's own encoders.
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { appendedOnly } from '../../entrypoint/health/leak-scan.js';
import { SecretSet } from '../../src/secrets/secret-set.js';

const secret = 'op-canary-Zq81-vX5p-44Lw-hhT0';
const secrets = new SecretSet([{ label: '$.github.token', value: secret }]);
const dir = mkdtempSync(join(tmpdir(), 'cbs-leak-scan-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const labels = (hits: Array<{ label: string; encoding: string }>) => hits.map((h) => `${h.label} (${h.encoding})`);

t.test('a secret appended in two writes is found at every split point', async (t) => {
  for (const [encoding, form] of [
    ['raw', secret],
    ['base64', Buffer.from(secret).toString('base64')],
  ] as const) {
    for (let split = 0; split <= form.length; split++) {
      const file = join(dir, `split-${encoding}-${split}.log`);
      writeFileSync(file, `${'x'.repeat(200)}\n`);
      const search = appendedOnly(secrets);
      t.same(search(file), [], 'nothing before');
      appendFileSync(file, `line: ${form.slice(0, split)}`);
      const middle = labels(search(file));
      appendFileSync(file, `${form.slice(split)}\n`);
      const after = labels(search(file));
      if (after.length !== 1 || (encoding === 'raw' && split < form.length && middle.length !== 0)) {
        t.fail(`${encoding} split at ${split}: ${JSON.stringify({ middle, after })}`);
        return;
      }
      t.equal(after[0], `$.github.token (${encoding})`);
    }
  }
});

t.test('what was found stays found; a file that shrank or was replaced is searched whole again', async (t) => {
  const file = join(dir, 'bridge.log');
  writeFileSync(file, `leaked ${secret}\n`);
  const search = appendedOnly(secrets, 1000);
  t.same(labels(search(file)), ['$.github.token (raw)']);
  appendFileSync(file, 'more lines\n'.repeat(50));
  t.same(labels(search(file)), ['$.github.token (raw)'], 'found before, still there: still reported');
  writeFileSync(file, 'truncated and clean\n');
  t.same(search(file), [], 'shrunk: searched whole, clean');
  renameSync(file, `${file}.1`);
  writeFileSync(file, `${'y'.repeat(100)}${Buffer.from(secret).toString('base64')}\n`);
  t.same(labels(search(file)), ['$.github.token (base64)'], 'rotated: the new file searched whole');
  rmSync(file);
  t.same(search(file), [], 'gone: nothing');
});

t.test('a file rewritten in place, same size or larger, is searched whole within fullEvery searches', async (t) => {
  const file = join(dir, 'in-place.log');
  const clean = `${'z'.repeat(secret.length + 10)}\n`;
  writeFileSync(file, clean);
  const search = appendedOnly(secrets, 3);
  t.same(search(file), []);
  writeFileSync(file, `${secret}${'z'.repeat(10)}\n`);
  const found: string[][] = [];
  for (let i = 0; i < 3; i++) found.push(labels(search(file)));
  t.ok(
    found.some((hits) => hits.includes('$.github.token (raw)')),
    `found within 3 searches: ${JSON.stringify(found)}`,
  );
  t.same(found[0], [], 'the appended-only read alone misses it: the periodic whole search is what finds it');
});

t.test('a log that is a symlink is not followed, and a FIFO does not block', async (t) => {
  const target = join(dir, 'elsewhere');
  writeFileSync(target, secret);
  const link = join(dir, 'link.log');
  symlinkSync(target, link);
  t.same(appendedOnly(secrets)(link), []);
  const fifo = join(dir, 'fifo.log');
  execFileSync('mkfifo', [fifo]);
  t.same(appendedOnly(secrets)(fifo), [], 'returns at once, nothing read');
});
