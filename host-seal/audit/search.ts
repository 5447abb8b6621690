// How `audit` searches: text and bytes for every value and its encodings (the
// SecretSet the entrypoint uses), JSON by path, files under a directory
// without following links, and a command's output as it streams (a window
// kept across chunks so no value is split). Findings name the place, never
// the value.
import { spawn } from 'node:child_process';
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readSync, statfsSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { SecretSet } from '../../src/secrets/secret-set.js';

/** Files are read a megabyte at a time, each read after the kept end of the last. */
const READ_SIZE = 1 << 20;
/** A file larger than this is not read but listed as unsearched: a sparse file of terabytes costs its writer nothing. */
const MAX_FILE_BYTES = 2 ** 30;
/** A gzip file is unpacked in memory when it is at most this big, to at most MAX_GUNZIPPED_BYTES. */
const MAX_GZIP_BYTES = 64 << 20;
const MAX_GUNZIPPED_BYTES = 512 << 20;

/** A hit as findings name it: `LABEL (ENCODING)`; a form searchSet adds (hex, ...) is named by its own label. */
const describe = (label: string, encoding: string) =>
  / \([^()]+\)$/.test(label) && encoding === 'raw' ? label : `${label} (${encoding})`;

const SLASH = Buffer.from('/');

/** statfs f_type of the file systems whose files are plain data, entered when mounted inside a searched tree. */
const DATA_FILE_SYSTEMS = new Set([
  0x01021994, // tmpfs
  0x858458f6, // ramfs
  0xef53, // ext2, ext3, ext4
  0x58465342, // xfs
  0x9123683e, // btrfs
  0x794c7630, // overlay
  0x2fc12fc1, // zfs
  0xf2f52010, // f2fs
]);

/** The statfs type of the file system at `path`, or 0 when it cannot be told (not entered then). */
function fileSystem(path: Buffer): number {
  try {
    return Number(statfsSync(path).type);
  } catch {
    return 0;
  }
}

/**
 * `data` with its line breaks taken out, and the blanks around each: LF, CR, CRLF, and the two-character escapes
 * `\\n` and `\\r` (a value folded in a JSON string, in an indented block). Undefined when it has none.
 */
function withoutBreaks(data: Uint8Array, scratch: Buffer): Buffer | undefined {
  if (
    data.indexOf(10) === -1 &&
    data.indexOf(13) === -1 &&
    Buffer.from(data.buffer, data.byteOffset, data.length).indexOf('\\') === -1
  )
    return undefined;
  const out = data.length <= scratch.length ? scratch : Buffer.allocUnsafe(data.length);
  let o = 0;
  let breaks = 0;
  for (let i = 0; i < data.length; ) {
    const b = data[i]!;
    const escaped = b === 92 && (data[i + 1] === 110 || data[i + 1] === 114);
    if (b === 10 || b === 13 || escaped) {
      breaks++;
      while (o > 0 && (out[o - 1] === 32 || out[o - 1] === 9)) o--;
      i += escaped ? 2 : 1;
      while (i < data.length && (data[i] === 32 || data[i] === 9)) i++;
      continue;
    }
    out[o++] = b;
    i++;
  }
  return breaks > 0 ? out.subarray(0, o) : undefined;
}

const code = (error: unknown) => (error as NodeJS.ErrnoException).code ?? 'unreadable';

export interface Finding {
  where: string;
  what: string;
  /** A declared exception: listed, not counted. */
  declared?: string;
}

export class Search {
  readonly findings: Finding[] = [];
  /** Places that could not be searched, each with why: a search with any is not complete. */
  readonly unsearched: string[] = [];
  private readonly overlap: number;
  readonly #buffer: Buffer;
  /** Where a window is written again without its line breaks (one for every window, as the read buffer). */
  readonly #joined: Buffer;

