// tpm2-tools through the one child runner (src/process/collect.ts). Key material reaches the tools on stdin or in files
// of a
// private 0700 directory on /dev/shm that is removed in `finally`, never on
// argv or in the environment, and comes back on stdout into buffers that the
// caller zeroes. Without a resource manager every tool leaves its transient
// objects (and some sessions) loaded, so they are flushed after each operation
// (and once, then retried, on 0x902/0x903 from an earlier crash); with one
// (`device:/dev/tpmrm*`, tabrmd) no flush runs at all.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, StackError } from '../../../src/errors.js';
import { collect } from '../../../src/process/collect.js';
import { tpmFailure } from './errors.js';

const SCRATCH_PARENT = '/dev/shm';
const TOOL_TIMEOUT_MS = 60_000;
/** tpm2 tools print a few hundred bytes; anything near this is not a tpm2 tool talking. */
const MAX_OUTPUT = 1024 * 1024;

export interface Tpm {
  /** The TCTI in use (`TPM2TOOLS_TCTI`, default `device:/dev/tpmrm0`). */
  readonly tcti: string;
  /** Whether a resource manager flushes objects for us (kernel `tpmrm` or tabrmd). */
  readonly managed: boolean;
  /**
   * Runs one tool (in `cwd`, default the scratch directory or `/`); `input` goes to its stdin.
   * Resolves to its stdout, a buffer the caller owns and should zero. Failures are StackErrors.
   */
  run(tool: string, args: string[], input?: Buffer, cwd?: string): Promise<Buffer>;
  /** Like `run`, but resolves to the raw outcome, for callers that classify a failure themselves. */
  attempt(tool: string, args: string[], input?: Buffer, cwd?: string): Promise<ToolOutcome>;
  /** The StackError a failed outcome maps to (zeroes its stdout). */
  failure(outcome: ToolOutcome): StackError;
  /** Runs `body` with a private 0700 scratch directory on /dev/shm, removed afterwards and on SIGINT, SIGTERM, SIGHUP. */
  scratch<T>(body: (dir: string) => Promise<T>): Promise<T>;
  /** Flushes transient objects (and sessions, unless `objectsOnly`) when no resource manager does it. */
  flush(objectsOnly?: boolean): Promise<void>;
}

interface ToolOutcome {
  ok: boolean;
  stdout: Buffer;
  stderr: string;
  /** What errors.ts reads: `code` ENOENT when the tool is missing, `timedOut`. */
  cause: ToolCause;
}

interface ToolCause {
  tool: string;
  exitCode: number | undefined;
  signal: NodeJS.Signals | undefined;
  code: string | undefined;
  timedOut: boolean;
}

/**
 * Runs `body` with a TPM handle. Afterwards, when no resource manager does it, flushes what the
 * tools left loaded: transient objects only when every tool succeeded and none of them leaves a
 * session behind (tpm2_unseal closes its policy session; tpm2_createpolicy leaves its trial
 * session), else objects and sessions.
 */
export async function withTpm<T>(
  env: NodeJS.ProcessEnv,
  at: { step: string; name: string; pcrs?: number[] },
  body: (tpm: Tpm) => Promise<T>,
): Promise<T> {
  const tpm = new ToolRunner(tctiOf(env), at, env);
  let succeeded = false;
  try {
    const value = await body(tpm);
    succeeded = true;
    return value;
  } finally {
    await tpm.flush(succeeded && !tpm.sessionsMayRemain).catch(() => undefined);
  }
}

/** The TCTI the tools and the direct path use: `TPM2TOOLS_TCTI`, else the kernel's resource manager. */
export const tctiOf = (env: NodeJS.ProcessEnv) => env.TPM2TOOLS_TCTI || 'device:/dev/tpmrm0';

class ToolRunner implements Tpm {
  readonly managed: boolean;
  /** Set once a tool failed or left a session loaded; the final flush then takes sessions too. */
  sessionsMayRemain = false;
  private dir: string | undefined;
  private readonly children = new Set<ChildProcess>();

