// TPM failures mapped at the edge: the response code a tpm2 tool prints, or
// the one the TPM returns to a command sent directly (tpm2/direct.ts), becomes
// a StackError that says what happened and what to do. The tools' stderr never
// holds key material; only its first TPM line is quoted.
import { ExitCode, type ExitCodeValue, hasErrno, StackError } from '../../../src/errors.js';

export interface ToolFailure extends FailureContext {
  tool: string;
  stderr: string;
}

const RC_AUTH_FAIL = 0x08e;
const RC_BAD_AUTH = 0x0a2;
const RC_POLICY_FAIL = 0x09d;
const RC_INTEGRITY = 0x09f;
const RC_AUTH_UNAVAILABLE = 0x12f;
const RC_PCR_CHANGED = 0x928;
const RC_LOCKOUT = 0x921;
const RC_OBJECT_MEMORY = 0x902;
const RC_SESSION_MEMORY = 0x903;

/** The TPM response code in a tool's stderr, reduced to its error number (format-one codes lose their handle bits). */
function responseCode(stderr: string): number | undefined {
  const match = /_\w+\((0x[0-9a-f]+)\)/i.exec(stderr) ?? /ErrorCode \((0x[0-9a-f]+)\)/i.exec(stderr);
  if (!match?.[1]) return undefined;
  return reduceCode(Number.parseInt(match[1], 16));
}

/** A response code without the handle, session or parameter number of format-one codes; TSS layer codes (above 0xfff) as they are. */
function reduceCode(rc: number): number {
  if (rc > 0xfff) return rc;
  return rc & 0x080 ? rc & 0x0bf : rc;
}

function reseal(name: string | undefined): string {
  return `get the token from 1Password again and re-seal it: op read "op://..." | npm run seal -- --name ${name ?? 'NAME'} --force`;
}

/** What a failure is about, for the messages: the step, the TPM, and the credential with its PCRs. */
export interface FailureContext {
  step: string;
  tcti: string;
  cause: unknown;
  /** The credential, for messages that say how to re-seal it. */
  name?: string;
  /** The PCRs it was sealed against, for the same. */
  pcrs?: number[];
}

type Make = (code: string, message: string, exitCode: ExitCodeValue) => StackError;

const maker =
  ({ step, cause }: FailureContext): Make =>
  (code, message, exitCode) =>
    new StackError(code, message, { step, exitCode, cause });

/** The StackError for a TPM response code with a meaning of its own here (reduced by responseCode), or undefined. */
function knownCode(rc: number, command: string, context: FailureContext, make: Make): StackError | undefined {
  const { name, pcrs } = context;
  if (rc === RC_AUTH_FAIL || rc === RC_BAD_AUTH) {
    if (command === 'tpm2_createprimary') {
      return make(
        'tpm-owner-auth',
        'the TPM owner hierarchy has a password, which this tool does not use; clear it (tpm2_changeauth -c o) or seal with --backend keychain',
        ExitCode.config,
      );
    }
    return make(
      'tpm-auth-failed',
      `the TPM refused the auth value for ${name ?? 'this credential'}; retry with the auth value given at seal time (each failure counts toward the TPM's dictionary-attack lockout)`,
      ExitCode.noPerm,
    );
  }
  if (rc === RC_POLICY_FAIL || rc === RC_PCR_CHANGED) {
    return make(
      'tpm-pcr-mismatch',
      `the PCR values differ from those ${name ?? 'the token'} was sealed against, as after a firmware, bootloader or Secure Boot update, so the TPM refuses to release it; ${reseal(name)} --pcrs ${pcrs?.join(',') || 'LIST'}`,
      ExitCode.noPerm,
    );
  }
  if (rc === RC_LOCKOUT) {
    return make(
      'tpm-lockout',
      'the TPM is in dictionary-attack lockout after too many wrong auth values; wait for the lockout to expire or clear it with tpm2_dictionarylockout --clear-lockout',
      ExitCode.noPerm,
    );
  }
  if (rc === RC_INTEGRITY || rc === RC_AUTH_UNAVAILABLE) {
    return make(
      'tpm-blob-mismatch',
      `the sealed file of ${name ?? 'this credential'} does not load on this TPM (it is corrupted, or the TPM was cleared or replaced); ${reseal(name)}`,
      ExitCode.dataErr,
    );
  }
  if (rc === RC_OBJECT_MEMORY || rc === RC_SESSION_MEMORY) {
    return make(
      'tpm-full',
      'the TPM is out of memory for objects or sessions that another program left loaded; free them with tpm2_flushcontext -t -l -s and retry',
      ExitCode.unavailable,
    );
  }
  return undefined;
}