  constructor(readonly secrets: SecretSet) {
    // Twice the longest form: a value wrapped over lines is longer by its line breaks.
    this.overlap = 2 * Math.max(0, ...secrets.needles.map((n) => n.length));
    this.#buffer = Buffer.allocUnsafe(READ_SIZE + this.overlap);
    this.#joined = Buffer.allocUnsafe(READ_SIZE + this.overlap);
  }

  bytes(where: string, data: string | Uint8Array): void {
    const seen = new Set<string>();
    this.#scan(typeof data === 'string' ? Buffer.from(data) : data, seen);
    for (const what of seen) this.findings.push({ where, what });
  }

  /** Every string in a JSON value, by its JSON path. */
  json(where: string, value: unknown, path = '$'): void {
    if (typeof value === 'string') this.bytes(`${where} ${path}`, value);
    else if (Array.isArray(value)) value.forEach((v, i) => this.json(where, v, `${path}[${i}]`));
    else if (value && typeof value === 'object')
      for (const [k, v] of Object.entries(value)) {
        // A key is the host's choice too (a label's name, an environment's): searched as a string, named by its
        // object's path (the key itself may spell the value).
        this.bytes(`${where} ${path} (a key)`, k);
        this.json(where, v, /^[A-Za-z_][\w]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`);
      }
  }

  /**
   * Every regular file under `dir`, not following links; `allowed(path)` names files that may hold a value. Named
   * by `where` and the path under `dir`, or by the whole path when `where` is `dir` itself. Names are walked as
   * bytes (a name that is not UTF-8 hides nothing). A file system mounted below is entered when it holds plain
   * data (tmpfs, ext4, xfs, btrfs, overlay, ...); any other (proc, sysfs, a network file system) is named and not
   * entered. A place it cannot read, or a file too big to read, is listed in `unsearched`: the search is then not
   * complete, and says so.
   */
  tree(where: string, dir: string, allowed: (path: string) => boolean = () => false): number {
    let files = 0;
    let device: number | undefined;
    const shown = (path: Buffer) => path.toString('utf8');
    const visited = new Set<string>();
    const walk = (path: Buffer) => {
      let st: ReturnType<typeof lstatSync>;
      try {
        st = lstatSync(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.unsearched.push(`${shown(path)} (${code(error)})`);
        return;
      }
      device ??= st.dev;
      if (st.dev !== device && st.isDirectory()) {
        const kind = fileSystem(path);
        if (!DATA_FILE_SYSTEMS.has(kind)) {
          this.unsearched.push(
            `${shown(path)} (a mount point of another kind of file system, 0x${kind.toString(16)}: not entered)`,
          );
          return;
        }
      }
      if (st.isDirectory()) {
        // A directory met twice (a bind mount of a place above it) is walked once: no loop.
        const id = `${st.dev}:${st.ino}`;
        if (visited.has(id)) return;
        visited.add(id);
        let names: Buffer[] = [];
        try {
          names = readdirSync(path, { encoding: 'buffer' });
        } catch (error) {
          this.unsearched.push(`${shown(path)} (${code(error)})`);
          return;
        }
        for (const name of names) walk(Buffer.concat([path, SLASH, name]));
      } else if (st.isFile()) {
        files++;
        const text = shown(path);
        if (!allowed(text))
          this.file(where === dir ? text : text === dir ? where : `${where} ${text.slice(dir.length)}`, path);
      }
    };
    walk(Buffer.from(dir));
    return files;
  }

  private file(where: string, path: Buffer): void {
    let fd: number;
    try {
      // No link followed and no wait on a FIFO: the file may have been swapped since it was listed.
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (error) {
      const why = code(error);
      if (why !== 'ENOENT' && why !== 'ELOOP' && why !== 'ENXIO') this.unsearched.push(`${where} (${why})`);
      return;
    }
    const seen = new Set<string>();
    // One buffer for every file (a fresh megabyte per file was most of audit's CPU): the last `overlap` bytes of
    // each read are moved to its start, so a value across two reads is still whole in the next window.
    const buffer = this.#buffer;
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return;
      if (st.size > MAX_FILE_BYTES) {
        this.unsearched.push(`${where} (${st.size} bytes: larger than the ${MAX_FILE_BYTES / 2 ** 30} GiB searched)`);
        return;
      }
      let kept = 0;
      let total = 0;
      for (;;) {
        const n = readSync(fd, buffer, kept, READ_SIZE, null);
        if (n <= 0) break;
        // A gzip file (a rotated log the bridge compressed): its content is searched too.
        if (total === 0 && n >= 2 && buffer[0] === 0x1f && buffer[1] === 0x8b) this.#gunzipped(where, fd, st.size);
        total += n;
        const end = kept + n;
        this.#scan(buffer.subarray(0, end), seen);
        kept = Math.min(this.overlap, end);
        buffer.copyWithin(0, end - kept, end);
        if (total > MAX_FILE_BYTES) {
          this.unsearched.push(`${where} (grew past the ${MAX_FILE_BYTES / 2 ** 30} GiB searched)`);
          break;
        }
      }
    } catch (error) {
      this.unsearched.push(`${where} (${code(error)})`);
    } finally {
      closeSync(fd);
    }
    for (const what of seen) this.findings.push({ where, what });
  }

  /** A gzip file's content, searched as its own place (`WHERE (gunzipped)`); too big or broken: named unsearched. */
  #gunzipped(where: string, fd: number, size: number): void {
    if (size > MAX_GZIP_BYTES) {
      this.unsearched.push(
        `${where} (gunzipped) (${size} bytes compressed: larger than the ${MAX_GZIP_BYTES >> 20} MiB unpacked)`,
      );
      return;
    }
    const packed = Buffer.allocUnsafe(size);
    let at = 0;
    try {
      for (let n = -1; n !== 0 && at < size; at += n) n = readSync(fd, packed, at, size - at, at);
    } catch (error) {
      this.unsearched.push(`${where} (gunzipped) (${code(error)})`);
      return;
    }
    this.#gunzipBytes(where, packed.subarray(0, at), 0);
  }

  #gunzipBytes(where: string, packed: Buffer, depth: number): void {
    const place = `${where} (gunzipped)`;
    let content: Buffer;
    try {
      content = gunzipSync(packed, { maxOutputLength: MAX_GUNZIPPED_BYTES });
    } catch (error) {
      this.unsearched.push(`${place} (${(error as NodeJS.ErrnoException).code ?? 'not gzip'})`);
      return;
    }
    // A gzip inside (a log compressed twice): unpacked too, a few levels deep.
    if (content[0] === 0x1f && content[1] === 0x8b && depth < 3) this.#gunzipBytes(place, content, depth + 1);
    else this.bytes(place, content);
  }

  /**
   * Adds to `seen` what `data` holds: each value in each of its forms, then, where the data has line breaks, the
   * same with the breaks taken out (base64 or hex wrapped at 64 or 76 columns, a value folded over lines).
   */
  #scan(data: Uint8Array, seen: Set<string>): void {
    for (const hit of this.secrets.findAll(data)) seen.add(describe(hit.label, hit.encoding));
    const joined = withoutBreaks(data, this.#joined);
    if (!joined) return;
    for (const hit of this.secrets.findAll(joined)) {
      const what = describe(hit.label, hit.encoding);
      if (!seen.has(what)) seen.add(`${what.slice(0, -1)}, across lines)`);
    }
  }

  /** A command's stdout (and stderr), searched as it streams. Resolves to its exit status. */
  command(where: string, file: string, args: string[], env: NodeJS.ProcessEnv): Promise<number | null> {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    const seen = new Set<string>();
    const feed = (stream: NodeJS.ReadableStream) => {
      let tail = Buffer.alloc(0);
      stream.on('data', (chunk: Buffer) => {
        const window = Buffer.concat([tail, chunk]);
        this.#scan(window, seen);
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
