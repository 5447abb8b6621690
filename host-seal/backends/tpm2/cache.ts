// A per-boot cache of the sealed key's loaded form: the context file that
// tpm2_load saves (TPM2_ContextSave of the loaded sealing object). With it an
// unseal sends the context to the TPM directly (tpm2/direct.ts; or runs
// tpm2_unseal -c FILE on a TCTI Node does not speak) instead of re-creating
// the primary key and loading the sealed parts again.
//
// What the file is: the sealed object's sensitive part encrypted and
// integrity-protected by the TPM with a key only this TPM holds, valid until
// the TPM's next reset or clear (so, at most until reboot). It is as useless
// off this TPM as the sealed parts in NAME.tpm2.json, and it does not bypass
// the object's authorization: a PCR policy and an auth value are still checked
// by tpm2_unseal. It is kept 0600 in a 0700 directory of the user on tmpfs
// ($XDG_RUNTIME_DIR, else /dev/shm), named after the credential and a digest
// of the TCTI and the sealed parts, so that a re-seal or another TPM never
// meets an old file. Every failure here only means "no cache".
import { lstatSync, readdirSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../../../src/fs/atomic-write.js';
import { ensurePrivateDir } from '../../fs-safe.js';

const SUFFIX = '.ctx';

/** `$XDG_RUNTIME_DIR/copilot-bridge-stack-tpm2`, else `/dev/shm/copilot-bridge-stack-tpm2-UID`. */
export function contextCacheDir(env: NodeJS.ProcessEnv): string {
  return env.XDG_RUNTIME_DIR
    ? join(env.XDG_RUNTIME_DIR, 'copilot-bridge-stack-tpm2')
    : join('/dev/shm', `copilot-bridge-stack-tpm2-${process.getuid?.() ?? 'user'}`);
}

/**
 * 64-bit FNV-1a of the UTF-8 bytes, as 16 hex digits, on four 16-bit limbs. It only tells cache
 * entries apart: nothing secret goes in, and nothing rests on it being hard to collide (the
 * directory is writable by its owner only, and the token is authenticated by AES-GCM after any
 * unseal). Not SHA-256: node:crypto before the first tool (docs/performance.md).
 */
export function fnv1a64(text: string): string {
  let h0 = 0x2325;
  let h1 = 0x8422;
  let h2 = 0x9ce4;
  let h3 = 0xcbf2;
  for (const byte of Buffer.from(text, 'utf8')) {
    h0 ^= byte;
    // h *= 0x100000001b3 (mod 2^64): 0x1b3 times each limb, plus h << 40 (limbs 0 and 1, shifted 8 bits, into 2 and 3).
    const t0 = h0 * 0x1b3;
    const t1 = h1 * 0x1b3 + (t0 >>> 16);
    const t2 = h2 * 0x1b3 + (t1 >>> 16) + (h0 << 8);
    const t3 = h3 * 0x1b3 + (t2 >>> 16) + (h1 << 8);
    h0 = t0 & 0xffff;
    h1 = t1 & 0xffff;
    h2 = t2 & 0xffff;
    h3 = t3 & 0xffff;
  }
  return [h3, h2, h1, h0].map((limb) => limb.toString(16).padStart(4, '0')).join('');
}

/** The cache entry of one sealed object on one TCTI. */
export function contextPath(
  dir: string,
  name: string,
  tcti: string,
  sealed: { public: string; private: string },
): string {
  return join(dir, `${name}.${fnv1a64(`${tcti}\n${sealed.public}\n${sealed.private}`)}${SUFFIX}`);
}

/** `path` when it is a regular file of ours, not readable by others, in a 0700 directory of ours; else undefined. */
export function cachedContext(path: string): string | undefined {
  const uid = process.getuid?.();
  const ours = (info: { uid: number; mode: number }) =>
    (uid === undefined || info.uid === uid) && (info.mode & 0o077) === 0;
  try {
    const dir = lstatSync(dirname(path));
    const file = lstatSync(path);
    return dir.isDirectory() && ours(dir) && file.isFile() && ours(file) ? path : undefined;
  } catch {
    return undefined;
  }
}

/** Stores a context file for `name` and removes its older entries. Never throws. */
export function storeContext(path: string, name: string, bytes: Uint8Array): void {
  try {
    ensurePrivateDir(dirname(path), 'cache');
    writeFileAtomic(path, bytes, 0o600);
    dropContexts(dirname(path), name, path);
  } catch {
    // Not ours, full, read-only: the next unseal takes the long way again.
  }
}

/** Removes the cache entries of `name` (except `keep`); true when one was removed. Never throws. */
export function dropContexts(dir: string, name: string, keep?: string): boolean {
  let removed = false;
  let entries: string[];
  try {
    // Only our own private directory, never through a link: another user could point one at files to delete.
    const info = lstatSync(dir);
    const uid = process.getuid?.();
    if (!info.isDirectory() || (uid !== undefined && info.uid !== uid) || (info.mode & 0o077) !== 0) return false;
    entries = readdirSync(dir);
  } catch {
    return false; // no directory: nothing cached
  }
  for (const entry of entries) {
    const path = join(dir, entry);
    // `name.` never prefixes another name's entries: names hold no dots.
    if (path === keep || !entry.startsWith(`${name}.`) || !entry.endsWith(SUFFIX)) continue;
    try {
      unlinkSync(path);
      removed = true;
    } catch {
      // gone already, or not ours
    }
  }
  return removed;
}
