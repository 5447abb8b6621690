// Searching what Docker keeps for secrets: streams (`docker save`), host
// files (volumes, container logs and configs, writable layers) and the
// environment of containers' processes read from the host's /proc. Each
// secret is searched in the forms a leak usually takes (test/support/
// no-secrets.ts: raw, base64, each line); `TOKEN_SHAPE` catches any
// service-account token, not only this run's, such as one baked into a layer.
import { spawn } from 'node:child_process';
import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { leakedForms } from '../no-secrets.js';
import { docker } from './run.js';

/** `ops_` + base64url of a JSON object (`{"` is `eyJ`), as long as a real token at least. */
const TOKEN_SHAPE = /ops_eyJ[A-Za-z0-9_-]{400,}/;
const OVERLAP = 4096;

export interface Finding {
  /** Index of the secret in the list searched for, or -1 for a token-shaped string. */
  secret: number;
  where: string;
}

export class SecretScanner {
  private readonly forms: Array<{ secret: number; form: Buffer }>;

  constructor(secrets: readonly string[]) {
    this.forms = secrets.flatMap((secret, i) =>
      leakedForms(secret).map((form) => ({ secret: i, form: Buffer.from(form) })),
    );
  }

  /** Secrets (and, with `tokenShape`, any token-shaped string) found in one buffer. */
  scan(buffer: Buffer, where: string, tokenShape = true): Finding[] {
    const found = new Map<number, Finding>();
    for (const { secret, form } of this.forms)
      if (!found.has(secret) && buffer.includes(form)) found.set(secret, { secret, where });
    if (tokenShape && TOKEN_SHAPE.test(buffer.toString('latin1'))) found.set(-1, { secret: -1, where });
    return [...found.values()];
  }

  /** Scans a command's stdout as it streams, keeping an overlap so that no match is split between chunks. */
  async scanCommand(file: string, args: string[], where: string): Promise<{ findings: Finding[]; bytes: number }> {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const findings = new Map<number, Finding>();
    let tail = Buffer.alloc(0);
    let bytes = 0;
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      const window = Buffer.concat([tail, chunk]);
      for (const finding of this.scan(window, where)) findings.set(finding.secret, finding);
      tail = window.subarray(Math.max(0, window.length - OVERLAP));
    }
    const code = await new Promise<number | null>((resolve) =>
      child.exitCode !== null ? resolve(child.exitCode) : child.on('close', resolve),
    );
    if (code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${code}: ${stderr.trim()}`);
    return { findings: [...findings.values()], bytes };
  }

  /**
   * Scans every regular file under `dir` (not following symlinks), skipping
   * `exclude` prefixes, for this run's secrets only: other test suites leave
   * fixture tokens of their own in the temporary directory.
   */
  scanTree(dir: string, exclude: readonly string[] = []): { findings: Finding[]; files: number } {
    const findings: Finding[] = [];
    let files = 0;
    const walk = (path: string) => {
      if (exclude.some((prefix) => path === prefix || path.startsWith(`${prefix}/`))) return;
      let stat;
      try {
        stat = lstatSync(path);
      } catch {
        return;
      }
      if (stat.isDirectory()) {
        let names: string[] = [];
        try {
          names = readdirSync(path);
        } catch {
          return;
        }
        for (const name of names) walk(join(path, name));
      } else if (stat.isFile()) {
        files++;
        findings.push(...this.scanFile(path));
      }
    };
    walk(dir);
    return { findings, files };
  }

  private scanFile(path: string): Finding[] {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return [];
    }
    const found = new Map<number, Finding>();
    try {
      const chunk = Buffer.alloc(1 << 20);
      let tail = Buffer.alloc(0);
      for (;;) {
        const n = readSync(fd, chunk, 0, chunk.length, null);
        if (n <= 0) break;
        const window = Buffer.concat([tail, chunk.subarray(0, n)]);
        for (const finding of this.scan(window, path, false)) found.set(finding.secret, finding);
        tail = window.subarray(Math.max(0, window.length - OVERLAP));
      }
    } catch {
      // A file that vanished or cannot be read (a socket, a FIFO opened by mistake) holds nothing to find.
    } finally {
      closeSync(fd);
    }
    return [...found.values()];
  }
}

/** The host pids of every process in a container. */
export async function containerPids(container: string): Promise<number[]> {
  const out = await docker(['top', container, '-eo', 'pid']);
  return out
    .split('\n')
    .slice(1)
    .map((line) => Number(line.trim()))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

/** A process's parent and its pid in its own PID namespace (the last of NSpid), from the host's /proc. */
function processStatus(pid: number): { ppid: number; nspid: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const nspids = /\nNSpid:\s+([\d\s]+)\n/.exec(status)?.[1]?.trim().split(/\s+/).map(Number) ?? [];
    return { ppid: Number(/\nPPid:\s+(\d+)/.exec(status)?.[1]), nspid: nspids.at(-1) ?? pid };
  } catch {
    return undefined;
  }
}

/**
 * The host pids of the bridge's process tree in a container: the process the
 * entrypoint wrote to /tmp/.copilot-bridge.pid (a pid of the container's own
 * namespace) and everything below it. Its GitHub token may be there, and only there.
 */
export async function bridgeTree(container: string): Promise<Set<number>> {
  const written = Number((await docker(['exec', container, 'cat', '/tmp/.copilot-bridge.pid'])).trim());
  const pids = await containerPids(container);
  const statuses = new Map(pids.map((pid) => [pid, processStatus(pid)] as const));
  const root = pids.find((pid) => statuses.get(pid)?.nspid === written);
  const tree = new Set<number>(root === undefined ? [] : [root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, status] of statuses)
      if (status && !tree.has(pid) && tree.has(status.ppid)) grew = tree.add(pid).size > 0;
  }
  return tree;
}
