// How audit reads files, on a real directory tree: a value across the edge of
// one read (every cut of it around the first megabyte) is found; what one file
// left in the shared read buffer never joins the next file's bytes; links are
// not followed and a FIFO is never opened; a finding names the file, never the
// value.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { Search } from '../../host-seal/audit/search.js';
import { searchSet } from '../../host-seal/audit/values.js';
import { SecretSet } from '../../src/secrets/secret-set.js';
import { fakeToken } from '../fixtures/host-seal/fake-token.js';

const token = fakeToken();
const secrets = new SecretSet([{ label: 'the sealed op-sa-token', value: token }]);
const READ = 1 << 20;

function tree(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'cbs-audit-search-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('a value cut by the edge of a read, at every cut, in its longest form too, is found in its file', async (t) => {
  const dir = tree(t);
  const forms = { raw: token, base64: Buffer.from(token).toString('base64') };
  const expected: string[] = [];
  for (const [how, form] of Object.entries(forms))
    for (let k = 1; k < form.length; k = k < 8 || k >= form.length - 8 ? k + 1 : Math.min(k + 97, form.length - 8)) {
      // The first read ends k bytes into the value.
      const file = join(dir, `${how}-cut-${k}.log`);
      writeFileSync(
        file,
        Buffer.concat([Buffer.alloc(READ - k, 'a'), Buffer.from(`${form}\n`), Buffer.alloc(READ, 'b')]),
      );
      expected.push(`${file} ${how}`);
    }
  writeFileSync(join(dir, 'clean.log'), Buffer.alloc(3 * READ, 'c'));
  const search = new Search(secrets);
  t.equal(search.tree(dir, dir), expected.length + 1, 'every file read');
  t.same(
    search.findings.map((f) => `${f.where} ${/\((\w+)\)$/.exec(f.what)?.[1]}`).sort(),
    expected.sort(),
    'each file with a cut value, by its form, and only those',
  );
});

t.test("one file's last bytes never join the next file's first: no value made of two files", async (t) => {
  const dir = tree(t);
  const half = token.length >> 1;
  // Files are read in the order readdir gives; whichever comes first, neither holds the whole value.
  writeFileSync(join(dir, 'a.log'), Buffer.concat([Buffer.alloc(READ + 10, 'x'), Buffer.from(token.slice(0, half))]));
  writeFileSync(join(dir, 'b.log'), `${token.slice(half)}\n`);
  writeFileSync(join(dir, 'c.log'), token.slice(0, half));
  writeFileSync(join(dir, 'd.log'), `${token.slice(half)}\n`);
  const search = new Search(secrets);
  search.tree(dir, dir);
  t.same(search.findings, [], 'no finding');
});

t.test('links are not followed, a FIFO is not opened, names are relative to the place', async (t) => {
  const dir = tree(t);
  const outside = tree(t);
  writeFileSync(join(outside, 'secret.txt'), token);
  mkdirSync(join(dir, 'logs'));
  symlinkSync(join(outside, 'secret.txt'), join(dir, 'logs', 'link.txt'));
  symlinkSync(outside, join(dir, 'linked-dir'));
  execFileSync('mkfifo', [join(dir, 'logs', 'pipe')]);
  writeFileSync(join(dir, 'logs', 'bridge.log'), `auth=${Buffer.from(token).toString('base64')}\n`);
  const search = new Search(secrets);
  t.equal(search.tree('volume data', dir), 1, 'one regular file: the FIFO and the links are not read');
  t.same(search.findings, [{ where: 'volume data /logs/bridge.log', what: 'the sealed op-sa-token (base64)' }]);
  t.notOk(JSON.stringify(search.findings).includes(token.slice(4, 40)), 'no finding holds the value');
});

t.test(
  'wrapped forms: base64 at 76 columns, hex as xxd -p prints it, the value folded; each named as across lines',
  async (t) => {
    const dir = tree(t);
    const wrap = (text: string, width: number, eol = '\n') =>
      (text.match(new RegExp(`.{1,${width}}`, 'g')) ?? []).join(eol);
    writeFileSync(join(dir, 'b64.txt'), `${wrap(Buffer.from(token).toString('base64'), 76)}\n`);
    // xxd -p: 30 bytes a line, 60 hex digits.
    writeFileSync(join(dir, 'hex.txt'), `${wrap(Buffer.from(token).toString('hex'), 60)}\n`);
    writeFileSync(join(dir, 'HEX.txt'), Buffer.from(token).toString('hex').toUpperCase());
    writeFileSync(join(dir, 'folded.txt'), `${wrap(token, 100, '\r\n')}\r\n`);
    const search = new Search(searchSet([{ label: 'the sealed op-sa-token', value: token }]));
    search.tree(dir, dir);
    t.same(search.findings.map((f) => `${f.where.slice(dir.length)} ${f.what}`).sort(), [
      '/HEX.txt the sealed op-sa-token (hex)',
      '/b64.txt the sealed op-sa-token (base64, across lines)',
      '/folded.txt the sealed op-sa-token (raw, across lines)',
      '/hex.txt the sealed op-sa-token (hex, across lines)',
    ]);
  },
);

