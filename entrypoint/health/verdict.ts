// The supervisor's verdict, beside the config on tmpfs, for the HEALTHCHECK to
// read without starting Node (the launcher's `health` command, in C). Its
// format, which entrypoint/launcher/launcher.c parses:
//
//   copilot-bridge-health 1 VALID_UNTIL      (line 1: version, Unix seconds)
//   clean: checked 4 process(es) and 1 log file(s)
//
// or `N leak(s) found: ...` followed by one `leak: ...` line per finding, or
// `error: ...`. Healthy means: the second line starts with `clean:` and the
// clock has not passed VALID_UNTIL. A supervisor that stops scanning (hung,
// stopped, dead) stops renewing it, and the verdict turns stale: unhealthy.
// Findings name places and JSON paths, never values.
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../../src/fs/atomic-write.js';

const VERDICT_MAGIC = 'copilot-bridge-health 1';
/** Findings beyond this many are counted, not listed (the launcher reads at most 4 KiB). */
const MAX_LISTED = 20;

export const verdictFile = (output: string) => join(dirname(output), '.copilot-bridge.health');

export function formatVerdict(validUntilMs: number, headline: string, findings: readonly string[]): string {
  const listed = findings.slice(0, MAX_LISTED).map((line) => line.slice(0, 180));
  if (findings.length > MAX_LISTED) listed.push(`... and ${findings.length - MAX_LISTED} more`);
  return `${VERDICT_MAGIC} ${Math.floor(validUntilMs / 1000)}\n${[headline, ...listed].join('\n')}\n`;
}

/** Readable by root's healthcheck and by `docker exec` as the bridge's user; it holds no value. */
export function writeVerdict(file: string, text: string): void {
  writeFileAtomic(file, text, 0o644);
}
