// The one runner for short-lived children whose output we read: op inject (the
// entrypoint and the vault) and the tpm2 tools (the host CLI). Through
// node:child_process, not execa, for both programs' start-up budgets
// (docs/performance.md). Output is capped and the child killed past the cap or
// the timeout; stdout comes back as a buffer the caller owns (it may hold key
// material), and the chunks it was gathered from are zeroed.
import { type ChildProcess, spawn } from 'node:child_process';

export interface CollectOptions {
  env: NodeJS.ProcessEnv;
  /** Written to the child's stdin, which is then closed; without it stdin is /dev/null. */
  input?: string | Buffer | undefined;
  /** The child's working directory (default: this process's). */
  cwd?: string | undefined;
  timeoutMs: number;
  /** stdout and stderr together; past it the child is killed. */
  maxBuffer: number;
  /** Discards the child's output (stdout and stderr go to /dev/null). */
  quiet?: boolean | undefined;
  /** Told of the child when it starts (alive) and when it is gone, for a caller that kills its children on a signal. */
  track?: ((child: ChildProcess, alive: boolean) => void) | undefined;
}

export interface Collected {
  /** undefined when the child could not be started or was killed by a signal. */
  exitCode: number | undefined;
  signal: NodeJS.Signals | undefined;
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
  /** The output passed maxBuffer (the child was killed). */
  overflow: boolean;
  /** Why it could not be started (ENOENT, EACCES...). */
  startError: NodeJS.ErrnoException | undefined;
}

/** Runs `file` to its end; never rejects. */
export function collect(file: string, args: readonly string[], options: CollectOptions): Promise<Collected> {
  return new Promise((resolve) => {
    const output = options.quiet ? 'ignore' : 'pipe';
    const child = spawn(file, args, {
      env: options.env,
      cwd: options.cwd,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', output, output],
    });
    options.track?.(child, true);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let overflow = false;
    let timedOut = false;
    let startError: NodeJS.ErrnoException | undefined;
    const take = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size > options.maxBuffer) {
        overflow = true;
        child.kill('SIGKILL');
      } else into.push(chunk);
    };
    child.stdout?.on('data', take(out));
    child.stderr?.on('data', take(err));
    if (options.input !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined); // a child that exits without reading its stdin
      child.stdin.end(options.input);
    }
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    // A child that cannot be started emits 'error' (ENOENT, EACCES), then 'close'.
    child.on('error', (error: NodeJS.ErrnoException) => {
      startError = error;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      options.track?.(child, false);
      const stdout = Buffer.concat(out);
      for (const chunk of out) chunk.fill(0);
      resolve({
        exitCode: startError ? undefined : (code ?? undefined),
        signal: signal ?? undefined,
        stdout,
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        overflow,
        startError,
      });
    });
  });
}
