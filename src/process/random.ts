// Random names for temp files and marker nonces, from the kernel's CSPRNG
// (not node:crypto: the start-up budget, docs/performance.md).
import { closeSync, openSync, readSync } from 'node:fs';

/** `bytes` random bytes. */
export function randomBytes(bytes: number): Buffer {
  const buffer = Buffer.alloc(bytes);
  const fd = openSync('/dev/urandom', 'r');
  try {
    for (let at = 0; at < bytes; ) at += readSync(fd, buffer, at, bytes - at, null);
  } finally {
    closeSync(fd);
  }
  return buffer;
}

/** `bytes` random bytes as lowercase hex. */
export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}
