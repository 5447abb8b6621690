// The few TPM 2.0 commands an unseal from a saved context needs, marshalled
// as the TPM 2.0 Library specification, Part 3 lays them out (big-endian,
// a 10-byte header of tag, size and command code, then handles, an
// authorization area when the tag says sessions, then parameters), and the
// tpm2-tools context file they start from. Pure functions over bytes: no I/O.

/** TPM_ST_NO_SESSIONS and TPM_ST_SESSIONS. */
const TAG_NO_SESSIONS = 0x8001;
const TAG_SESSIONS = 0x8002;

export const CC = {
  Unseal: 0x15e,
  ContextLoad: 0x161,
  FlushContext: 0x165,
  StartAuthSession: 0x176,
  PolicyPCR: 0x17f,
} as const;
export type CommandName = keyof typeof CC;

const TPM_RH_NULL = 0x40000007;
/** TPM_RS_PW: the password "session", whose hmac field carries the auth value itself. */
const TPM_RS_PW = 0x40000009;
const TPM_SE_POLICY = 0x01;
const TPM_ALG_SHA256 = 0x000b;
const TPM_ALG_NULL = 0x0010;
/** The largest response accepted: TPM2_MAX_COMMAND_SIZE of common TPMs (these commands need under 600 bytes). */
export const MAX_RESPONSE = 4096;

const u16 = (value: number) => {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(value);
  return bytes;
};
const u32 = (value: number) => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes;
};
const tpm2b = (data: Uint8Array) => Buffer.concat([u16(data.length), data]);

/** A whole command: header, handles, the authorization area (only with sessions), parameters. */
function command(code: number, handles: number[], parameters: Buffer[], auth?: Buffer): Buffer {
  const authArea = auth ? [u32(auth.length), auth] : [];
  const body = Buffer.concat([...handles.map(u32), ...authArea, ...parameters]);
  const header = Buffer.alloc(10);
  header.writeUInt16BE(auth ? TAG_SESSIONS : TAG_NO_SESSIONS, 0);
  header.writeUInt32BE(10 + body.length, 2);
  header.writeUInt32BE(code, 6);
  return Buffer.concat([header, body]);
}

/** TPMS_AUTH_COMMAND: session handle, empty nonce, attributes (continueSession off), hmac or password. */
function authCommand(session: number, hmac: Uint8Array = Buffer.alloc(0)): Buffer {
  return Buffer.concat([u32(session), u16(0), Buffer.of(0), tpm2b(hmac)]);
}

/** TPM2_ContextLoad of a marshalled TPMS_CONTEXT. */
export const contextLoad = (context: Buffer) => command(CC.ContextLoad, [], [context]);

/** TPM2_FlushContext of a loaded object or session (the handle is a parameter, not a handle). */
export const flushContext = (handle: number) => command(CC.FlushContext, [], [u32(handle)]);

/** TPM2_StartAuthSession: an unbound, unsalted sha256 policy session without parameter encryption. */
export function startPolicySession(nonceCaller: Uint8Array): Buffer {
  const symmetric = u16(TPM_ALG_NULL);
  return command(
    CC.StartAuthSession,
    [TPM_RH_NULL, TPM_RH_NULL],
    [tpm2b(nonceCaller), tpm2b(Buffer.alloc(0)), Buffer.of(TPM_SE_POLICY), symmetric, u16(TPM_ALG_SHA256)],
  );
}

/**
 * TPML_PCR_SELECTION of sha256 PCRs, three select bytes (24 PCRs), as tpm2-tools writes it when it
 * computes a `--policy-pcr` digest at seal time: the selection is part of that digest, so it must
 * be marshalled the same way here.
 */
export function pcrSelection(pcrs: readonly number[]): Buffer {
  const select = Buffer.alloc(3);
  for (const pcr of pcrs) {
    if (!Number.isInteger(pcr) || pcr < 0 || pcr > 23) throw new RangeError(`PCR ${pcr} is outside 0-23`);
    select[pcr >> 3]! |= 1 << (pcr & 7);
  }
  return Buffer.concat([u32(1), u16(TPM_ALG_SHA256), Buffer.of(select.length), select]);
}

/** TPM2_PolicyPCR with an empty digest: the TPM extends the session's policy with the PCRs' current values. */
export const policyPcr = (session: number, pcrs: readonly number[]) =>
  command(CC.PolicyPCR, [session], [tpm2b(Buffer.alloc(0)), pcrSelection(pcrs)]);

