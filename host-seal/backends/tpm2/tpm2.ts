// The tpm2 backend: a random 256-bit key sealed by the TPM under the owner
// hierarchy (optionally bound to sha256 PCRs, or to an auth value), the token
// encrypted with it in Node. One file per credential, NAME.tpm2.json (0600 in a
// 0700 directory), replaced atomically. Sealing runs tpm2 tools. An unseal
// keeps the loaded sealed object's context on tmpfs until the TPM resets
// (tpm2/cache.ts); the next one sends that context to the TPM directly, a few
// raw commands over the TCTI (tpm2/direct.ts), or runs tpm2_unseal on it when
// the TCTI is not one Node speaks (tabrmd, mssim).
//
// node:crypto is loaded only where it is used (seal, the nonce of a policy
// session, and the decrypt after the unseal), so that the TPM's work starts
// without it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ExitCode, hasErrno, isStackError, StackError } from '../../../src/errors.js';
import { readSmallFile, unlinkIfExists, writeFileAtomic, writeFileExclusive } from '../../../src/fs/atomic-write.js';
import { randomBytes as urandom } from '../../../src/process/random.js';
import { ensurePrivateDir } from '../../fs-safe.js';
import { withLock } from '../../lock.js';
import { tpm2BlobPath } from '../../paths.js';
import type { Backend, BackendContext, SealedRecord, SealOptions, UnsealOptions } from '../backend.js';
import { BLOB_FORMAT, PRIMARY, parseBlob, type Tpm2Blob } from './blob.js';
import { cachedContext, contextCacheDir, contextPath, dropContexts, storeContext } from './cache.js';
import { unsealDirect } from './direct.js';
import type { FailureContext } from './errors.js';
import { type Tpm, tctiOf, withTpm } from './tools.js';
import { openTransport } from './transport.js';

const createPrimary = (tpm: Tpm) =>
  tpm.run('tpm2_createprimary', [
    '-C',
    PRIMARY.hierarchy,
    '-g',
    PRIMARY.hash,
    '-G',
    PRIMARY.template,
    '-c',
    'primary.ctx',
    '-Q',
  ]);

/**
 * The auth value as tpm2 tools must read it from `file:-` to take its bytes as they are: without
 * the `str:` prefix a value that starts with `hex:`, `str:` or `file:` would be decoded, or name
 * another file to read (tpm2-tools lib/tpm2_auth_util.c). The direct path sends the bytes as they
 * are, so both agree. readAuth allows no line break or NUL, which the tools would cut at.
 */
const literalAuth = (auth: Buffer) => Buffer.concat([Buffer.from('str:'), auth]);

/** Failures of an unseal from a cached context that say nothing about the cache: reported, never retried. */
const NOT_THE_CACHE = new Set([
  'tpm-auth-failed',
  'tpm-pcr-mismatch',
  'tpm-lockout',
  'tpm-timeout',
  'tpm-tools-missing',
  'tpm-full',
]);

/**
 * Whether a failed unseal from a cached context means the context is stale (the TPM was reset,
 * cleared or replaced since it was saved, or the file is damaged), so that the long way is taken
 * once. Never for an auth or policy failure: a retry would count twice toward the TPM's
 * dictionary-attack lockout. Never when the TCTI failed: the TPM is not answering at all.
 */
function staleContext(error: StackError, stderr: string): boolean {
  if (NOT_THE_CACHE.has(error.code) || /tcti/i.test(stderr)) return false;
  return !isStackError(error, 'tpm-unreachable') || /Esys_ContextLoad|object context/i.test(stderr);
}

export class Tpm2Backend implements Backend {
  readonly name = 'tpm2' as const;

  constructor(private readonly context: BackendContext) {}

  async seal(name: string, token: string, options: SealOptions): Promise<SealedRecord> {
    return this.locked(`seal ${name}`, () => this.sealLocked(name, token, options));
  }