  constructor(
    readonly tcti: string,
    private readonly at: { step: string; name: string; pcrs?: number[] },
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.managed = /^(device:\/dev\/tpmrm\d*$|tabrmd)/.test(tcti);
  }

  async run(tool: string, args: string[], input?: Buffer, cwd?: string): Promise<Buffer> {
    const outcome = await this.attempt(tool, args, input, cwd);
    if (!outcome.ok) throw this.failure(outcome);
    return outcome.stdout;
  }

  async attempt(tool: string, args: string[], input?: Buffer, cwd?: string): Promise<ToolOutcome> {
    let outcome = await this.exec(tool, args, input, cwd);
    if (!outcome.ok && !this.managed && /\(0x0*90[23]\)/i.test(outcome.stderr)) {
      outcome.stdout.fill(0);
      await this.flush();
      outcome = await this.exec(tool, args, input, cwd);
    }
    return outcome;
  }

  /** The StackError a failed outcome maps to. */
  failure(outcome: ToolOutcome): StackError {
    outcome.stdout.fill(0);
    return tpmFailure({
      tool: outcome.cause.tool,
      ...this.at,
      tcti: this.tcti,
      stderr: outcome.stderr,
      cause: outcome.cause,
    });
  }

  async scratch<T>(body: (dir: string) => Promise<T>): Promise<T> {
    const { step } = this.at;
    let dir: string;
    try {
      dir = mkdtempSync(join(SCRATCH_PARENT, `copilot-bridge-seal-${process.pid}-`));
    } catch (error) {
      throw new StackError(
        'scratch',
        `cannot create a private directory on ${SCRATCH_PARENT} for the TPM tools; check that ${SCRATCH_PARENT} is a writable tmpfs`,
        {
          step,
          exitCode: ExitCode.cantCreate,
          cause: error,
        },
      );
    }
    // A signal skips `finally`: stop the tools, remove the directory, then die of the same signal.
    const onSignal = (signal: NodeJS.Signals) => {
      for (const child of this.children) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      process.kill(process.pid, signal);
    };
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    for (const signal of signals) process.once(signal, onSignal);
    this.dir = dir;
    try {
      return await body(dir);
    } finally {
      this.dir = undefined;
      rmSync(dir, { recursive: true, force: true });
      for (const signal of signals) process.off(signal, onSignal);
    }
  }

  async flush(objectsOnly = false): Promise<void> {
    if (this.managed) return;
    // One kind per run: tpm2_flushcontext -t -l -s (tpm2-tools 5.4) stops at the first handle
    // that fails to flush and leaves transient objects loaded when a session is loaded too.
    // The output is never read: a failed flush changes nothing for this operation.
    for (const kind of objectsOnly ? ['-t'] : ['-t', '-l', '-s']) {
      await this.exec('tpm2_flushcontext', [kind], undefined, undefined, true);
    }
  }

  private async exec(
    tool: string,
    args: string[],
    input?: Buffer,
    cwd = this.dir ?? '/',
    quiet = false,
  ): Promise<ToolOutcome> {
    const result = await collect(tool, args, {
      cwd,
      env: { ...this.env, TPM2TOOLS_TCTI: this.tcti },
      input,
      quiet,
      timeoutMs: TOOL_TIMEOUT_MS,
      maxBuffer: MAX_OUTPUT,
      track: (child, alive) => (alive ? this.children.add(child) : this.children.delete(child)),
    });
    const cause: ToolCause = {
      tool,
      exitCode: result.exitCode,
      signal: result.signal,
      code: result.startError ? (result.startError.code ?? 'spawn-failed') : undefined,
      timedOut: result.timedOut,
    };
    const ok = result.exitCode === 0 && !result.timedOut && !result.overflow;
    if (!ok || tool === 'tpm2_createpolicy') this.sessionsMayRemain = true;
    return { ok, stdout: result.stdout, stderr: result.stderr, cause };
  }
}
