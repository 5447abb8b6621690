// Child processes of the end-to-end harness: one call that either returns the
// output or throws an Error naming the command, its exit status and the tail
// of its stderr (never the environment, which may name secret files).
import { execa } from 'execa';

export interface RunOptions {
  env?: Record<string, string | undefined> | undefined;
  input?: string | undefined;
  timeoutMs?: number | undefined;
  cwd?: string | undefined;
}

export interface RunResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/** The environment children get: ours without what tap injects (its loader would slow npm and node down). */
export function childEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...process.env, DOCKER_BUILDKIT: '0', ...extra })) {
    if (
      value === undefined ||
      name === 'NODE_OPTIONS' ||
      name === 'TAP' ||
      name.startsWith('TAP_') ||
      name.startsWith('_TAPJS_')
    )
      continue;
    env[name] = value;
  }
  return env;
}

/** Runs a command; never throws for a non-zero exit. */
export async function attempt(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await execa(file, args, {
    env: childEnv(options.env),
    extendEnv: false,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    reject: false,
    timeout: options.timeoutMs ?? 120_000,
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
    stripFinalNewline: true,
  });
  const exitCode = result.timedOut ? undefined : result.exitCode;
  return { exitCode, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
}

/** Runs a command and throws unless it exits 0. */
export async function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const result = await attempt(file, args, options);
  if (result.exitCode !== 0) {
    const status =
      result.exitCode === undefined
        ? `timed out after ${(options.timeoutMs ?? 120_000) / 1000} s`
        : `exited ${result.exitCode}`;
    const tail = result.stderr.split('\n').slice(-15).join('\n');
    throw new Error(`${file} ${args.slice(0, 4).join(' ')}${args.length > 4 ? ' ...' : ''} ${status}\n${tail}`);
  }
  return result.stdout;
}

export const docker = (args: readonly string[], options?: RunOptions) => run('docker', args, options);
export const dockerAttempt = (args: readonly string[], options?: RunOptions) => attempt('docker', args, options);
