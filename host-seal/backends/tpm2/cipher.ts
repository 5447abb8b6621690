// The token under the TPM-sealed key: AES-256-GCM, a fresh 96-bit IV per
// seal, the blob format and credential name bound as associated data, so that
// a blob renamed to another credential does not decrypt. Apart from
// tpm2/blob.ts so that an unseal loads node:crypto while the TPM works
// (docs/performance.md).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { StackError } from '../../../src/errors.js';
import { BLOB_FORMAT, type Tpm2Blob } from './blob.js';

const aad = (name: string) => Buffer.from(`${BLOB_FORMAT}:${name}`);

/** Encrypts the token with a fresh IV; `key` is the 32 bytes the TPM seals. */
export function encryptToken(key: Buffer, name: string, token: string): Tpm2Blob['cipher'] {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(aad(name));
  const data = Buffer.concat([cipher.update(token), cipher.final()]);
  return {
    alg: 'aes-256-gcm',
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    data: data.toString('base64'),
  };
}

/** Decrypts and authenticates; a wrong key, name or any flipped bit throws `corrupt`. */
export function decryptToken(key: Buffer, blob: Tpm2Blob, corrupt: () => StackError): string {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(blob.cipher.iv, 'base64'), { authTagLength: 16 })
      .setAAD(aad(blob.name))
      .setAuthTag(Buffer.from(blob.cipher.tag, 'base64'));
    const plain = Buffer.concat([decipher.update(Buffer.from(blob.cipher.data, 'base64')), decipher.final()]);
    const token = plain.toString('utf8');
    plain.fill(0);
    return token;
  } catch (error) {
    throw Object.assign(corrupt(), { cause: error });
  }
}
