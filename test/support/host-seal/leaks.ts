// Stands for: anyone who later reads the terminal output, a log, a file or the
// process list, looking for the token or a recognisable piece of it.
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The token and pieces of it long enough to be recognised: the body without
 * its prefix, a middle slice and the end. Not the start: base64 of the same
 * JSON keys is the same in every token-shaped string.
 */
export function probes(secret: string): string[] {
  if (secret.length < 96) return [secret];
  const middle = Math.floor(secret.length / 2);
  return [secret.slice(4), secret.slice(middle - 16, middle + 16), secret.slice(-32)];
}

/** True when `text` holds the secret or a recognisable piece of it. */
export function leaks(text: string | Uint8Array, secret: string): boolean {
  const haystack = typeof text === 'string' ? text : Buffer.from(text).toString('latin1');
  return probes(secret).some((probe) => haystack.includes(probe));
}

/** Every regular file under `dir` (recursively) whose bytes hold the secret. */
export async function filesHolding(dir: string, secret: string): Promise<string[]> {
  const found: string[] = [];
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return found;
  }
  for (const entry of entries) {
    const path = join(dir, entry);
    const info = await lstat(path).catch(() => undefined);
    if (!info) continue;
    if (info.isDirectory()) found.push(...(await filesHolding(path, secret)));
    else if (info.isFile() && info.size < 16 * 1024 * 1024) {
      const bytes = await readFile(path).catch(() => undefined);
      if (bytes && leaks(bytes, secret)) found.push(path);
    }
  }
  return found;
}