  private async sealLocked(name: string, token: string, { pcrs, auth, replace }: SealOptions): Promise<SealedRecord> {
    if (pcrs.length > 0 && auth) {
      throw new StackError('usage', 'a tpm2 seal takes --pcrs or an auth value, not both yet; choose one', {
        step: 'seal',
        exitCode: ExitCode.usage,
      });
    }
    const [{ randomBytes }, { tokenFingerprint }, { encryptToken }] = await Promise.all([
      import('node:crypto'),
      import('../fingerprint.js'),
      import('./cipher.js'),
    ]);
    const key = randomBytes(32);
    try {
      const sealed = await withTpm(this.context.env, { step: 'seal', name }, (tpm) =>
        tpm.scratch(async (dir) => {
          writeFileSync(join(dir, 'key.bin'), key, { mode: 0o600, flag: 'wx' });
          await createPrimary(tpm);
          const args = [
            '-C',
            'primary.ctx',
            '-g',
            'sha256',
            '-i',
            'key.bin',
            '-u',
            'seal.pub',
            '-r',
            'seal.priv',
            '-Q',
          ];
          if (pcrs.length > 0) {
            await tpm.run('tpm2_createpolicy', [
              '--policy-pcr',
              '-l',
              `sha256:${pcrs.join(',')}`,
              '-L',
              'pcr.policy',
              '-Q',
            ]);
            args.push('-L', 'pcr.policy');
          }
          if (auth) args.push('-p', 'file:-');
          const input = auth && literalAuth(auth);
          await tpm.run('tpm2_create', args, input).finally(() => input?.fill(0));
          writeFileSync(join(dir, 'key.bin'), Buffer.alloc(key.length));
          const part = (file: string) => readFileSync(join(dir, file)).toString('base64');
          return { public: part('seal.pub'), private: part('seal.priv') };
        }),
      );
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
      ensurePrivateDir(this.context.configDir, 'seal');
      const text = `${JSON.stringify(blob, null, 2)}\n`;
      // Never place what unseal would refuse to read back.
      if (Buffer.byteLength(text) > MAX_BLOB_BYTES) {
        throw new StackError(
          'blob-too-large',
          `the sealed file of ${name} would be larger than ${MAX_BLOB_BYTES / 1024} KiB, more than unseal reads; nothing was changed: seal less`,
          { step: 'seal', exitCode: ExitCode.cantCreate },
        );
      }
      if (replace) writeFileAtomic(tpm2BlobPath(this.context.configDir, name), text, 0o600);
      else placeExclusive(tpm2BlobPath(this.context.configDir, name), text, name);
      dropContexts(contextCacheDir(this.context.env), name); // a replaced seal's loaded context is useless now
      return toRecord(blob);
    } finally {
      key.fill(0);
    }
  }

  async unseal(name: string, options: UnsealOptions): Promise<string> {
    return this.locked(`unseal ${name}`, () => this.unsealLocked(name, options));
  }

