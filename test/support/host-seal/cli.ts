// Stands for: a person (or a script) at a shell on the host running the built
// program, `node MAIN COMMAND` (MAIN: the bin `npm run build` makes), with its
// own HOME, config directory and tmpfs runtime directory, all removed in teardown.
import { closeSync, existsSync, openSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

// The repository: three levels up from test/fixtures/host-seal, four from its
// compiled copy in dist/test/fixtures/host-seal (the benchmark imports that one).
const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT =
  [join(HERE, '..', '..', '..'), join(HERE, '..', '..', '..', '..')].find((dir) =>
    existsSync(join(dir, 'package.json')),
  ) ?? join(HERE, '..', '..', '..');
/** The single-file CommonJS bundle of the CLI (the package's bin), built after tsc by `npm run build`. */
const BUNDLE = join(ROOT, 'dist', 'copilot-bridge-seal.cjs');
/** tsc's output, which the bundle is made from. */
const COMPILED = join(ROOT, 'dist', 'host-seal', 'main.js');

const mtime = (path: string) => statSync(path, { throwIfNoEntry: false })?.mtimeMs;

/**
 * The CLI the tests and the unseal benchmark run: the bundle when the build made one after tsc's
 * output (never a stale bundle of older code), else tsc's output. The one place that names it.
 */
export const MAIN = (mtime(BUNDLE) ?? -Infinity) >= (mtime(COMPILED) ?? Infinity) ? BUNDLE : COMPILED;

export interface Sandbox {
  /** A disk temp directory: HOME and XDG_CONFIG_HOME live under it. */
  root: string;
  /** A tmpfs temp directory used as XDG_RUNTIME_DIR. */
  runtime: string;
  env: Record<string, string>;
  /** The config directory the CLI writes sealed files to. */
  configDir: string;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Fresh, private directories for one test, removed in teardown. */
export async function sandbox(t: Teardown, extra: Record<string, string> = {}): Promise<Sandbox> {
  const root = await mkdtemp(join(tmpdir(), 'cbs-seal-test-'));
  const runtime = await mkdtemp('/dev/shm/cbs-seal-test-');
  t.teardown(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(runtime, { recursive: true, force: true });
  });
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: join(root, 'home'),
    XDG_CONFIG_HOME: join(root, 'config'),
    XDG_DATA_HOME: join(root, 'data'),
    XDG_RUNTIME_DIR: runtime,
    ...extra,
  };
  return { root, runtime, env, configDir: join(root, 'config', 'copilot-bridge-stack') };
}

export interface RunOptions {
  env: Record<string, string>;
  /** Becomes stdin (a pipe); without it stdin is /dev/null. */
  input?: string | undefined;
  /** A file that becomes stdin (no event-loop work needed to feed it). */
  inputFile?: string;
  /** Working directory; compose commands must run where no compose file of the repository is found. */
  cwd?: string;
}

/** What the tests read of a finished run (execa's own Result type does not hold under exactOptionalPropertyTypes). */
export interface CliResult {
  pid: number;
  exitCode: number | undefined;
  signal: string | undefined;
  failed: boolean;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

/** Starts the built CLI; `result` never rejects and carries the child's pid. */
export function startCli(args: string[], options: RunOptions): { pid: number; result: Promise<CliResult> } {
  const fd = options.inputFile === undefined ? undefined : openSync(options.inputFile, 'r');
  const common = {
    env: options.env,
    extendEnv: false,
    reject: false,
    ...(options.cwd ? { cwd: options.cwd } : {}),
  } as const;
  const child =
    options.input !== undefined
      ? execa('node', [MAIN, ...args], { ...common, input: options.input })
      : // A raw descriptor is handed to the child as is (execa's types list only 3..9).
        execa('node', [MAIN, ...args], { ...common, stdin: (fd ?? 'ignore') as 'ignore' });
  if (fd !== undefined) closeSync(fd);
  const pid = child.pid ?? -1;
  const result = child.then((r) => ({
    pid,
    exitCode: r.exitCode,
    signal: r.signal,
    failed: r.failed,
    timedOut: r.timedOut,
    stdout: String(r.stdout),
    stderr: String(r.stderr),
  }));
  return { pid, result };
}

/** Runs the built CLI to the end; never rejects. */
export function cli(args: string[], options: RunOptions): Promise<CliResult> {
  return startCli(args, options).result;
}

/** Scratch directories a CLI process left on /dev/shm (there must be none). */
export async function scratchLeftBy(pid: number): Promise<string[]> {
  return (await readdir('/dev/shm')).filter((entry) => entry.startsWith(`copilot-bridge-seal-${pid}-`));
}
