// tpm2-tools through execa. Key material reaches the tools on stdin or in
// files of a private 0700 directory on /dev/shm that is removed in `finally`,
// never on argv or in the environment. Without a resource manager every tool
// leaves its transient objects and sessions loaded, so they are flushed after
// each operation (and once, then retried, on 0x902/0x903 from an earlier crash).
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { ExitCode, StackError } from '../../src/errors.js';
import { tpmFailure } from './tpm2-errors.js';

const SCRATCH_PARENT = '/dev/shm';
const TOOL_TIMEOUT_MS = 60_000;

export interface Tpm {
  /** Private 0700 scratch directory for this operation. */
  readonly dir: string;
  /** The TCTI in use (`TPM2TOOLS_TCTI`, default `device:/dev/tpmrm0`). */
  readonly tcti: string;
  /** Whether a resource manager flushes objects for us (kernel `tpmrm` or tabrmd). */
  readonly managed: boolean;
  /** Runs one tool; `input` goes to its stdin. Resolves to its stdout. */
  run(tool: string, args: string[], input?: Buffer): Promise<Buffer>;
  /** Flushes transient objects (and sessions, unless `objectsOnly`) when no resource manager does it. */
  flush(objectsOnly?: boolean): Promise<void>;
}

/** Runs `body` with a TPM handle and a scratch directory; always flushes and removes the directory. */
export async function withTpm<T>(
  env: NodeJS.ProcessEnv,
  at: { step: string; name: string; pcrs?: number[] },
  body: (tpm: Tpm) => Promise<T>,
): Promise<T> {
  const { step } = at;
  const tcti = env.TPM2TOOLS_TCTI || 'device:/dev/tpmrm0';
  const dir = await mkdtemp(join(SCRATCH_PARENT, `copilot-bridge-seal-${process.pid}-`)).catch((error: unknown) => {
    throw new StackError('scratch', `cannot create a private directory on ${SCRATCH_PARENT} for the TPM tools; check that ${SCRATCH_PARENT} is a writable tmpfs`, {
      step,
      exitCode: ExitCode.cantCreate,
      cause: error,
    });
  });
  const tpm = new ToolRunner(tcti, dir, at, env);
  // A signal skips `finally`: remove the directory first, then die of the same signal.
  const onSignal = (signal: NodeJS.Signals) => {
    rmSync(dir, { recursive: true, force: true });
    process.kill(process.pid, signal);
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const signal of signals) process.once(signal, onSignal);
  try {
    return await body(tpm);
  } finally {
    await tpm.flush().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    for (const signal of signals) process.off(signal, onSignal);
  }
}

/** A Buffer over the same memory, so that zeroing it zeroes what the tool wrote. */
const view = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const text = (bytes: Uint8Array) => view(bytes).toString('utf8');

class ToolRunner implements Tpm {
  readonly managed: boolean;

  constructor(
    readonly tcti: string,
    readonly dir: string,
    private readonly at: { step: string; name: string; pcrs?: number[] },
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.managed = /^(device:\/dev\/tpmrm\d*$|tabrmd)/.test(tcti);
  }

  async run(tool: string, args: string[], input?: Buffer): Promise<Buffer> {
    let result = await this.exec(tool, args, input);
    if (result.failed && !this.managed && /\(0x0*90[23]\)/i.test(text(result.stderr))) {
      await this.flush();
      result = await this.exec(tool, args, input);
    }
    if (result.failed) {
      throw tpmFailure({ tool, ...this.at, tcti: this.tcti, stderr: text(result.stderr), cause: result });
    }
    return view(result.stdout);
  }

  async flush(objectsOnly = false): Promise<void> {
    if (this.managed) return;
    await this.exec('tpm2_flushcontext', objectsOnly ? ['-t'] : ['-t', '-l', '-s']);
  }

  private exec(tool: string, args: string[], input?: Buffer) {
    return execa(tool, args, {
      cwd: this.dir,
      env: { ...this.env, TPM2TOOLS_TCTI: this.tcti },
      extendEnv: false,
      encoding: 'buffer',
      reject: false,
      timeout: TOOL_TIMEOUT_MS,
      ...(input ? { input } : { stdin: 'ignore' as const }),
    });
  }
}
