// The bridge's pid, beside its config: the root of the one process tree that
// may hold the bridge's GitHub token in its environment (verify reads it).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BRIDGE_PID_FILE } from '../../src/contract.js';

export const bridgePidFile = (output: string) => join(dirname(output), BRIDGE_PID_FILE);

export function writePid(file: string, pid: number): void {
  try {
    writeFileSync(file, `${pid}\n`, { mode: 0o644 });
  } catch {
    // verify then allows the token in no process at all.
  }
}

/** The pid written there, if any. */
export function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
