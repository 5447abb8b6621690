// Resolves a command the way execvp does (a name with a slash is a path;
// otherwise the first executable match on PATH), because execve(2) does not
// search PATH. Failures carry the shell's conventional statuses: 127 not
// found, 126 found but not executable.
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';

export type Resolved = { path: string } | { status: 126 | 127; reason: string };

export function whichCommand(command: string, pathVariable: string | undefined): Resolved {
  const candidates = command.includes('/')
    ? [command]
    : (pathVariable ?? '/usr/local/bin:/usr/bin:/bin')
        .split(':')
        .filter(Boolean)
        .map((dir) => join(dir, command));
  let found: string | undefined;
  for (const candidate of candidates) {
    try {
      if (!statSync(candidate).isFile()) continue;
    } catch {
      continue;
    }
    found ??= candidate;
    try {
      accessSync(candidate, constants.X_OK);
      return { path: candidate };
    } catch {
      // Keep looking, as execvp does.
    }
  }
  return found
    ? { status: 126, reason: `${found} is not executable` }
    : { status: 127, reason: `${command} was not found on PATH` };
}
