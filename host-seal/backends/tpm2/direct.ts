// The warm unseal without tool processes: the loaded sealed object's saved
// context (tpm2/cache.ts) goes to the TPM as raw commands over the TCTI
// (tpm2/transport.ts), in the order tpm2_unseal -c FILE would send them:
//
//   TPM2_ContextLoad      the saved object back into the TPM
//   TPM2_StartAuthSession + TPM2_PolicyPCR     only for a PCR-bound seal: the TPM
//                         checks the PCRs' current values against the sealed policy
//   TPM2_Unseal           authorized by that policy session, or by the password
//                         session with the auth value (empty when sealed without one)
//   TPM2_FlushContext     of everything this loaded, on every path, so that a TPM
//                         without a resource manager keeps its few object slots
//
// Each step costs a round trip of well under a millisecond, against a few
// milliseconds for each process spawned, which is what brings an unseal within
// twice `systemd-creds decrypt` (bench/unseal.ts).
//
// What travels over the TCTI is what tpm2_unseal sends too: no session is
// salted or encrypts parameters, so the released key crosses the bus in clear
// either way; the auth value goes in a password session here (tpm2_unseal uses
// an unsalted HMAC session, which spares the value but not the key it releases).
//
// The outcome is the key, a StackError for an answer that settles the matter
// (wrong auth, PCR mismatch, lockout, a TPM that stopped answering), or
// undefined for "take the long way": the context no longer loads (the TPM was
// reset since it was saved) or the TPM is out of object or session slots
// (the tools' path flushes what others left and retries).
import type { StackError } from '../../../src/errors.js';
import { type FailureContext, isTpmFull, timedOut, tpmCodeFailure, unreachable } from './errors.js';
import { type Transport, TransportError } from './transport.js';
import * as wire from './wire.js';

/** TPM_RC_YIELDED, TPM_RC_TESTING, TPM_RC_RETRY: warnings that mean "not run, send it again". */
const RESUBMIT = new Set([0x908, 0x90a, 0x922]);
/** As many submissions as the TSS (ESYS) makes before it gives up. */
const MAX_SUBMISSIONS = 5;
const RESUBMIT_DELAY_MS = 10;

export interface DirectUnseal {
  /** The cached context file, as tpm2-tools saved it. */
  contextFile: Buffer;
  /** sha256 PCRs of the seal's policy; empty for none. */
  pcrs: readonly number[];
  /** The auth value, when the seal has one. */
  auth: Buffer | undefined;
  /** 16 random bytes, the caller's nonce for a policy session. */
  nonce: () => Buffer;
  /** Runs once, when the first command is with the TPM: time to do other work while it loads the context. */
  whileWaiting?: () => void;
}

/** The key the TPM released (the caller zeroes it), a StackError thrown, or undefined: take the long way. */
export async function unsealDirect(
  transport: Transport,
  request: DirectUnseal,
  context: FailureContext,
): Promise<Buffer | undefined> {
  const saved = wire.tpmsContextFromToolsFile(request.contextFile);
  if (!saved) {
    transport.close(); // swtpm serves one connection at a time: the tools' long way needs it
    return undefined;
  }
  const loaded: number[] = [];
  let broken = false;
  /** Sends a command (resubmitting it when the TPM asks) and parses the answer; the command is zeroed after (an Unseal's carries the auth value). */
  const call = async (name: wire.CommandName, bytes: Buffer, written?: () => void) => {
    try {
      return await submit(name, bytes, written);
    } finally {
      bytes.fill(0);
    }
  };
  const submit = async (name: wire.CommandName, bytes: Buffer, written?: () => void) => {
    for (let submission = 1; ; submission += 1) {
      let response: Buffer;
      try {
        response = await transport.send(bytes, submission === 1 ? written : undefined);
      } catch (error) {
        broken = true;
        throw transportFailure(error, name, context);
      }
      let parsed: wire.Response;
      try {
        parsed = wire.parseResponse(wire.CC[name], response);
      } catch (error) {
        response.fill(0);
        broken = true;
        throw unreachable({ ...context, cause: error }, `TPM2_${name}: ${(error as Error).message}`);
      }
      // The TPM did not run the command and asks for it again (as the TSS under the tools does).
      if (!RESUBMIT.has(parsed.rc) || submission === MAX_SUBMISSIONS) return { response, ...parsed };
      await new Promise((resolve) => setTimeout(resolve, RESUBMIT_DELAY_MS * submission));
    }
  };
  try {
    const load = await call('ContextLoad', wire.contextLoad(saved), request.whileWaiting);
    if (load.rc !== 0 || load.handle === undefined) return undefined; // stale, damaged or no room: the long way
    loaded.push(load.handle);

    let authorization: Parameters<typeof wire.unseal>[1] = { auth: request.auth ?? Buffer.alloc(0) };
    if (request.pcrs.length > 0) {
      const session = await call('StartAuthSession', wire.startPolicySession(request.nonce()));
      if (session.rc !== 0 || session.handle === undefined) {
        if (isTpmFull(session.rc)) return undefined;
        throw tpmCodeFailure('TPM2_StartAuthSession', session.rc, context);
      }
      loaded.push(session.handle);
      authorization = { session: session.handle };
      const policy = await call('PolicyPCR', wire.policyPcr(session.handle, request.pcrs));
      if (policy.rc !== 0) throw tpmCodeFailure('TPM2_PolicyPCR', policy.rc, context);
    }

    const unsealed = await call('Unseal', wire.unseal(load.handle, authorization));
    if (unsealed.rc !== 0) throw tpmCodeFailure('TPM2_Unseal', unsealed.rc, context);
    // continueSession was off: a policy session ends with a successful command.
    if ('session' in authorization) loaded.pop();
    try {
      return Buffer.from(wire.unsealedData(unsealed.parameters));
    } catch (error) {
      throw unreachable({ ...context, cause: error }, `TPM2_Unseal: ${(error as Error).message}`);
    } finally {
      unsealed.response.fill(0);
    }
  } finally {
    // Newest first; a flush's answer changes nothing for this unseal, and a broken transport gets none.
    for (const handle of loaded.reverse()) {
      if (broken) break;
      await transport.send(wire.flushContext(handle)).then(
        (response) => response.fill(0),
        () => (broken = true),
      );
    }
    transport.close();
  }
}

function transportFailure(error: unknown, command: string, context: FailureContext): StackError {
  const detail = error instanceof TransportError ? error.message : String(error);
  if (error instanceof TransportError && error.timedOut)
    return timedOut({ ...context, cause: error }, `TPM2_${command}`);
  return unreachable({ ...context, cause: error }, `TPM2_${command}: ${detail}`);
}
