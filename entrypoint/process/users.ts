// Resolves who the bridge runs as: a user name from /etc/passwd (with its
// home and supplementary groups) or a numeric `uid:gid`.
import { readFileSync } from 'node:fs';

export interface RunAs {
  /** The user name, when given by name (supplementary groups come from /etc/group via initgroups). */
  name: string | undefined;
  uid: number;
  gid: number;
  home: string | undefined;
}

/** Parses `name` or `uid:gid` (which keeps the environment's HOME); undefined when a name is not in the passwd file. */
export function resolveRunAs(spec: string, passwdFile = '/etc/passwd'): RunAs | undefined {
  const numeric = /^(\d+):(\d+)$/.exec(spec);
  if (numeric) {
    const uid = Number(numeric[1]);
    return { name: undefined, uid, gid: Number(numeric[2]), home: undefined };
  }
  const entry = readPasswd(passwdFile).find((e) => e.name === spec);
  return entry && { name: entry.name, uid: entry.uid, gid: entry.gid, home: entry.home };
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function readPasswd(file: string): PasswdEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((line) => line.split(':'))
    .filter((f) => f.length >= 7 && /^\d+$/.test(f[2] ?? '') && /^\d+$/.test(f[3] ?? ''))
    .map((f) => ({ name: f[0] ?? '', uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '' }));
}
