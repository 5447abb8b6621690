// Runs a short-lived child to completion and collects its output, for the
// entrypoint's few children (op inject). The entrypoint uses node:child_process
// directly rather than execa: loading execa alone takes about 60 ms, three
// times a bare Node start, and the entrypoint's whole budget is 1.5 times one.
import { spawn } from 'node:child_process';

export interface CollectOptions {
  input: string;
  env: Record<string, string>;
  /** The child's working directory (default: this process's). */
  cwd?: string;
  timeoutMs: number;
  maxBuffer: number;
}

export interface Collected {
  /** undefined when the child could not be started or was killed by a signal. */
  exitCode: number | undefined;
  signal: NodeJS.Signals | undefined;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Why it could not be started (ENOENT, EACCES...). */
  startError: Error | undefined;
}

export function collect(file: string, args: readonly string[], options: CollectOptions): Promise<Collected> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { env: options.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let timedOut = false;
    let startError: Error | undefined;
    const take = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size > options.maxBuffer) child.kill('SIGKILL');
      else into.push(chunk);
    };
    child.stdout.on('data', take(out));
    child.stderr.on('data', take(err));
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('error', (error) => {
      startError = error;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        exitCode: startError ? undefined : code ?? undefined,
        signal: signal ?? undefined,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        startError,
      });
    });
  });
}
