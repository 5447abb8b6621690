// Random names for temp files and marker nonces, read from the kernel's
// CSPRNG. node:crypto would do the same but costs the entrypoint about 6 ms
// of start-up just to load.
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
