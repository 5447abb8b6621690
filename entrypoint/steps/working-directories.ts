// Step 7 (after the write): make each channel's working directory that lies
// in the bridge's home, as the bridge's user. copilot-bridge does not make
// them; it warns about each missing one by its channel id on every start.
import { mkdirSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { errnoCode } from '../../src/errors.js';
import type { Log } from '../log.js';

const STEP = 'workspaces';

export function makeWorkingDirectories(configText: string, home: string | undefined, log: Log): void {
  if (!home) return;
  let channels: unknown;
  try {
    channels = (JSON.parse(configText) as { channels?: unknown }).channels;
  } catch {
    return;
  }
  if (!Array.isArray(channels)) return;
  const made = new Set<string>();
  for (const channel of channels) {
    const dir = (channel as { workingDirectory?: unknown })?.workingDirectory;
    if (typeof dir !== 'string' || !isAbsolute(dir)) continue;
    const inside = relative(home, resolve(dir));
    if (inside === '' || inside.startsWith('..') || isAbsolute(inside) || made.has(dir)) continue;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      made.add(dir);
    } catch (error) {
      log.warn(
        STEP,
        `cannot make a working directory in ${home} (${errnoCode(error) ?? 'error'}); the bridge will warn about it`,
      );
    }
  }
}
