// The one file a TPM seal leaves: the sealed key's public and private parts
// (only this TPM can load them) and the token encrypted with that key by
// AES-256-GCM, the credential name bound as associated data (tpm2/cipher.ts).
// The token is longer than the 128 bytes a TPM seals, hence the key.
import { ExitCode, StackError } from '../../../src/errors.js';

export const BLOB_FORMAT = 'copilot-bridge-stack/tpm2-sealed/v1';
/** The transient primary key under the owner hierarchy, re-created from the same template each time. */
export const PRIMARY = { hierarchy: 'o', template: 'ecc256:aes128cfb', hash: 'sha256' } as const;

export interface Tpm2Blob {
  format: typeof BLOB_FORMAT;
  name: string;
  sealedAt: string;
  fingerprint: string;
  primary: typeof PRIMARY;
  /** sha256-bank PCR indices in the sealed key's policy; empty for none. */
  pcrs: number[];
  auth: boolean;
  sealed: { public: string; private: string };
  cipher: { alg: 'aes-256-gcm'; iv: string; tag: string; data: string };
}

/** Parses and checks a blob file's text; any deviation is a StackError naming the file and the fix. */
export function parseBlob(text: string, path: string, name: string, step: string): Tpm2Blob {
  const bad = (what: string) =>
    new StackError(
      'blob-corrupt',
      `the sealed file ${path} is corrupted (${what}); get the token from 1Password again and re-seal it: op read "op://..." | npm run seal -- --name ${name} --force`,
      {
        step,
        exitCode: ExitCode.dataErr,
      },
    );
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  const blob = value as Partial<Tpm2Blob> | null;
  const b64 = (v: unknown) => typeof v === 'string' && /^[A-Za-z0-9+/]+={0,2}$/.test(v);
  if (blob?.format !== BLOB_FORMAT) throw bad('unknown format');
  if (blob.name !== name) throw bad('it belongs to another name');
  if (typeof blob.sealedAt !== 'string' || typeof blob.fingerprint !== 'string') throw bad('metadata');
  if (JSON.stringify(blob.primary) !== JSON.stringify(PRIMARY)) throw bad('primary key template');
  if (!Array.isArray(blob.pcrs) || !blob.pcrs.every((p) => Number.isInteger(p) && p >= 0 && p <= 23)) throw bad('pcrs');
  if (typeof blob.auth !== 'boolean') throw bad('auth');
  if (!blob.sealed || !b64(blob.sealed.public) || !b64(blob.sealed.private)) throw bad('sealed key parts');
  const c = blob.cipher;
  if (c?.alg !== 'aes-256-gcm' || !b64(c.iv) || !b64(c.tag) || !b64(c.data)) throw bad('ciphertext');
  return blob as Tpm2Blob;
}