/** Whether a response code says the TPM is out of room for objects or sessions (0x902, 0x903). */
export const isTpmFull = (rc: number) => {
  const reduced = reduceCode(rc);
  return reduced === RC_OBJECT_MEMORY || reduced === RC_SESSION_MEMORY;
};

/** The message for a TPM that cannot be reached through its TCTI. */
export function unreachable(context: FailureContext, detail?: string): StackError {
  const said = detail ? ` (${detail.slice(0, 160)})` : '';
  return maker(context)(
    'tpm-unreachable',
    `cannot talk to the TPM through TCTI ${context.tcti}${said}; ${tctiAdvice(context.tcti)}`,
    ExitCode.unavailable,
  );
}

/** What to check, by the kind of TCTI: a device, a simulator's socket, or anything else. */
function tctiAdvice(tcti: string): string {
  const [kind = '', config = ''] = tcti.split(/:(.*)/s);
  if (kind === 'device') {
    const path = config || '/dev/tpmrm0';
    return `check that ${path} exists and that you may open it (group tss on most distributions), or point TPM2TOOLS_TCTI at your TPM`;
  }
  if (kind === 'swtpm' || kind === 'mssim') {
    return `nothing answers at ${config || 'the default address'}: start the TPM simulator there (swtpm socket ...), or point TPM2TOOLS_TCTI at the TPM that runs`;
  }
  return 'check that the TCTI in TPM2TOOLS_TCTI names a TPM that runs, and that its library is installed';
}

/** The message for a TPM that did not answer `what` in time. */
export function timedOut(context: FailureContext, what: string): StackError {
  return maker(context)(
    'tpm-timeout',
    `the TPM did not answer ${what} within a minute (TCTI ${context.tcti}); check that it is not busy or hung, then retry`,
    ExitCode.unavailable,
  );
}

/** Turns a TPM response code to a command sent directly (not through a tool) into a StackError. */
export function tpmCodeFailure(command: string, rc: number, context: FailureContext): StackError {
  const make = maker(context);
  return (
    knownCode(reduceCode(rc), command, context, make) ??
    make(
      'tpm-failed',
      `${command} failed (TPM response code 0x${rc.toString(16)}); retry, and re-seal if it persists`,
      ExitCode.unavailable,
    )
  );
}

/** Turns a failed tool run into a StackError with a documented exit code. */
export function tpmFailure(failure: ToolFailure): StackError {
  const { tool, stderr, cause } = failure;
  const make = maker(failure);
  const said = /ERROR: (?:\w+\(0x[0-9a-f]+\) - )?(.+)/i.exec(stderr)?.[1]?.trim();
  const tpmSaid = said ? ` (${tool}: ${said.slice(0, 160)})` : '';
  const detail = cause as { code?: string; timedOut?: boolean } | undefined;
  if (hasErrno(detail, 'ENOENT')) {
    return make(
      'tpm-tools-missing',
      `${tool} is not installed; install tpm2-tools (apt-get install tpm2-tools)`,
      ExitCode.unavailable,
    );
  }
  if (detail?.timedOut) return timedOut(failure, tool);
  const rc = responseCode(stderr);
  const known = rc === undefined || rc > 0xfff ? undefined : knownCode(rc, tool, failure, make);
  if (known) return known;
  if (/deserializ|valid TPM2B/i.test(stderr)) return knownCode(RC_INTEGRITY, tool, failure, make)!;
  if (rc === undefined || rc > 0xfff || /tcti/i.test(stderr)) return unreachable(failure, said && `${tool}: ${said}`);
  return make('tpm-failed', `${tool} failed${tpmSaid}; retry, and re-seal if it persists`, ExitCode.unavailable);
}