  /** One TPM operation at a time (two would flush each other's objects and sessions). */
  private locked<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withLock(
      { dir: this.context.configDir, name: 'tpm', what, progress: this.context.progress ?? new PassThrough() },
      fn,
    );
  }

  private async unsealLocked(name: string, { askAuth, leaveNoCache }: UnsealOptions): Promise<string> {
    const blob = this.read(name, 'unseal');
    if (!blob) {
      throw new StackError(
        'not-sealed',
        `nothing is sealed under ${name} in the TPM; seal it first: op read "op://..." | npm run seal -- --name ${name}`,
        { step: 'unseal', exitCode: ExitCode.noInput },
      );
    }
    const auth = blob.auth ? await askAuth(name) : undefined;
    const tcti = tctiOf(this.context.env);
    const cache = contextPath(contextCacheDir(this.context.env), name, tcti, blob.sealed);
    let cached = cachedContext(cache);
    let key: Buffer | undefined;
    try {
      // The short way: the loaded object's context, saved by an earlier unseal since the TPM's last reset.
      // The decrypt's module (node:crypto) loads while the TPM loads the context (docs/performance.md).
      let loadCipher!: () => void;
      const cipher = new Promise<typeof import('./cipher.js')>(
        (resolve) => (loadCipher = () => resolve(import('./cipher.js'))),
      );
      const context = { step: 'unseal', tcti, name, pcrs: blob.pcrs, cause: undefined };
      const direct = cached ? this.unsealDirect(tcti, cached, blob, auth, context, loadCipher) : undefined;
      key = await direct;
      loadCipher(); // when the direct path did not run or did not get that far (a second call changes nothing)
      if (direct && !key) {
        dropContexts(join(cache, '..'), name);
        cached = undefined;
      }
      key ??= await this.unsealWithTools(name, blob, auth, leaveNoCache ? undefined : cache, cached);
      const corrupt = () =>
        new StackError(
          'blob-corrupt',
          `the sealed file of ${name} does not decrypt with the key the TPM released (it was altered); get the token from 1Password again and re-seal it with --force`,
          {
            step: 'unseal',
            exitCode: ExitCode.dataErr,
          },
        );
      if (key.length !== 32) throw corrupt();
      const { decryptToken } = await cipher;
      return decryptToken(key, blob, corrupt);
    } finally {
      key?.fill(0);
      auth?.fill(0);
    }
  }

  /**
   * Unseals from the cached context with raw TPM commands (tpm2/direct.ts), sending the first one
   * before it returns. Undefined: no transport for this TCTI, or take the long way.
   */
  private unsealDirect(
    tcti: string,
    cached: string,
    blob: Tpm2Blob,
    auth: Buffer | undefined,
    context: FailureContext,
    whileWaiting: () => void,
  ): Promise<Buffer | undefined> {
    let contextFile: Buffer;
    try {
      contextFile = readFileSync(cached);
    } catch {
      return Promise.resolve(undefined); // removed since it was checked: no cache
    }
    const transport = openTransport(tcti);
    if (!transport) return Promise.resolve(undefined);
    return unsealDirect(
      transport,
      { contextFile, pcrs: blob.pcrs, auth, nonce: () => urandom(16), whileWaiting },
      context,
    );
  }

  /** Unseals with tpm2 tools: from the cached context when there is one and no direct transport, else the long way. */
  private unsealWithTools(
    name: string,
    blob: Tpm2Blob,
    auth: Buffer | undefined,
    /** Where to keep the loaded context for next time; undefined: nowhere. */
    cache: string | undefined,
    cached: string | undefined,
  ): Promise<Buffer> {
    const policy = blob.pcrs.length > 0 ? ['-p', `pcr:sha256:${blob.pcrs.join(',')}`] : auth ? ['-p', 'file:-'] : [];
    const input = auth && literalAuth(auth);
    return withTpm(this.context.env, { step: 'unseal', name, pcrs: blob.pcrs }, async (tpm) => {
      if (cached) {
        const outcome = await tpm.attempt('tpm2_unseal', ['-c', cached, ...policy], input);
        if (outcome.ok) return outcome.stdout;
        const error = tpm.failure(outcome);
        if (!staleContext(error, outcome.stderr)) throw error;
        if (cache) dropContexts(join(cache, '..'), name);
      }
      // The long way: re-create the primary, load the sealed parts, keep the loaded context for next time.
      return tpm.scratch(async (dir) => {
        writeFileSync(join(dir, 'seal.pub'), Buffer.from(blob.sealed.public, 'base64'), { flag: 'wx' });
        writeFileSync(join(dir, 'seal.priv'), Buffer.from(blob.sealed.private, 'base64'), { flag: 'wx' });
        await createPrimary(tpm);
        await tpm.run('tpm2_load', ['-C', 'primary.ctx', '-u', 'seal.pub', '-r', 'seal.priv', '-c', 'seal.ctx', '-Q']);
        if (cache) storeContext(cache, name, readFileSync(join(dir, 'seal.ctx')));
        await tpm.flush(true); // without a resource manager, the primary, its reloaded copy and the sealed object fill the TPM
        return tpm.run('tpm2_unseal', ['-c', 'seal.ctx', ...policy], input);
      });
    }).finally(() => input?.fill(0));
  }

  async describe(name: string): Promise<SealedRecord | undefined> {
    try {
      const blob = this.read(name, 'status');
      return blob && toRecord(blob);
    } catch (error) {
      const problem = error instanceof StackError ? error.message : 'unreadable';
      return { name, backend: 'tpm2', sealedAt: '?', fingerprint: '?', pcrs: [], auth: false, problem };
    }
  }

  async forget(name: string): Promise<boolean> {
    const removed = unlinkIfExists(tpm2BlobPath(this.context.configDir, name));
    dropContexts(contextCacheDir(this.context.env), name);
    return removed;
  }

  private read(name: string, step: string): Tpm2Blob | undefined {
    const path = tpm2BlobPath(this.context.configDir, name);
    let text: string;
    try {
      text = readSmallFile(path, MAX_BLOB_BYTES).toString('utf8');
    } catch (error) {
      if (hasErrno(error, 'ENOENT')) return undefined;
      if (hasErrno(error, 'EFBIG')) {
        throw new StackError(
          'blob-too-large',
          `${path} is larger than any sealed token's file (${MAX_BLOB_BYTES / 1024} KiB), so it is not one; remove it (npm run seal:forget -- --name ${name}) and seal again`,
          { step, exitCode: ExitCode.dataErr },
        );
      }
      throw new StackError(
        'blob-unreadable',
        `cannot read ${path}; check its owner and mode (0600, yours, not a link)`,
        { step, exitCode: ExitCode.noInput, cause: error },
      );
    }
    return parseBlob(text, path, name, step);
  }
}

function toRecord(blob: Tpm2Blob): SealedRecord {
  const { name, sealedAt, fingerprint, pcrs, auth } = blob;
  return { name, backend: 'tpm2', sealedAt, fingerprint, pcrs, auth };
}

/** A sealed token's file is a few KiB; anything much larger is not one (and would cost its size in memory to parse). */
const MAX_BLOB_BYTES = 64 * 1024;

/** Places a new blob only if none exists: of two seals of one name without --force, one wins and the other says so. */
function placeExclusive(path: string, text: string, name: string): void {
  try {
    writeFileExclusive(path, text, 0o600);
  } catch (error) {
    if (!hasErrno(error, 'EEXIST')) throw error;
    throw new StackError(
      'exists',
      `${name} was sealed meanwhile by another run; add --force to replace it, or choose another --name`,
      { step: 'seal', exitCode: ExitCode.cantCreate },
    );
  }
}
