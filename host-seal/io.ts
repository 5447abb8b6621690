// The program's only contact with the process: standard streams, environment
// and platform. Commands take an Io so that the CLI runs in tests without exiting.
import type { Readable, Writable } from 'node:stream';

export interface Io {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  stdout: Writable & { isTTY?: boolean };
  /** For people: prompts, progress and errors. Never data, never a secret. */
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
}

/** The real process's streams and environment, looked up when first used (docs/performance.md: `process.stdin`). */
export function processIo(): Io {
  return {
    get stdin() {
      return process.stdin;
    },
    get stdout() {
      return process.stdout;
    },
    get stderr() {
      return process.stderr;
    },
    env: process.env,
    platform: process.platform,
  };
}

/** Writes to a stream and resolves once the data is handed over (or rejects on EPIPE). */
export function writeAll(stream: Writable, data: string | Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(data, (error) => (error ? reject(error) : resolve()));
  });
}
