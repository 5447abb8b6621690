// One command at a time where two would race: `up`, `down` and `forget` share
// the stack lock (a release directory is made, filled and wiped by one of them
// at a time), and every TPM operation takes the TPM lock (two seals of one name
// would otherwise flush each other's sessions, or both place a blob). A lock
// is a directory made with mkdir(2), which either succeeds or fails with
// EEXIST, in the private config directory; it names its holder's pid, so a lock
// whose holder died is taken over (under a short second lock, so that two
// waiters cannot both break it and then both hold it).
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { ExitCode, hasErrno, StackError } from '../src/errors.js';
import { ensurePrivateDir } from './fs-safe.js';

export interface LockOptions {
  /** Where locks live: the private config directory. */
  dir: string;
  /** `stack` or `tpm`. */
  name: string;
  /** What the holder does, for the waiting message. */
  what: string;
  progress: Writable;
  timeoutMs?: number;
}

const POLL_MS = 100;
const BREAKER_STALE_MS = 10_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A process's start time (clock ticks since boot, /proc/PID/stat field 22): with the pid, who it is; undefined off Linux. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The holder runs still: its pid is alive and, where /proc tells, is the same process (not a reused pid). */
function alive(pid: number, started: string | undefined): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (!hasErrno(error, 'EPERM')) return false;
  }
  const now = startTime(pid);
  return started === undefined || now === undefined || now === started;
}

function holder(lock: string): { pid: number; what: string; started: string | undefined } | undefined {
  try {
    const [pid = '', what = '', started = ''] = readFileSync(join(lock, 'holder'), 'utf8').split('\n');
    return { pid: Number(pid), what, started: started || undefined };
  } catch {
    return undefined;
  }
}

/** Takes the lock over from a dead holder, under the breaker lock; true when it was stale and is gone. */
function breakIfStale(lock: string): boolean {
  const breaker = `${lock}.break`;
  try {
    mkdirSync(breaker, { mode: 0o700 });
  } catch (error) {
    if (!hasErrno(error, 'EEXIST')) throw error;
    // Another waiter is breaking it; a breaker left by a killed waiter goes after a while.
    try {
      if (Date.now() - statSync(breaker).mtimeMs > BREAKER_STALE_MS) rmSync(breaker, { recursive: true, force: true });
    } catch {
      // Gone meanwhile.
    }
    return false;
  }
  try {
    const current = holder(lock);
    // A lock without a holder file is being made right now, unless it is old (its maker died between the two steps).
    const young = (() => {
      try {
        return Date.now() - statSync(lock).mtimeMs < BREAKER_STALE_MS;
      } catch {
        return false;
      }
    })();
    if (current ? !alive(current.pid, current.started) : !young) {
      rmSync(lock, { recursive: true, force: true });
      return true;
    }
    return false;
  } finally {
    rmSync(breaker, { recursive: true, force: true });
  }
}

/** Runs `fn` holding the lock; waits for another holder (saying so once), up to the timeout. */
export async function withLock<T>(options: LockOptions, fn: () => Promise<T>): Promise<T> {
  ensurePrivateDir(options.dir, 'lock');
  const lock = join(options.dir, `.${options.name}.lock`);
  const deadline = Date.now() + (options.timeoutMs ?? 15 * 60_000);
  let told = false;
  for (;;) {
    try {
      mkdirSync(lock, { mode: 0o700 });
      break;
    } catch (error) {
      if (!hasErrno(error, 'EEXIST')) throw error;
    }
    if (breakIfStale(lock)) continue;
    const current = holder(lock);
    if (!told && current) {
      options.progress.write(
        `waiting for another copilot-bridge-seal (pid ${current.pid}, ${current.what}) to finish\n`,
      );
      told = true;
    }
    if (Date.now() > deadline) {
      throw new StackError(
        'locked',
        `another copilot-bridge-seal${current ? ` (pid ${current.pid}, ${current.what})` : ''} still holds ${lock}; wait for it to finish, then retry`,
        {
          step: 'lock',
          exitCode: ExitCode.tempFail,
        },
      );
    }
    await sleep(POLL_MS);
  }
  writeFileSync(join(lock, 'holder'), `${process.pid}\n${options.what}\n${startTime(process.pid) ?? ''}\n`, {
    mode: 0o600,
  });
  // A signal skips `finally`: release the lock then; die of the signal if nothing else handles it.
  const release = () => {
    if (holder(lock)?.pid === process.pid) rmSync(lock, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    release();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  for (const signal of SIGNALS) process.once(signal, onSignal);
  try {
    return await fn();
  } finally {
    for (const signal of SIGNALS) process.off(signal, onSignal);
    release();
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
