// How `audit` searches: text and bytes for every value and its encodings (the
// SecretSet the entrypoint uses), JSON by path, files under a directory
// without following links, and a command's output as it streams (a window
// kept across chunks so no value is split). Findings name the place, never
// the value.
import { spawn } from 'node:child_process';
import { closeSync, lstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { SecretSet } from '../../src/secrets/secret-set.js';

/** Files are read a megabyte at a time, each read after the kept end of the last. */
const READ_SIZE = 1 << 20;

export interface Finding {
  where: string;
  what: string;
  /** A declared exception: listed, not counted. */
  declared?: string;
}

export class Search {
  readonly findings: Finding[] = [];
  private readonly overlap: number;
  readonly #buffer: Buffer;

  constructor(readonly secrets: SecretSet) {
    this.overlap = Math.max(0, ...secrets.needles.map((n) => n.length));
    this.#buffer = Buffer.allocUnsafe(READ_SIZE + this.overlap);
  }

  bytes(where: string, data: string | Uint8Array): void {
    for (const hit of this.secrets.findAll(data)) this.findings.push({ where, what: `${hit.label} (${hit.encoding})` });
  }

  /** Every string in a JSON value, by its JSON path. */
  json(where: string, value: unknown, path = '$'): void {
    if (typeof value === 'string') this.bytes(`${where} ${path}`, value);
    else if (Array.isArray(value)) value.forEach((v, i) => this.json(where, v, `${path}[${i}]`));
    else if (value && typeof value === 'object')
      for (const [k, v] of Object.entries(value))
        this.json(where, v, /^[A-Za-z_][\w]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`);
  }

  /** Every regular file under `dir`, not following links; `allowed(path)` names files that may hold a value. Named by
   * `where` and the path under `dir`, or by the whole path when `where` is `dir` itself. */
  tree(where: string, dir: string, allowed: (path: string) => boolean = () => false): number {
    let files = 0;
    const walk = (path: string) => {
      let st: ReturnType<typeof lstatSync>;
      try {
        st = lstatSync(path);
      } catch {
        return;
      }
      if (st.isDirectory()) {
        let names: string[] = [];
        try {
          names = readdirSync(path);
        } catch {
          return;
        }
        for (const name of names) walk(join(path, name));
      } else if (st.isFile()) {
        files++;
        if (!allowed(path)) this.file(where === dir ? path : `${where} ${path.slice(dir.length) || path}`, path);
      }
    };
    walk(dir);
    return files;
  }

  private file(where: string, path: string): void {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return;
    }
    const seen = new Set<string>();
    // One buffer for every file (a fresh megabyte per file was most of audit's CPU): the last `overlap` bytes of
    // each read are moved to its start, so a value across two reads is still whole in the next window.
    const buffer = this.#buffer;
    try {
      let kept = 0;
      for (;;) {
        const n = readSync(fd, buffer, kept, READ_SIZE, null);
        if (n <= 0) break;
        const end = kept + n;
        for (const hit of this.secrets.findAll(buffer.subarray(0, end))) seen.add(`${hit.label} (${hit.encoding})`);
        kept = Math.min(this.overlap, end);
        buffer.copyWithin(0, end - kept, end);
      }
    } catch {
      // vanished or unreadable: nothing to find
    } finally {
      closeSync(fd);
    }
    for (const what of seen) this.findings.push({ where, what });
  }

  /** A command's stdout (and stderr), searched as it streams. Resolves to its exit status. */
  command(where: string, file: string, args: string[], env: NodeJS.ProcessEnv): Promise<number | null> {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    const seen = new Set<string>();
    const feed = (stream: NodeJS.ReadableStream) => {
      let tail = Buffer.alloc(0);
      stream.on('data', (chunk: Buffer) => {
        const window = Buffer.concat([tail, chunk]);
        for (const hit of this.secrets.findAll(window)) seen.add(`${hit.label} (${hit.encoding})`);
        tail = window.subarray(Math.max(0, window.length - this.overlap));
      });
    };
    feed(child.stdout);
    feed(child.stderr);
    return new Promise((resolve) => {
      child.on('error', () => resolve(null));
      child.on('close', (code) => {
        for (const what of seen) this.findings.push({ where, what });
        resolve(code);
      });
    });
  }
}
