// A cross-process lock (tap runs test files in parallel): an exclusive-create
// lock file under .cache/e2e holding the owner's pid; a lock whose owner is
// gone is taken over. Used around starting dockerd and building images.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive as alive } from '../alive.js';
import { CACHE_DIR } from './paths.js';
import { waitFor } from './wait.js';

export async function withLock<T>(name: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const file = join(CACHE_DIR, `${name}.lock`);
  const take = () => {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch {
      const owner = Number(readFileSync(file, { encoding: 'utf8', flag: 'r' }) || 0);
      if (owner && owner !== process.pid && !alive(owner)) rmSync(file, { force: true });
      return false;
    }
  };
  await waitFor(`the lock ${file} (held by another test process)`, take, {
    timeoutMs,
    intervalMs: 200,
    detail: () => `held by pid ${readFileSync(file, 'utf8')}`,
  });
  try {
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}
