// The leak scan: given the secrets, look for every one of them (and their
// encodings) in the environment and command line of every process this user
// can read under /proc, in the bridge's log files and, for the bridge's GitHub
// token, in the rendered config. The one declared exception: that token as
// COPILOT_GITHUB_TOKEN in the environment of the bridge's own process tree.
// Findings name the place and the secret's label (its JSON path), never its
// value. `verify` runs it once, after learning the secrets from the rendered
// config; the supervisor runs it on a schedule with the secrets it holds.
import { closeSync, constants, fstatSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { GITHUB_TOKEN_VARIABLE } from '../../src/agents/render-template.js';
import { type SecretHit, SecretSet } from '../../src/secrets/secret-set.js';
import { canOpen } from '../steps/drop-privileges.js';

export interface ScanInput {
  secrets: SecretSet;
  /** The bridge's GitHub token, allowed only as COPILOT_GITHUB_TOKEN in the bridge's process tree. */
  githubToken: string | undefined;
  /** The root of that tree. */
  bridgePid: number | undefined;
  configFile: string;
  /** The bridge's log directory (~/.copilot-bridge). */
  logDir: string;
  /** Checked only when privileges were dropped: the token file must not be readable from here. */
  tokenFile: string | undefined;
  uid: number;
  /** This process, which holds the secrets in memory and is not scanned. */
  self?: number;
  /** How a log file is searched: whole (the default), or only what was appended since (appendedOnly). */
  searchLog?: (file: string) => SecretHit[];
}

export interface Scan {
  findings: string[];
  processes: number;
  logs: number;
}

export function scanForLeaks(input: ScanInput): Scan {
  const { secrets, githubToken, bridgePid } = input;
  const findings: string[] = [];
  // A finding names a place (a process's name, a log file's name) that the bridge's user chose: it is shown only if it
  // holds no secret itself.
  const note = (line: string) =>
    findings.push(secrets.find(line) ? 'leak: found one whose description holds a secret (withheld)' : line);
  if (input.tokenFile !== undefined && canOpen(input.tokenFile))
    note(`leak: the token file ${input.tokenFile} is readable by uid ${input.uid}`);
  const tree = bridgePid === undefined ? new Set<number>() : processTree(bridgePid);
  const declared = githubToken === undefined ? '' : `${GITHUB_TOKEN_VARIABLE}=${githubToken}\0`;
  const self = input.self ?? process.pid;
  let processes = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name) && Number(name) !== self)) {
    const raw = readable(`/proc/${pid}/environ`);
    if (raw === undefined) continue;
    const cmdline = readable(`/proc/${pid}/cmdline`);
    processes++;
    // The declared exception, and nothing more: the exact variable, in the bridge's own process tree.
    const environ = tree.has(Number(pid)) && declared ? `\0${raw}`.replace(`\0${declared}`, '\0').slice(1) : raw;
    const name = (readable(`/proc/${pid}/comm`) ?? '?').trim();
    for (const [what, text] of [
      ['environment', environ],
      ['command line', cmdline ?? ''],
    ] as const) {
      for (const hit of secrets.findAll(text))
        note(`leak: the ${what} of process ${pid} (${name}) holds ${hit.label} (${hit.encoding})`);
    }
  }
  if (githubToken !== undefined) {
    const only = new SecretSet([{ label: `the bridge's ${GITHUB_TOKEN_VARIABLE}`, value: githubToken }]);
    for (const hit of only.findAll(readable(input.configFile) ?? ''))
      note(`leak: ${input.configFile} holds ${hit.label} (${hit.encoding})`);
  }
  const logs = listLogs(input.logDir);
  const searchLog = input.searchLog ?? ((file: string) => secrets.findAll(readable(file) ?? ''));
  for (const file of logs) {
    for (const hit of searchLog(file)) {
      note(
        `leak: ${file} holds ${hit.label} (${hit.encoding}); treat the value as exposed (rotate a secret) and remove it from that log; a value that is no secret (an id, a name) belongs in the agents file, not in the vault or 1Password`,
      );
    }
  }
  return { findings, processes, logs: logs.length };
}

/** One line for a clean scan, or for the count of findings. */
export function summary(scan: Scan, checked: boolean): string {
  return `${scan.findings.length === 0 ? 'clean' : `${scan.findings.length} leak(s) found`}: ${checked ? 'checked' : 'no maskable secret to check in'} ${scan.processes} process(es) and ${scan.logs} log file(s)`;
}

/**
 * For a scanner that stays resident: each log file is searched from where the
 * last search ended (less the longest needle, so that a secret written across
 * the two reads is found), and what was found before is kept. A file that
 * shrank or was replaced (rotated) is searched whole again, and so is every
 * file once every FULL_EVERY searches, in case one was rewritten in place.
 */
export function appendedOnly(secrets: SecretSet, fullEvery = FULL_EVERY): (file: string) => SecretHit[] {
  const seen = new Map<string, { dev: number; ino: number; size: number; hits: SecretHit[]; searches: number }>();
  const overlap = Math.max(0, ...secrets.needles.map((needle) => needle.length - 1));
  return (file) => {
    let fd: number;
    try {
      fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      seen.delete(file);
      return [];
    }
    try {
      const st = fstatSync(fd);
      const before = seen.get(file);
      const same =
        before !== undefined &&
        before.dev === st.dev &&
        before.ino === st.ino &&
        st.size >= before.size &&
        before.searches % fullEvery !== 0;
      const from = same ? Math.max(0, before.size - overlap) : 0;
      const buffer = Buffer.alloc(Math.max(0, st.size - from));
      let length = 0;
      for (let n = 1; n > 0 && length < buffer.length; length += n)
        n = readSync(fd, buffer, length, buffer.length - length, from + length);
      const hits = [...(same ? before.hits : [])];
      for (const hit of secrets.findAll(buffer.subarray(0, length)))
        if (!hits.some((h) => h.label === hit.label && h.encoding === hit.encoding)) hits.push(hit);
      seen.set(file, { dev: st.dev, ino: st.ino, size: from + length, hits, searches: (before?.searches ?? 0) + 1 });
      return hits;
    } finally {
      closeSync(fd);
    }
  };
}

const FULL_EVERY = 60;

export function readable(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function listLogs(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((name) => /\.log(\.\d+)?$/.test(name))
      .map((name) => join(dir, name));
  } catch {
    return [];
  }
}

/** A process and every process below it, by parent pid. */
function processTree(root: number): Set<number> {
  const parents = new Map<number, number>();
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    const stat = readable(`/proc/${pid}/stat`);
    // The parent is the 2nd field after the command name in parentheses (which may hold spaces).
    const ppid = stat === undefined ? NaN : Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (Number.isInteger(ppid)) parents.set(Number(pid), ppid);
  }
  const tree = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parents) if (!tree.has(pid) && tree.has(ppid)) grew = tree.add(pid).size > 0;
  }
  return tree;
}
