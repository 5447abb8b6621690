// The tpm2 backend: a random 256-bit key sealed by the TPM under the owner
// hierarchy (optionally bound to sha256 PCRs, or to an auth value), the token
// encrypted with it in Node. One file per credential, NAME.tpm2.json (0600 in a
// 0700 directory), replaced atomically.
import { randomBytes } from 'node:crypto';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unlinkIfExists } from '../../src/fs/atomic-write.js';
import { ExitCode, StackError, errnoCode } from '../../src/errors.js';
import { tokenFingerprint } from '../../src/secrets/fingerprint.js';
import { ensurePrivateDir, writeFileAtomic } from '../fs-safe.js';
import { tpm2BlobPath } from '../paths.js';
import type { Backend, BackendContext, SealOptions, SealedRecord, UnsealOptions } from './backend.js';
import { BLOB_FORMAT, PRIMARY, decryptToken, encryptToken, parseBlob, type Tpm2Blob } from './tpm2-blob.js';
import { withTpm, type Tpm } from './tpm2-tools.js';

const createPrimary = (tpm: Tpm) =>
  tpm.run('tpm2_createprimary', ['-C', PRIMARY.hierarchy, '-g', PRIMARY.hash, '-G', PRIMARY.template, '-c', 'primary.ctx', '-Q']);

export class Tpm2Backend implements Backend {
  readonly name = 'tpm2' as const;

  constructor(private readonly context: BackendContext) {}

  async seal(name: string, token: string, { pcrs, auth }: SealOptions): Promise<SealedRecord> {
    if (pcrs.length > 0 && auth) {
      throw new StackError('usage', 'a tpm2 seal takes --pcrs or an auth value, not both yet; choose one', { step: 'seal', exitCode: ExitCode.usage });
    }
    const key = randomBytes(32);
    try {
      const sealed = await withTpm(this.context.env, { step: 'seal', name }, async (tpm) => {
        await writeFile(join(tpm.dir, 'key.bin'), key, { mode: 0o600, flag: 'wx' });
        await createPrimary(tpm);
        const args = ['-C', 'primary.ctx', '-g', 'sha256', '-i', 'key.bin', '-u', 'seal.pub', '-r', 'seal.priv', '-Q'];
        if (pcrs.length > 0) {
          await tpm.run('tpm2_createpolicy', ['--policy-pcr', '-l', `sha256:${pcrs.join(',')}`, '-L', 'pcr.policy', '-Q']);
          args.push('-L', 'pcr.policy');
        }
        if (auth) args.push('-p', 'file:-');
        await tpm.run('tpm2_create', args, auth);
        await writeFile(join(tpm.dir, 'key.bin'), Buffer.alloc(key.length));
        const part = async (file: string) => (await readFile(join(tpm.dir, file))).toString('base64');
        return { public: await part('seal.pub'), private: await part('seal.priv') };
      });
      const blob: Tpm2Blob = {
        format: BLOB_FORMAT,
        name,
        sealedAt: new Date().toISOString(),
        fingerprint: tokenFingerprint(token),
        primary: PRIMARY,
        pcrs,
        auth: auth !== undefined,
        sealed,
        cipher: encryptToken(key, name, token),
      };
      await ensurePrivateDir(this.context.configDir, 'seal');
      await writeFileAtomic(tpm2BlobPath(this.context.configDir, name), `${JSON.stringify(blob, null, 2)}\n`, 0o600);
      return toRecord(blob);
    } finally {
      key.fill(0);
    }
  }

  async unseal(name: string, { askAuth }: UnsealOptions): Promise<string> {
    const blob = await this.read(name, 'unseal');
    if (!blob) {
      throw new StackError('not-sealed', `nothing is sealed under ${name} in the TPM; seal it first: op read "op://..." | npm run seal -- --name ${name}`, { step: 'unseal', exitCode: ExitCode.noInput });
    }
    const auth = blob.auth ? await askAuth(name) : undefined;
    const key = await withTpm(this.context.env, { step: 'unseal', name, pcrs: blob.pcrs }, async (tpm) => {
      await writeFile(join(tpm.dir, 'seal.pub'), Buffer.from(blob.sealed.public, 'base64'), { flag: 'wx' });
      await writeFile(join(tpm.dir, 'seal.priv'), Buffer.from(blob.sealed.private, 'base64'), { flag: 'wx' });
      await createPrimary(tpm);
      await tpm.run('tpm2_load', ['-C', 'primary.ctx', '-u', 'seal.pub', '-r', 'seal.priv', '-c', 'seal.ctx', '-Q']);
      await tpm.flush(true); // without a resource manager, three loaded objects fill the TPM
      const policy = blob.pcrs.length > 0 ? ['-p', `pcr:sha256:${blob.pcrs.join(',')}`] : auth ? ['-p', 'file:-'] : [];
      return tpm.run('tpm2_unseal', ['-c', 'seal.ctx', ...policy], auth);
    });
    try {
      const corrupt = () =>
        new StackError('blob-corrupt', `the sealed file of ${name} does not decrypt with the key the TPM released (it was altered); get the token from 1Password again and re-seal it with --force`, {
          step: 'unseal',
          exitCode: ExitCode.dataErr,
        });
      if (key.length !== 32) throw corrupt();
      return decryptToken(key, blob, corrupt);
    } finally {
      key.fill(0);
    }
  }

  async describe(name: string): Promise<SealedRecord | undefined> {
    try {
      const blob = await this.read(name, 'status');
      return blob && toRecord(blob);
    } catch (error) {
      const problem = error instanceof StackError ? error.message : 'unreadable';
      return { name, backend: 'tpm2', sealedAt: '?', fingerprint: '?', pcrs: [], auth: false, problem };
    }
  }

  async forget(name: string): Promise<boolean> {
    return unlinkIfExists(tpm2BlobPath(this.context.configDir, name));
  }

  private async read(name: string, step: string): Promise<Tpm2Blob | undefined> {
    const path = tpm2BlobPath(this.context.configDir, name);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return undefined;
      throw new StackError('blob-unreadable', `cannot read ${path}; check its owner and mode (0600, yours)`, { step, exitCode: ExitCode.noInput, cause: error });
    }
    return parseBlob(text, path, name, step);
  }
}

function toRecord(blob: Tpm2Blob): SealedRecord {
  const { name, sealedAt, fingerprint, pcrs, auth } = blob;
  return { name, backend: 'tpm2', sealedAt, fingerprint, pcrs, auth };
}
