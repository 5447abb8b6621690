// Stands for: an administrator watching which tpm2 tools the CLI runs (as
// with `strace -f -e execve`). A directory of small shell wrappers, put first
// on PATH, that append their own name and arguments to a log and then exec the
// real tool; a wrapper can also wait before it does, so that a test can act
// while a given tool is about to talk to the TPM.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const TOOLS = [
  'tpm2_createprimary',
  'tpm2_create',
  'tpm2_createpolicy',
  'tpm2_load',
  'tpm2_unseal',
  'tpm2_flushcontext',
];

export interface ToolLog {
  /** PATH with the wrappers first. */
  path: string;
  /** Every call so far, `tool arg arg...`, in order. */
  calls(): string[];
  /** Only the tool names of the calls since the last `reset`. */
  tools(): string[];
  /** Forgets the calls so far. */
  reset(): void;
}

/** Writes wrappers into `dir`; `delays` makes a tool wait that many seconds before it runs. */
export function toolLog(dir: string, basePath: string, delays: Partial<Record<string, number>> = {}): ToolLog {
  const bin = join(dir, 'tool-log-bin');
  const log = join(dir, 'tool-log.txt');
  mkdirSync(bin, { recursive: true });
  writeFileSync(log, '');
  for (const tool of TOOLS) {
    const delay = delays[tool] ? `sleep ${delays[tool]}\n` : '';
    // The arguments are logged as the CLI passed them: never a secret (that is on stdin or in files).
    const script = `#!/bin/sh\necho "${tool} $*" >> '${log}'\n${delay}exec /usr/bin/${tool} "$@"\n`;
    writeFileSync(join(bin, tool), script);
    chmodSync(join(bin, tool), 0o755);
  }
  const calls = () => readFileSync(log, 'utf8').split('\n').filter(Boolean);
  return {
    path: `${bin}:${basePath}`,
    calls,
    tools: () => calls().map((line) => line.split(' ')[0] ?? ''),
    reset: () => writeFileSync(log, ''),
  };
}
