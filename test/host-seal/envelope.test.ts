// The sealed envelope in-process: the token under AES-256-GCM with the blob
// format and the credential's name as associated data (tpm2/cipher.ts), and
// the blob file's checks (tpm2/blob.ts). The expected ciphertexts are made by
// node:crypto directly, not by the module under test. The same attacks
// against the real CLI and a software TPM: tpm2.test.ts.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import t from 'tap';
import { BLOB_FORMAT, PRIMARY, parseBlob, type Tpm2Blob } from '../../host-seal/backends/tpm2/blob.js';
import { decryptToken, encryptToken } from '../../host-seal/backends/tpm2/cipher.js';
import { StackError } from '../../src/errors.js';
import { fakeToken } from '../fixtures/host-seal/fake-token.js';

const key = randomBytes(32);
const token = fakeToken();
const corrupt = () => new StackError('blob-corrupt', 'altered', { exitCode: 65 });

function blobOf(name: string, cipher: Tpm2Blob['cipher']): Tpm2Blob {
  return {
    format: BLOB_FORMAT,
    name,
    sealedAt: '2026-11-30T00:00:00.000Z',
    fingerprint: '0123456789ab',
    primary: PRIMARY,
    pcrs: [],
    auth: false,
    sealed: { public: 'AAAA', private: 'AAAA' },
    cipher,
  };
}

/** The oracle: AES-256-GCM by node:crypto, with the associated data the design names. */
function openDirectly(name: string, cipher: Tpm2Blob['cipher'], aad = `${BLOB_FORMAT}:${name}`): string {
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(cipher.iv, 'base64'), { authTagLength: 16 });
  decipher.setAAD(Buffer.from(aad, 'utf8')).setAuthTag(Buffer.from(cipher.tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(cipher.data, 'base64')), decipher.final()]).toString('utf8');
}

t.test('the ciphertext is AES-256-GCM with exactly "FORMAT:NAME" as associated data', async (t) => {
  const cipher = encryptToken(key, 'agent-lal', token);
  t.equal(cipher.alg, 'aes-256-gcm');
  t.equal(Buffer.from(cipher.iv, 'base64').length, 12, 'a 96-bit IV');
  t.equal(Buffer.from(cipher.tag, 'base64').length, 16, 'a 128-bit tag');
  t.equal(openDirectly('agent-lal', cipher), token, 'node:crypto opens it with FORMAT:NAME');
  t.throws(() => openDirectly('agent-lal', cipher, 'agent-lal'), 'not with the name alone: the format is bound too');
  t.throws(() => openDirectly('agent-lal', cipher, `${BLOB_FORMAT}:`), 'not without the name');
  t.throws(() => openDirectly('agent-lal', cipher, ''), 'not without associated data');
});

t.test('a fresh IV each time: two seals of one token differ', async (t) => {
  const a = encryptToken(key, 'agent-lal', token);
  const b = encryptToken(key, 'agent-lal', token);
  t.not(a.iv, b.iv);
  t.not(a.data, b.data);
});

t.test("the round trip, and a blob renamed to another credential's name does not decrypt", async (t) => {
  const cipher = encryptToken(key, 'agent-lal', token);
  t.equal(decryptToken(key, blobOf('agent-lal', cipher), corrupt), token);
  t.throws(() => decryptToken(key, blobOf('agent-data', cipher), corrupt), { code: 'blob-corrupt' });
  t.throws(() => decryptToken(randomBytes(32), blobOf('agent-lal', cipher), corrupt), { code: 'blob-corrupt' });
});

t.test('any flipped bit of IV, tag or data is refused, with the cause kept', async (t) => {
  const cipher = encryptToken(key, 'agent-lal', token);
  for (const part of ['iv', 'tag', 'data'] as const) {
    const bytes = Buffer.from(cipher[part], 'base64');
    for (const at of [0, bytes.length - 1]) {
      const flipped = Buffer.from(bytes);
      flipped[at]! ^= 0x80;
      let error: unknown;
      try {
        decryptToken(key, blobOf('agent-lal', { ...cipher, [part]: flipped.toString('base64') }), corrupt);
      } catch (caught) {
        error = caught;
      }
      t.ok(error instanceof StackError && error.code === 'blob-corrupt', `${part}[${at}]: refused`);
      t.ok((error as { cause?: unknown }).cause instanceof Error, `${part}[${at}]: the crypto error is its cause`);
    }
  }
});

t.test(
  'a token encrypted elsewhere (node:crypto) under the same rules decrypts: the format is the documented one',
  async (t) => {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(`${BLOB_FORMAT}:op-sa-token`, 'utf8'));
    const data = Buffer.concat([c.update(token, 'utf8'), c.final()]);
    const cipher = {
      alg: 'aes-256-gcm' as const,
      iv: iv.toString('base64'),
      tag: c.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    };
    t.equal(decryptToken(key, blobOf('op-sa-token', cipher), corrupt), token);
  },
);