/**
 * TPM2_Unseal of a loaded object, authorized by a policy session (`session`) or else by the
 * password session carrying `auth` (empty for an object sealed without one).
 */
export function unseal(item: number, by: { session: number } | { auth: Uint8Array }): Buffer {
  const area = 'session' in by ? authCommand(by.session) : authCommand(TPM_RS_PW, by.auth);
  return command(CC.Unseal, [item], [], area);
}

export interface Response {
  /** The response code: 0 for success. */
  rc: number;
  /** The handle the command returned (ContextLoad, StartAuthSession), else undefined. */
  handle: number | undefined;
  /** The response parameters (after the parameterSize field when the response has sessions). */
  parameters: Buffer;
}

/** Thrown for bytes that are not a well-formed TPM response to the command sent. */
export class MalformedResponse extends Error {}

/** The size a response announces in its header, once 6 bytes have arrived; undefined before. */
export function announcedSize(head: Buffer): number | undefined {
  return head.length >= 6 ? head.readUInt32BE(2) : undefined;
}

/**
 * Parses the response to `code`. Commands that return a handle (ContextLoad, StartAuthSession)
 * have it first; responses with sessions carry a parameterSize before the parameters.
 */
export function parseResponse(code: number, bytes: Buffer): Response {
  if (bytes.length < 10 || bytes.readUInt32BE(2) !== bytes.length)
    throw new MalformedResponse(`a response of ${bytes.length} bytes whose header says otherwise`);
  const tag = bytes.readUInt16BE(0);
  if (tag !== TAG_NO_SESSIONS && tag !== TAG_SESSIONS)
    throw new MalformedResponse(`response tag 0x${tag.toString(16)}`);
  const rc = bytes.readUInt32BE(6);
  if (rc !== 0) return { rc, handle: undefined, parameters: Buffer.alloc(0) };
  let offset = 10;
  let handle: number | undefined;
  if (code === CC.ContextLoad || code === CC.StartAuthSession) {
    if (bytes.length < offset + 4) throw new MalformedResponse('a response without its handle');
    handle = bytes.readUInt32BE(offset);
    offset += 4;
  }
  let end = bytes.length;
  if (tag === TAG_SESSIONS) {
    if (bytes.length < offset + 4) throw new MalformedResponse('a response without its parameter size');
    end = offset + 4 + bytes.readUInt32BE(offset);
    offset += 4;
    if (end > bytes.length) throw new MalformedResponse('a parameter size past the end of the response');
  }
  return { rc, handle, parameters: bytes.subarray(offset, end) };
}

/** The TPM2B_SENSITIVE_DATA that TPM2_Unseal returns, as a view into `parameters`. */
export function unsealedData(parameters: Buffer): Buffer {
  if (parameters.length < 2) throw new MalformedResponse('an unseal response without data');
  const size = parameters.readUInt16BE(0);
  if (parameters.length < 2 + size) throw new MalformedResponse('unsealed data past the end of the response');
  return parameters.subarray(2, 2 + size);
}

const CONTEXT_MAGIC = 0xbadcc0de;

/**
 * The TPMS_CONTEXT (sequence, savedHandle, hierarchy, contextBlob) in a context file that
 * tpm2-tools (4.0 and later) saves: magic 0xBADCC0DE, version 1, hierarchy, savedHandle, sequence
 * and a blob in which the TSS (ESYS) wraps the TPM's context (a reserved word, the TPM2B of the
 * TPM's context, then ESYS metadata this path does not need). Undefined for anything else.
 */
export function tpmsContextFromToolsFile(file: Buffer): Buffer | undefined {
  if (file.length < 26 || file.readUInt32BE(0) !== CONTEXT_MAGIC || file.readUInt32BE(4) !== 1) return undefined;
  const hierarchy = file.subarray(8, 12);
  const savedHandle = file.subarray(12, 16);
  const sequence = file.subarray(16, 24);
  const blobSize = file.readUInt16BE(24);
  const blob = file.subarray(26, 26 + blobSize);
  if (blob.length !== blobSize || blob.length < 6 || blob.readUInt32BE(0) !== 0) return undefined;
  const tpmContextSize = blob.readUInt16BE(4);
  const tpmContext = blob.subarray(6, 6 + tpmContextSize);
  if (tpmContextSize === 0 || tpmContext.length !== tpmContextSize) return undefined;
  return Buffer.concat([sequence, savedHandle, hierarchy, tpm2b(tpmContext)]);
}