t.test(
  'names that are not UTF-8 hide nothing: a file, and everything under a directory, so named are read',
  async (t) => {
    const dir = tree(t);
    const latin1 = Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.from([0xe9]), Buffer.from('.txt')]);
    writeFileSync(latin1, token);
    const odd = Buffer.concat([Buffer.from(`${dir}/dir`), Buffer.from([0xff])]);
    mkdirSync(odd);
    writeFileSync(Buffer.concat([odd, Buffer.from('/plain.txt')]), `x ${token}\n`);
    const search = new Search(secrets);
    t.equal(search.tree('volume data', dir), 2, 'both files read');
    t.equal(search.findings.length, 2, 'both found');
    t.same(search.unsearched, []);
  },
);

t.test(
  'a file system mounted inside: entered when it holds data (tmpfs), named and not entered otherwise (proc)',
  { skip: process.getuid?.() !== 0 && 'mounting needs root' },
  async (t) => {
    const dir = tree(t);
    const data = join(dir, 'scratch');
    const proc = join(dir, 'proc');
    mkdirSync(data);
    mkdirSync(proc);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', data]);
    t.teardown(() => execFileSync('umount', ['-l', data]));
    execFileSync('mount', ['-t', 'proc', 'proc', proc]);
    t.teardown(() => execFileSync('umount', ['-l', proc]));
    writeFileSync(join(data, 'notes.txt'), token);
    // A directory bound below itself: walked once, no loop.
    const loop = join(dir, 'loop');
    mkdirSync(loop);
    execFileSync('mount', ['--bind', dir, loop]);
    t.teardown(() => execFileSync('umount', ['-l', loop]));
    const search = new Search(secrets);
    search.tree('volume data', dir);
    t.same(search.findings, [{ where: 'volume data /scratch/notes.txt', what: 'the sealed op-sa-token (raw)' }]);
    t.same(search.unsearched, [`${proc} (a mount point of another kind of file system, 0x9fa0: not entered)`]);
  },
);

t.test(
  'other encoders: a value folded in a JSON string (\\n), over CR-only or indented lines, %xx in lower case, \\/',
  async (t) => {
    const dir = tree(t);
    // A vault value with what URL and JSON encoders escape.
    const value = `p/${token.slice(4, 60)}:${token.slice(60, 120)}`;
    const wrap = (text: string, width: number, eol: string) =>
      (text.match(new RegExp(`.{1,${width}}`, 'g')) ?? []).join(eol);
    writeFileSync(join(dir, 'json-folded.json'), JSON.stringify({ note: wrap(value, 40, '\n') }));
    writeFileSync(join(dir, 'cr.txt'), wrap(value, 30, '\r'));
    writeFileSync(join(dir, 'indented.yml'), `key: >\n  ${wrap(value, 30, '\n  ')}\n`);
    writeFileSync(
      join(dir, 'url.txt'),
      `q=${encodeURIComponent(value).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())}`,
    );
    writeFileSync(join(dir, 'php.json'), `{"v":"${value.replaceAll('/', '\\/')}"}`);
    const search = new Search(searchSet([{ label: 'the value', value }]));
    search.tree(dir, dir);
    t.same(search.findings.map((f) => `${f.where.slice(dir.length)} ${f.what}`).sort(), [
      '/cr.txt the value (raw, across lines)',
      '/indented.yml the value (raw, across lines)',
      '/json-folded.json the value (raw, across lines)',
      '/php.json the value (JSON)',
      '/url.txt the value (URL-encoded)',
    ]);
    search.json('docker inspect', { Labels: { [value]: 'x' } });
    t.same(search.findings.at(-1), { where: 'docker inspect $.Labels (a key)', what: 'the value (raw)' });
  },
);

t.test('a gzip file (a rotated log): its content is searched, named as gunzipped; a broken one is named', async (t) => {
  const dir = tree(t);
  writeFileSync(join(dir, 'bridge.log.1.gz'), gzipSync(`line\nauth ${token}\nline\n`));
  writeFileSync(join(dir, 'broken.gz'), Buffer.concat([gzipSync('x'.repeat(1000)).subarray(0, 20)]));
  writeFileSync(join(dir, 'twice.gz'), gzipSync(gzipSync(`auth ${token}\n`)));
  const search = new Search(secrets);
  search.tree(dir, dir);
  t.same(
    search.findings.map((f) => `${f.where} ${f.what}`).sort(),
    [
      `${join(dir, 'bridge.log.1.gz')} (gunzipped) the sealed op-sa-token (raw)`,
      `${join(dir, 'twice.gz')} (gunzipped) (gunzipped) the sealed op-sa-token (raw)`,
    ],
    'once or twice compressed',
  );
  t.match(search.unsearched, [new RegExp(`^${join(dir, 'broken.gz')} \\(gunzipped\\) \\(`)]);
});