t.test('the blob file: every field is checked, each deviation named', async (t) => {
  const good = blobOf('agent-lal', encryptToken(key, 'agent-lal', token));
  const parse = (value: unknown, name = 'agent-lal') =>
    parseBlob(typeof value === 'string' ? value : JSON.stringify(value), '/x/agent-lal.tpm2.json', name, 'unseal');
  t.same(parse(good), good, 'a good blob parses to itself');
  const cases: [string, unknown, string][] = [
    ['not JSON', '{', 'not JSON'],
    ['null', null, 'unknown format'],
    ['a string', 'copilot-bridge-stack/tpm2-sealed/v1', 'not JSON'],
    ['the format as a JSON string', '"copilot-bridge-stack/tpm2-sealed/v1"', 'unknown format'],
    ['a list', [good], 'unknown format'],
    ['another format', { ...good, format: 'copilot-bridge-stack/tpm2-sealed/v2' }, 'unknown format'],
    ['another name', good, 'it belongs to another name'],
    ['sealedAt missing', { ...good, sealedAt: undefined }, 'metadata'],
    ['fingerprint a number', { ...good, fingerprint: 1 }, 'metadata'],
    ['another primary', { ...good, primary: { ...PRIMARY, template: 'rsa2048' } }, 'primary key template'],
    ['pcrs not a list', { ...good, pcrs: 7 }, 'pcrs'],
    ['pcr 24', { ...good, pcrs: [24] }, 'pcrs'],
    ['pcr -1', { ...good, pcrs: [-1] }, 'pcrs'],
    ['pcr 1.5', { ...good, pcrs: [1.5] }, 'pcrs'],
    ['auth a string', { ...good, auth: 'no' }, 'auth'],
    ['public part empty', { ...good, sealed: { ...good.sealed, public: '' } }, 'sealed key parts'],
    ['private part not base64', { ...good, sealed: { ...good.sealed, private: 'a b' } }, 'sealed key parts'],
    ['sealed missing', { ...good, sealed: undefined }, 'sealed key parts'],
    ['another cipher', { ...good, cipher: { ...good.cipher, alg: 'aes-128-gcm' } }, 'ciphertext'],
    ['iv not base64', { ...good, cipher: { ...good.cipher, iv: '!!' } }, 'ciphertext'],
    ['tag empty', { ...good, cipher: { ...good.cipher, tag: '' } }, 'ciphertext'],
    ['data missing', { ...good, cipher: { ...good.cipher, data: undefined } }, 'ciphertext'],
    ['cipher missing', { ...good, cipher: undefined }, 'ciphertext'],
  ];
  for (const [label, value, why] of cases) {
    const name = label === 'another name' ? 'agent-data' : 'agent-lal';
    let error: unknown;
    try {
      parse(value, name);
    } catch (caught) {
      error = caught;
    }
    t.ok(error instanceof StackError, `${label}: refused`);
    t.equal((error as StackError).code, 'blob-corrupt', `${label}: blob-corrupt`);
    t.equal((error as StackError).exitCode, 65, `${label}: a data error`);
    t.equal((error as StackError).step, 'unseal', `${label}: the step`);
    t.equal(
      (error as StackError).message,
      `the sealed file /x/agent-lal.tpm2.json is corrupted (${why}); get the token from 1Password again and re-seal it: op read "op://..." | npm run seal -- --name ${name} --force`,
      `${label}: says what and what to do`,
    );
  }
  for (const pcr of [0, 7, 23]) t.same(parse({ ...good, pcrs: [pcr] }).pcrs, [pcr], `pcr ${pcr} is a sha256 PCR`);
});

t.test('a tag cut short is refused: only the full 16 bytes authenticate', async (t) => {
  const name = 'agent-lal';
  const cipher = encryptToken(key, name, token);
  for (const bytes of [12, 8, 4]) {
    const tag = Buffer.from(cipher.tag, 'base64').subarray(0, bytes).toString('base64');
    t.throws(
      () => decryptToken(key, blobOf(name, { ...cipher, tag }), corrupt),
      { code: 'blob-corrupt', message: 'altered' },
      `a ${bytes}-byte prefix of the right tag`,
    );
  }
});

t.test('a blob file as written on disk, with its format named literally, parses and decrypts', async (t) => {
  const name = 'agent-lal';
  // Encrypted by node:crypto with the associated data the design names, and the token as UTF-8.
  const secret = `${token}-é€`;
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(
    Buffer.from(`copilot-bridge-stack/tpm2-sealed/v1:${name}`, 'utf8'),
  );
  const data = Buffer.concat([cipher.update(Buffer.from(secret, 'utf8')), cipher.final()]);
  const text = JSON.stringify({
    format: 'copilot-bridge-stack/tpm2-sealed/v1',
    name,
    sealedAt: '2026-11-30T00:00:00.000Z',
    fingerprint: '0123456789ab',
    primary: { hierarchy: 'o', template: 'ecc256:aes128cfb', hash: 'sha256' },
    pcrs: [7],
    auth: false,
    sealed: { public: 'AAAA', private: 'AAAA' },
    cipher: {
      alg: 'aes-256-gcm',
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    },
  });
  const blob = parseBlob(text, '/x/agent-lal.tpm2.json', name, 'unseal');
  t.equal(decryptToken(key, blob, corrupt), secret, 'the token, non-ASCII intact');
  t.equal(openDirectly(name, encryptToken(key, name, secret)), secret, 'and the other way round');
});
