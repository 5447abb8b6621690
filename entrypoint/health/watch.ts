// In supervise mode the entrypoint stays resident with the secrets in memory,
// so it runs the leak scan itself instead of a healthcheck starting Node every
// second: at once, then every interval, and soon after any change in the
// bridge's log directory. Each scan renews the verdict file (verdict.ts); the
// HEALTHCHECK only reads it. A scan that throws writes an `error:` verdict.
// A change of verdict is logged (findings hold no values; the log screens
// every line anyway).
import { type FSWatcher, watch } from 'node:fs';
import { errnoCode } from '../../src/errors.js';
import type { Log } from '../log.js';
import { type Scan, summary } from './leak-scan.js';
import { formatVerdict, writeVerdict } from './verdict.js';

const STEP = 'health';
/** A change in the log directory is scanned this soon after (writes come in bursts). */
const SETTLE_MS = 50;

export interface Watch {
  scan: () => Scan;
  /** Whether there is any maskable secret to look for (else the verdict says so). */
  checked: boolean;
  file: string;
  logDir: string;
  intervalMs: number;
  log: Log;
  now?: () => number;
}

/** Starts scanning; returns the function that stops it. */
export function watchHealth(options: Watch): () => void {
  const now = options.now ?? Date.now;
  // Valid for three intervals: one late scan (a busy machine) is not a failure, a supervisor that stopped is.
  const validFor = 3 * options.intervalMs;
  let last = '';
  let watcher: FSWatcher | undefined;
  let pending: NodeJS.Timeout | undefined;
  const run = () => {
    pending = undefined;
    let headline: string;
    let findings: string[] = [];
    try {
      const scan = options.scan();
      findings = scan.findings;
      headline = summary(scan, options.checked);
    } catch (error) {
      headline = `error: the leak scan failed (${errnoCode(error) ?? (error as Error).name})`;
    }
    try {
      writeVerdict(options.file, formatVerdict(now() + validFor, headline, findings));
    } catch (error) {
      if (last !== 'unwritable')
        options.log.warn(STEP, `cannot write ${options.file} (${errnoCode(error) ?? 'error'})`);
      last = 'unwritable';
      return;
    }
    const state = findings.length > 0 ? findings.join('\n') : headline.split(':')[0]!;
    if (state !== last) {
      last = state;
      try {
        if (findings.length > 0) for (const line of findings) options.log.warn(STEP, line);
        else options.log.info(STEP, headline);
      } catch {
        // The log refused a line (it screens for secrets): the verdict file still says it.
      }
    }
    watcher ??= watchDir(options.logDir, soon);
  };
  const soon = () => {
    pending ??= setTimeout(run, SETTLE_MS);
  };
  run();
  const timer = setInterval(run, options.intervalMs);
  return () => {
    clearInterval(timer);
    if (pending) clearTimeout(pending);
    watcher?.close();
  };
}

/** A watcher on the directory, once it exists (the bridge creates it on its first start). */
function watchDir(dir: string, onChange: () => void): FSWatcher | undefined {
  try {
    const watcher = watch(dir, { persistent: false }, onChange);
    watcher.on('error', () => watcher.close());
    return watcher;
  } catch {
    return undefined;
  }
}
