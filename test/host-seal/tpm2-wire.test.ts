// The direct unseal path (tpm2/wire.ts, tpm2/transport.ts, tpm2/direct.ts)
// against its oracle and its failure modes: the commands tpm2_unseal sends to
// a real swtpm, recorded by the relay, compared byte for byte with what
// tpm2-wire builds; unsealDirect returning the key the tool printed and leaving
// nothing loaded; the TCTI parser's table; malformed context files and
// responses; the socket transport against servers that misbehave on purpose;
// and how each TPM refusal maps to a StackError code.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import t, { type Test } from 'tap';
import { unsealDirect } from '../../host-seal/backends/tpm2/direct.js';
import { openTransport, parseTcti, type Transport, TransportError } from '../../host-seal/backends/tpm2/transport.js';
import * as wire from '../../host-seal/backends/tpm2/wire.js';
import { StackError } from '../../src/errors.js';
import {
  type Answer,
  closedPort,
  startFakeTpmSocket,
  tpmResponse,
  writeAll,
} from '../support/host-seal/fake-tpm-socket.js';
import { type SoftTpm, startSwtpm } from '../support/host-seal/swtpm.js';
import { type Exchange, startTpmRelay, type TpmRelay } from '../support/host-seal/tpm-relay.js';

const TPM_SE_POLICY = 0x01;
const TPM_ALG_SHA256 = 0x000b;
const TPM_ALG_NULL = 0x0010;
const CC_PCR_READ = 0x17e;

// ---------------------------------------------------------------------------
// Helpers: a real swtpm with a key sealed the way host-seal/backends/tpm2.ts does it.

interface Sealed {
  dir: string;
  tpm: SoftTpm;
  /** The 32 bytes sealed. */
  key: Buffer;
  /** seal.ctx as tpm2_load saved it. */
  contextFile: Buffer;
  /** Runs a tpm2 tool in `dir` against `tcti` (default: the TPM itself, not the relay). */
  tool(name: string, args: string[], tcti?: string): Promise<Buffer>;
  /** Transient object handles and loaded session handles, as tpm2_getcap lists them. */
  loaded(): Promise<{ transient: string; sessions: string }>;
}

async function sealedKey(t: Test, options: { pcrs?: boolean; auth?: string } = {}): Promise<Sealed> {
  const dir = await mkdtemp(join(tmpdir(), 'cbs-tpm2-wire-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const tpm = await startSwtpm(dir);
  t.teardown(() => tpm.stop());
  const tool = async (name: string, args: string[], tcti = tpm.tcti) => {
    const result = await execa(name, args, {
      cwd: dir,
      env: { TPM2TOOLS_TCTI: tcti },
      encoding: 'buffer',
      stripFinalNewline: false,
    });
    return Buffer.from(result.stdout);
  };
  const key = randomBytes(32);
  await writeFile(join(dir, 'key.bin'), key, { mode: 0o600 });
  // No resource manager: every tool leaves its objects (and tpm2_createpolicy its trial session) loaded.
  await tool('tpm2_createprimary', ['-C', 'o', '-g', 'sha256', '-G', 'ecc256:aes128cfb', '-c', 'primary.ctx', '-Q']);
  await tool('tpm2_flushcontext', ['-t']);
  const args = ['-C', 'primary.ctx', '-g', 'sha256', '-i', 'key.bin', '-u', 'seal.pub', '-r', 'seal.priv', '-Q'];
  if (options.pcrs) {
    await tool('tpm2_createpolicy', ['--policy-pcr', '-l', 'sha256:7', '-L', 'pcr.policy', '-Q']);
    await tool('tpm2_flushcontext', ['-l']);
    args.push('-L', 'pcr.policy');
  }
  if (options.auth !== undefined) args.push('-p', `str:${options.auth}`);
  await tool('tpm2_create', args);
  await tool('tpm2_flushcontext', ['-t']);
  await tool('tpm2_load', ['-C', 'primary.ctx', '-u', 'seal.pub', '-r', 'seal.priv', '-c', 'seal.ctx', '-Q']);
  await tool('tpm2_flushcontext', ['-t']);
  const contextFile = await readFile(join(dir, 'seal.ctx'));
  const loaded = async () => ({
    transient: (await tool('tpm2_getcap', ['handles-transient'])).toString().trim(),
    sessions: (await tool('tpm2_getcap', ['handles-loaded-session'])).toString().trim(),
  });
  return { dir, tpm, key, contextFile, tool, loaded };
}

async function relayTo(t: Test, tpm: SoftTpm): Promise<TpmRelay> {
  const relay = await startTpmRelay(tpm.port);
  t.teardown(() => relay.close());
  return relay;
}

const context = (tcti: string, pcrs: number[]) => ({ step: 'unseal', tcti, cause: undefined, name: 'wire-test', pcrs });

function transportTo(t: Test, tcti: string, timeoutMs?: number): Transport {
  const transport = openTransport(tcti, timeoutMs);
  if (!transport) throw new Error(`openTransport refused ${tcti}`);
  t.teardown(() => transport.close());
  return transport;
}

/** The rejection of `promise`, or a failure if it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${String(value)}`);
    },
    (error: unknown) => error,
  );
}

/** What `fn` throws, or a failure if it returns. */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

const code = (bytes: Buffer) => bytes.readUInt32BE(6);
const only = (exchanges: Exchange[], cc: number) => exchanges.filter((exchange) => code(exchange.command) === cc);

function one(t: Test, exchanges: Exchange[], cc: number, what: string): Exchange {
  const found = only(exchanges, cc);
  t.equal(found.length, 1, `the tool sent one ${what}`);
  const [exchange] = found;
  if (!exchange?.response) throw new Error(`no answered ${what} among the recorded exchanges`);
  return exchange;
}

/** The fields of a TPM2_StartAuthSession command (Part 3, 11.1). */
function startAuthSessionFields(command: Buffer) {
  let offset = 10;
  const tpmKey = command.readUInt32BE(offset);
  const bind = command.readUInt32BE(offset + 4);
  offset += 8;
  if (command.readUInt16BE(0) === 0x8002) offset += 4 + command.readUInt32BE(offset); // an audit session's auth area, if any
  const nonceSize = command.readUInt16BE(offset);
  offset += 2 + nonceSize;
  const saltSize = command.readUInt16BE(offset);
  offset += 2 + saltSize;
  const sessionType = command.readUInt8(offset);
  offset += 1;
  const symmetric = command.readUInt16BE(offset);
  offset += symmetric === TPM_ALG_NULL ? 2 : 6;
  const authHash = command.readUInt16BE(offset);
  offset += 2;
  return { tpmKey, bind, nonceSize, saltSize, sessionType, symmetric, authHash, parsedAll: offset === command.length };
}

// ---------------------------------------------------------------------------
// 1. The oracle: tpm2_unseal through the relay.

t.test(
  'tpm2_unseal -p pcr:sha256:7 through the relay: the commands tpm2-wire builds are the ones the tool sends',
  async (t) => {
    const sealed = await sealedKey(t, { pcrs: true });
    const { tool, contextFile, key } = sealed;
    t.same(await sealed.loaded(), { transient: '', sessions: '' }, 'after sealing and loading, nothing is left loaded');
    const relay = await relayTo(t, sealed.tpm);

    const printed = await tool('tpm2_unseal', ['-c', 'seal.ctx', '-p', 'pcr:sha256:7'], relay.tcti);
    t.same(printed, key, 'the tool prints the 32 bytes that were sealed');
    const exchanges = [...relay.exchanges];
    t.comment(`tpm2_unseal sent: ${exchanges.map((exchange) => `0x${code(exchange.command).toString(16)}`).join(' ')}`);
    for (const exchange of exchanges)
      t.ok(exchange.response, `command 0x${code(exchange.command).toString(16)} was answered`);

    // ContextLoad: the whole command, byte for byte.
    const toolLoad = one(t, exchanges, wire.CC.ContextLoad, 'TPM2_ContextLoad');
    const saved = wire.tpmsContextFromToolsFile(contextFile);
    if (!saved) throw new Error('the context file tpm2_load saved does not parse');
    t.same(wire.contextLoad(saved), toolLoad.command, "TPM2_ContextLoad: identical to the tool's, byte for byte");
    const loadedAs = wire.parseResponse(wire.CC.ContextLoad, toolLoad.response!);
    t.equal(loadedAs.rc, 0, 'the TPM loaded it');
    t.equal(
      loadedAs.handle! >>> 24,
      0x80,
      "parseResponse reads a transient object handle from the tool's ContextLoad response",
    );

    // StartAuthSession: only the fields that must match. The nonce is random and its size is
    // the caller's choice (16 bytes up to the digest size); whether a session is salted, bound or
    // encrypts parameters (symmetric) is the caller's choice too and does not change the policy
    // digest, and tpm2-tools' choices there vary across versions. What must match for the TPM to
    // accept the session for this object: a policy session (not trial, not HMAC) whose policy
    // digest is computed with sha256, the sealed object's policy algorithm.
    const toolStart = one(t, exchanges, wire.CC.StartAuthSession, 'TPM2_StartAuthSession');
    const theirs = startAuthSessionFields(toolStart.command);
    const ours = startAuthSessionFields(wire.startPolicySession(randomBytes(16)));
    t.ok(theirs.parsedAll && ours.parsedAll, 'both StartAuthSession commands parse to their last byte');
    t.equal(ours.sessionType, theirs.sessionType, "session type: the tool's");
    t.equal(ours.sessionType, TPM_SE_POLICY, 'which is TPM_SE_POLICY');
    t.equal(ours.authHash, theirs.authHash, "session hash: the tool's");
    t.equal(ours.authHash, TPM_ALG_SHA256, 'which is sha256');
    t.same(
      {
        tpmKey: ours.tpmKey,
        bind: ours.bind,
        saltSize: ours.saltSize,
        symmetric: ours.symmetric,
        nonceSize: ours.nonceSize,
      },
      { tpmKey: 0x40000007, bind: 0x40000007, saltSize: 0, symmetric: TPM_ALG_NULL, nonceSize: 16 },
      'ours: unbound, unsalted, no parameter encryption, the 16-byte nonce given',
    );
    t.comment(`the tool's session: nonce ${theirs.nonceSize} bytes, symmetric 0x${theirs.symmetric.toString(16)}`);
    const session = wire.parseResponse(wire.CC.StartAuthSession, toolStart.response!);
    t.equal(session.rc, 0);
    t.equal(
      session.handle! >>> 24,
      0x03,
      "parseResponse reads a policy session handle from the tool's StartAuthSession response",
    );
    const sessionHandle = session.handle!;

    // PolicyPCR: the tool reads PCR 7 first and sends the digest of its value; tpm2-wire sends an
    // empty digest, which tells the TPM to use the PCRs' current values (Part 3, 23.7). Everything
    // else (handle, selection) must be the same bytes; the digest the tool sent is checked separately.
    const toolPolicy = one(t, exchanges, wire.CC.PolicyPCR, 'TPM2_PolicyPCR');
    const digestSize = toolPolicy.command.readUInt16BE(14);
    const withoutDigest = Buffer.concat([
      toolPolicy.command.subarray(0, 14),
      Buffer.of(0, 0),
      toolPolicy.command.subarray(16 + digestSize),
    ]);
    withoutDigest.writeUInt32BE(withoutDigest.length, 2);
    t.same(
      wire.policyPcr(sessionHandle, [7]),
      withoutDigest,
      "TPM2_PolicyPCR: the tool's, byte for byte, with its session handle and an empty digest",
    );
    if (digestSize > 0) {
      t.ok(only(exchanges, CC_PCR_READ).length > 0, 'the tool read the PCRs for its digest');
      const pcr7 = await tool('tpm2_pcrread', ['sha256:7', '-o', 'pcr7.bin', '-Q']).then(() =>
        readFile(join(sealed.dir, 'pcr7.bin')),
      );
      t.same(
        toolPolicy.command.subarray(16, 16 + digestSize),
        createHash('sha256').update(pcr7).digest(),
        "the digest the tool sent is that of PCR 7's current value, which the TPM uses for an empty one",
      );
    }
    t.equal(wire.parseResponse(wire.CC.PolicyPCR, toolPolicy.response!).rc, 0);

    // Unseal: the tool's HMAC-style policy auth (rolling nonce, continueSession, hmac) differs by
    // design; its handles and what parseResponse/unsealedData make of the real response are checked.
    const toolUnseal = one(t, exchanges, wire.CC.Unseal, 'TPM2_Unseal');
    const ourUnseal = wire.unseal(loadedAs.handle!, { session: sessionHandle });
    t.same(ourUnseal.subarray(0, 2), toolUnseal.command.subarray(0, 2), "TPM2_Unseal: the tool's tag (with sessions)");
    t.same(ourUnseal.subarray(6, 14), toolUnseal.command.subarray(6, 14), 'and its command code and object handle');
    t.same(ourUnseal.subarray(18, 22), toolUnseal.command.subarray(18, 22), 'and its session handle');
    const unsealedResponse = wire.parseResponse(wire.CC.Unseal, toolUnseal.response!);
    t.equal(unsealedResponse.rc, 0);
    t.equal(unsealedResponse.handle, undefined, 'Unseal returns no handle');
    t.same(
      wire.unsealedData(unsealedResponse.parameters),
      key,
      "parseResponse and unsealedData find the key in the tool's real response (with sessions)",
    );

    // FlushContext: the tool flushes its policy session; tpm2_flushcontext -t flushes the object.
    const toolFlushes = only(exchanges, wire.CC.FlushContext);
    t.ok(toolFlushes.length > 0, 'the tool flushed something');
    t.same(
      toolFlushes.map((exchange) => exchange.command),
      toolFlushes.map((exchange) => wire.flushContext(exchange.command.readUInt32BE(10))),
      "TPM2_FlushContext: the tool's, byte for byte",
    );
    t.ok(
      toolFlushes.some((exchange) => exchange.command.equals(wire.flushContext(sessionHandle))),
      'including that of its session',
    );
    relay.reset();
    await tool('tpm2_flushcontext', ['-t'], relay.tcti);
    const objectFlush = only(relay.exchanges, wire.CC.FlushContext);
    t.same(
      objectFlush.map((exchange) => exchange.command),
      [wire.flushContext(loadedAs.handle!)],
      'tpm2_flushcontext -t sends our FlushContext of the object, byte for byte',
    );
    t.same(await sealed.loaded(), { transient: '', sessions: '' }, 'the TPM is empty again before the direct unseal');

    // The function itself, through the same relay.
    relay.reset();
    const direct = await unsealDirect(
      transportTo(t, relay.tcti),
      { contextFile, pcrs: [7], auth: undefined, nonce: () => randomBytes(16) },
      context(relay.tcti, [7]),
    );
    t.same(direct, printed, 'unsealDirect returns the 32 bytes tpm2_unseal printed');
    const sent = relay.exchanges;
    t.same(
      sent.map((exchange) => code(exchange.command)),
      [wire.CC.ContextLoad, wire.CC.StartAuthSession, wire.CC.PolicyPCR, wire.CC.Unseal, wire.CC.FlushContext],
      'ContextLoad, StartAuthSession, PolicyPCR, Unseal, FlushContext',
    );
    t.same(sent[0]?.command, toolLoad.command, "its ContextLoad is the tool's");
    const directObject = wire.parseResponse(wire.CC.ContextLoad, sent[0]!.response!).handle!;
    t.same(
      sent[4]?.command,
      wire.flushContext(directObject),
      'the object it loaded is flushed (the session ended with the Unseal)',
    );
    t.same(
      await sealed.loaded(),
      { transient: '', sessions: '' },
      'no transient object and no session left loaded (tpm2_getcap)',
    );
  },
);

// ---------------------------------------------------------------------------
// 2. parseTcti.

t.test('parseTcti: the TCTIs Node speaks, and every other string refused', async (t) => {
  const accepted: [string, ReturnType<typeof parseTcti>][] = [
    ['device', { kind: 'device', path: '/dev/tpm0' }],
    ['device:', { kind: 'device', path: '/dev/tpm0' }],
    ['device:/dev/tpmrm0', { kind: 'device', path: '/dev/tpmrm0' }],
    ['device:/dev/tpm0', { kind: 'device', path: '/dev/tpm0' }],
    ['swtpm', { kind: 'tcp', host: 'localhost', port: 2321 }],
    ['swtpm:', { kind: 'tcp', host: 'localhost', port: 2321 }],
    ['swtpm:host=127.0.0.1,port=2321', { kind: 'tcp', host: '127.0.0.1', port: 2321 }],
    ['swtpm:port=2321,host=127.0.0.1', { kind: 'tcp', host: '127.0.0.1', port: 2321 }],
    ['swtpm:host=tpm.example', { kind: 'tcp', host: 'tpm.example', port: 2321 }],
    ['swtpm:port=34567', { kind: 'tcp', host: 'localhost', port: 34567 }],
    ['swtpm:host=::1,port=1', { kind: 'tcp', host: '::1', port: 1 }],
    ['swtpm:port=65535', { kind: 'tcp', host: 'localhost', port: 65535 }],
    ['swtpm:path=/run/swtpm/sock', { kind: 'unix', path: '/run/swtpm/sock' }],
  ];
  for (const [tcti, endpoint] of accepted) t.same(parseTcti(tcti), endpoint, `accepted: ${JSON.stringify(tcti)}`);

  const refused = [
    '',
    'device:dev/tpm0', // relative path
    'device:tpmrm0',
    'Device:/dev/tpm0',
    'swtpm:host=a,host=b', // duplicated keys
    'swtpm:port=2321,port=2322',
    'swtpm:path=/a,path=/b',
    'swtpm:foo=bar', // unknown keys
    'swtpm:host=127.0.0.1,port=2321,tls=1',
    'swtpm:host', // no value
    'swtpm:=2321',
    'swtpm:host=127.0.0.1,', // an empty pair
    'swtpm:host=', // empty host
    'swtpm:port=0', // bad ports
    'swtpm:port=65536',
    'swtpm:port=-1',
    'swtpm:port=abc',
    'swtpm:port=',
    'swtpm:port=23.5',
    'swtpm:path=relative/sock', // path: absolute, and alone
    'swtpm:path=/run/swtpm/sock,host=127.0.0.1',
    'swtpm:path=/run/swtpm/sock,port=2321',
    'tabrmd', // other TCTIs
    'tabrmd:bus_type=session',
    'mssim',
    'mssim:host=127.0.0.1,port=2321',
    'libtss2-tcti-swtpm.so.0:host=127.0.0.1,port=2321', // library names and paths
    'libtss2-tcti-device.so.0:/dev/tpmrm0',
    '/usr/lib/x86_64-linux-gnu/libtss2-tcti-swtpm.so.0:port=2321',
    '/usr/lib/x86_64-linux-gnu/libtss2-tcti-device.so.0',
    'cmd:swtpm socket --tpm2',
  ];
  for (const tcti of refused) {
    t.equal(parseTcti(tcti), undefined, `refused: ${JSON.stringify(tcti)}`);
    t.equal(openTransport(tcti), undefined, `no transport: ${JSON.stringify(tcti)}`);
  }

  // The module's promise is that Node and the tools "always talk to the same TPM": the tools'
  // swtpm TCTI reads the port with sscanf("%u") (tpm2-tss src/util/io.c string_to_port), so
  // "1e3" is port 1 to them (seen with strace: connect(... htons(1) ...)) and "0x10" is refused
  // (port 0), as is "0b11". Node's Number() makes them 1000, 16 and 3: another TPM, or one the
  // tools would not talk to. Such a string should give no transport, so that the tools decide.
  for (const tcti of ['swtpm:port=1e3', 'swtpm:port=0x10', 'swtpm:port=0b11']) {
    t.equal(parseTcti(tcti), undefined, `refused, as the tools read it differently: ${JSON.stringify(tcti)}`);
  }
});

// ---------------------------------------------------------------------------
// 3. Context files and responses.

t.test('tpmsContextFromToolsFile: a real tpm2-tools context file, and damaged ones', async (t) => {
  const { contextFile: file } = await sealedKey(t);
  const blobSize = file.readUInt16BE(24);
  const innerSize = file.readUInt16BE(30);
  t.equal(file.length, 26 + blobSize, 'the file is its header and its blob');
  const saved = wire.tpmsContextFromToolsFile(file);
  const expected = Buffer.concat([
    file.subarray(16, 24),
    file.subarray(12, 16),
    file.subarray(8, 12),
    file.subarray(30, 32),
    file.subarray(32, 32 + innerSize),
  ]);
  t.same(saved, expected, "TPMS_CONTEXT: sequence, savedHandle, hierarchy, then the TPM's context blob as a TPM2B");
  t.equal(file.readUInt32BE(12), 0x80000000, 'of a transient object (savedHandle 0x80000000)');
  t.equal(file.readUInt32BE(8), 0x40000001, 'in the owner hierarchy');

  const variant = (edit: (copy: Buffer) => void) => {
    const copy = Buffer.from(file);
    edit(copy);
    return copy;
  };
  let truncatedParsed = 0;
  for (let length = 0; length < file.length; length += 1)
    if (wire.tpmsContextFromToolsFile(file.subarray(0, length)) !== undefined) truncatedParsed += 1;
  t.equal(truncatedParsed, 0, `none of the ${file.length} truncated files parses`);
  const damaged: [string, Buffer][] = [
    ['wrong magic', variant((copy) => copy.writeUInt32BE(0xbadcc0df, 0))],
    ['magic byte-swapped', variant((copy) => copy.writeUInt32LE(0xbadcc0de, 0))],
    ['version 2', variant((copy) => copy.writeUInt32BE(2, 4))],
    ['version 0', variant((copy) => copy.writeUInt32BE(0, 4))],
    ['zero-sized inner context', variant((copy) => copy.writeUInt16BE(0, 30))],
    ['inner size one past the blob', variant((copy) => copy.writeUInt16BE(blobSize - 6 + 1, 30))],
    ['inner size 0xffff', variant((copy) => copy.writeUInt16BE(0xffff, 30))],
    ['blob size past the end of the file', variant((copy) => copy.writeUInt16BE(blobSize + 1, 24))],
    ['non-zero reserved word', variant((copy) => copy.writeUInt32BE(1, 26))],
    ['reserved word 0x80000000', variant((copy) => copy.writeUInt32BE(0x80000000, 26))],
    [
      'a blob too small for the reserved word and a size',
      Buffer.concat([file.subarray(0, 24), Buffer.of(0, 5), Buffer.alloc(5)]),
    ],
    ['not a context', Buffer.from('not a context')],
  ];
  for (const [what, bytes] of damaged) t.equal(wire.tpmsContextFromToolsFile(bytes), undefined, `${what}: undefined`);

  const minimal = Buffer.concat([file.subarray(0, 24), Buffer.of(0, 7), Buffer.alloc(4), Buffer.of(0, 1, 0xaa)]);
  t.same(
    wire.tpmsContextFromToolsFile(minimal),
    Buffer.concat([file.subarray(16, 24), file.subarray(12, 16), file.subarray(8, 12), Buffer.of(0, 1, 0xaa)]),
    'the smallest well-formed file (a 1-byte inner context) parses',
  );
});

t.test(
  'parseResponse and unsealedData: malformed responses throw MalformedResponse, error responses return their rc',
  async (t) => {
    const malformed: [string, number, Buffer][] = [
      ['empty', wire.CC.Unseal, Buffer.alloc(0)],
      ['9 bytes', wire.CC.Unseal, Buffer.from('800100000009000000', 'hex')],
      ['header says 11, 10 arrived', wire.CC.FlushContext, Buffer.from('80010000000b00000000', 'hex')],
      ['header says 10, 12 arrived', wire.CC.FlushContext, Buffer.from('80010000000a000000000000', 'hex')],
      ['tag 0x8003', wire.CC.FlushContext, tpmResponse(0, Buffer.alloc(0), 0x8003)],
      ['tag 0x00c4 (a TPM 1.2 response)', wire.CC.FlushContext, tpmResponse(0, Buffer.alloc(0), 0x00c4)],
      ['ContextLoad without its handle', wire.CC.ContextLoad, tpmResponse(0)],
      ['ContextLoad with 3 bytes of handle', wire.CC.ContextLoad, tpmResponse(0, Buffer.of(0x80, 0, 0))],
      ['StartAuthSession without its handle', wire.CC.StartAuthSession, tpmResponse(0)],
      ['Unseal with sessions, no parameter size', wire.CC.Unseal, tpmResponse(0, Buffer.of(0, 0), 0x8002)],
      [
        'Unseal with a parameter size past the end',
        wire.CC.Unseal,
        tpmResponse(0, Buffer.from('0000006400020102', 'hex'), 0x8002),
      ],
    ];
    for (const [what, cc, bytes] of malformed)
      t.type(
        thrownBy(() => wire.parseResponse(cc, bytes)),
        wire.MalformedResponse,
        `${what}: MalformedResponse`,
      );

    for (const [cc, rc] of [
      [wire.CC.ContextLoad, 0x1df],
      [wire.CC.StartAuthSession, 0x903],
      [wire.CC.PolicyPCR, 0x1c4],
      [wire.CC.Unseal, 0x98e],
      [wire.CC.FlushContext, 0x18b],
    ] as const) {
      t.same(
        wire.parseResponse(cc, tpmResponse(rc)),
        { rc, handle: undefined, parameters: Buffer.alloc(0) },
        `an error response 0x${rc.toString(16)} to 0x${cc.toString(16)}: its rc, no handle`,
      );
    }

    t.same(
      wire.parseResponse(wire.CC.ContextLoad, tpmResponse(0, Buffer.from('80000001', 'hex'))),
      { rc: 0, handle: 0x80000001, parameters: Buffer.alloc(0) },
      'a ContextLoad response: its handle',
    );
    t.same(
      wire.parseResponse(wire.CC.FlushContext, tpmResponse(0)),
      { rc: 0, handle: undefined, parameters: Buffer.alloc(0) },
      'a FlushContext response: nothing',
    );
    // Unseal with sessions: parameterSize 4, TPM2B of 2 bytes, then the session's response area (nonce, attributes,
    // hmac).
    const withSessions = tpmResponse(0, Buffer.from('00000004' + '0002abcd' + '0000' + '01' + '0000', 'hex'), 0x8002);
    const parsed = wire.parseResponse(wire.CC.Unseal, withSessions);
    t.same(
      parsed.parameters,
      Buffer.from('0002abcd', 'hex'),
      'an Unseal response with sessions: the parameters, not the auth area',
    );
    t.same(wire.unsealedData(parsed.parameters), Buffer.from('abcd', 'hex'), 'and unsealedData the data in them');
    t.same(wire.unsealedData(Buffer.of(0, 0)), Buffer.alloc(0), 'empty sensitive data is data');

    t.same(
      wire.pcrSelection([0, 7, 16, 23]),
      Buffer.from('00000001000b03810081', 'hex'),
      'pcrSelection: one sha256 bank, three select bytes, PCR n at bit n%8 of byte n/8',
    );
    for (const bad of [24, -1, 1.5])
      t.type(
        thrownBy(() => wire.pcrSelection([bad])),
        RangeError,
        `pcrSelection refuses PCR ${bad}`,
      );

    for (const [what, parameters] of [
      ['no bytes', Buffer.alloc(0)],
      ['one byte', Buffer.of(0)],
      ['a size past the end', Buffer.from('0005010203', 'hex')],
    ] as const) {
      t.type(
        thrownBy(() => wire.unsealedData(parameters)),
        wire.MalformedResponse,
        `unsealedData of ${what}: MalformedResponse`,
      );
    }
  },
);

// ---------------------------------------------------------------------------
// 4. The socket transport against servers that misbehave.

const COMMAND = wire.flushContext(0x80000000);
/** A well-formed 24-byte response whose bytes are all non-zero after the header. */
const RESPONSE = tpmResponse(0, Buffer.alloc(14, 0xa5));

/**
 * The 'data' chunks the client side of the connection to `port` receives, each with whether it was
 * all zeroes right after its listeners ran. Node's sockets are the only way to see the buffers
 * the transport is handed: ResponseReader is private, so it is observed through Socket.prototype.emit.
 */
function watchChunks(t: Test, port: number) {
  const proto = Socket.prototype as unknown as {
    emit: (this: Socket, event: string | symbol, ...args: unknown[]) => boolean;
  };
  const own = Object.hasOwn(proto, 'emit');
  const original = proto.emit;
  const chunks: { copy: Buffer; zeroedAfterwards: boolean; live: Buffer }[] = [];
  proto.emit = function emit(this: Socket, event, ...args) {
    const [chunk] = args;
    if (event !== 'data' || this.remotePort !== port || !Buffer.isBuffer(chunk))
      return original.call(this, event, ...args);
    const copy = Buffer.from(chunk);
    const handled = original.call(this, event, ...args);
    chunks.push({ copy, zeroedAfterwards: chunk.every((byte) => byte === 0), live: chunk });
    return handled;
  };
  const stop = () => {
    if (own) proto.emit = original;
    else delete (proto as { emit?: unknown }).emit;
  };
  t.teardown(stop);
  return { chunks, stop };
}

async function transportFailure(t: Test, answer: Answer, what: RegExp, timeoutMs = 5_000) {
  const fake = await startFakeTpmSocket(t, answer);
  const transport = transportTo(t, fake.tcti, timeoutMs);
  const error = await rejectionOf(transport.send(COMMAND));
  t.type(error, TransportError, 'rejects with a TransportError');
  t.match((error as Error).message, what);
  t.equal((error as TransportError).timedOut, false, 'not a timeout');
  await fake.hungUp;
  t.pass('and the transport hung up');
  t.type(await rejectionOf(transport.send(COMMAND)), TransportError, 'a later command rejects at once');
  t.equal(fake.commands.length, 1, 'without reaching the TPM');
  return error;
}

t.test('transport: a response in 1-byte fragments is reassembled, and the chunks it came in are zeroed', async (t) => {
  const fake = await startFakeTpmSocket(t, async (socket) => {
    for (const byte of RESPONSE) {
      await writeAll(socket, Buffer.of(byte));
      await sleep(3);
    }
  });
  const watch = watchChunks(t, fake.port);
  const response = await transportTo(t, fake.tcti).send(COMMAND);
  watch.stop();
  t.same(fake.commands, [COMMAND], 'the TPM got the command whole');
  t.same(response, RESPONSE, 'the whole response, reassembled');
  t.ok(watch.chunks.length > 1, `it arrived in ${watch.chunks.length} pieces`);
  t.same(Buffer.concat(watch.chunks.map((chunk) => chunk.copy)), RESPONSE, 'the pieces were the response');
  t.same(
    watch.chunks.filter((chunk) => !chunk.zeroedAfterwards).length,
    0,
    'every piece was zeroed as soon as it was copied',
  );
  t.ok(
    watch.chunks.every((chunk) => chunk.live.every((byte) => byte === 0)),
    'and stays zeroed',
  );
});

t.test('transport: the chunks of an oversized answer are zeroed too', async (t) => {
  const fake = await startFakeTpmSocket(t, (socket) => void writeAll(socket, Buffer.alloc(5000, 0x5a)));
  const watch = watchChunks(t, fake.port);
  const error = await rejectionOf(transportTo(t, fake.tcti).send(COMMAND));
  watch.stop();
  t.type(error, TransportError, 'more than MAX_RESPONSE bytes: a TransportError');
  t.ok(
    watch.chunks.length > 0 && watch.chunks.every((chunk) => chunk.copy.some((byte) => byte !== 0)),
    'chunks of data arrived',
  );
  t.same(
    watch.chunks.filter((chunk) => !chunk.zeroedAfterwards).length,
    0,
    'each was zeroed when it was taken, the one that overflowed included',
  );
});

t.test('transport: a response of exactly MAX_RESPONSE bytes is accepted', async (t) => {
  const largest = tpmResponse(0, Buffer.alloc(wire.MAX_RESPONSE - 10, 1));
  const fake = await startFakeTpmSocket(t, (socket) => void writeAll(socket, largest));
  t.same(await transportTo(t, fake.tcti).send(COMMAND), largest);
});

t.test('transport: larger than MAX_RESPONSE', async (t) => {
  await transportFailure(
    t,
    (socket) => void writeAll(socket, tpmResponse(0, Buffer.alloc(5000 - 10, 1))),
    /more than 4096 bytes|announced a response of 5000 bytes/,
  );
});

t.test('transport: a response announcing more than 4096 bytes (only its header sent)', async (t) => {
  const header = tpmResponse(0);
  header.writeUInt32BE(4097, 2);
  await transportFailure(t, (socket) => void writeAll(socket, header), /announced a response of 4097 bytes/);
});

t.test('transport: a response announcing fewer than 10 bytes', async (t) => {
  for (const size of [0, 6, 9]) {
    const bytes = Buffer.from('80010000000000000000', 'hex');
    bytes.writeUInt32BE(size, 2);
    await t.test(`size ${size}`, async (t) => {
      await transportFailure(
        t,
        (socket) => void writeAll(socket, bytes),
        new RegExp(`announced a response of ${size} bytes`),
      );
    });
  }
});

t.test('transport: bytes beyond the announced size', async (t) => {
  await transportFailure(
    t,
    (socket) => void writeAll(socket, Buffer.concat([RESPONSE, Buffer.of(1, 2)])),
    /more bytes than its response announced/,
  );
});

t.test('transport: the TPM closes the connection mid-response', async (t) => {
  await transportFailure(
    t,
    async (socket) => {
      await writeAll(socket, RESPONSE.subarray(0, 7));
      socket.end();
    },
    /closed the connection/,
  );
});

t.test('transport: a TPM that never answers times out', async (t) => {
  const fake = await startFakeTpmSocket(t, () => undefined);
  const transport = transportTo(t, fake.tcti, 200);
  const started = performance.now();
  const error = await rejectionOf(transport.send(COMMAND));
  const elapsed = performance.now() - started;
  t.type(error, TransportError);
  t.equal((error as TransportError).timedOut, true, 'timedOut is set');
  t.ok(elapsed >= 190 && elapsed < 3_000, `after the 200 ms given (${Math.round(elapsed)} ms)`);
  t.same(fake.commands, [COMMAND], 'the command had arrived');
  await fake.hungUp;
  t.pass('the transport hung up');
});

t.test('transport: connection refused', async (t) => {
  const transport = transportTo(t, `swtpm:host=127.0.0.1,port=${await closedPort()}`, 5_000);
  const error = await rejectionOf(transport.send(COMMAND));
  t.type(error, TransportError);
  t.equal((error as TransportError).timedOut, false, 'not a timeout');
  t.equal(
    ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code,
    'ECONNREFUSED',
    'caused by ECONNREFUSED',
  );

  // The refusal arrives before the first command is sent: that command rejects with it at once.
  const early = transportTo(t, `swtpm:host=127.0.0.1,port=${await closedPort()}`, 5_000);
  await sleep(100);
  const started = performance.now();
  const stored = await rejectionOf(early.send(COMMAND));
  t.type(stored, TransportError, 'a command after the refusal: a TransportError');
  t.equal(
    ((stored as Error).cause as NodeJS.ErrnoException | undefined)?.code,
    'ECONNREFUSED',
    'the stored ECONNREFUSED',
  );
  t.ok(performance.now() - started < 1_000, 'at once, not after the timeout');
});

t.test('transport: swtpm:path= speaks over a Unix socket', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cbs-tpm2-wire-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const fake = await startFakeTpmSocket(t, (socket) => void writeAll(socket, RESPONSE), join(dir, 'tpm.sock'));
  t.same(await transportTo(t, fake.tcti).send(COMMAND), RESPONSE, 'one command, one response');
  t.same(fake.commands, [COMMAND]);
});

// ---------------------------------------------------------------------------
// 5. unsealDirect's answers on a real swtpm.

t.test('unsealDirect: a context saved before a TPM restart no longer loads: undefined (the long way)', async (t) => {
  const sealed = await sealedKey(t);
  const relay = await relayTo(t, sealed.tpm);
  const request = { contextFile: sealed.contextFile, pcrs: [], auth: undefined, nonce: () => randomBytes(16) };
  t.same(
    await unsealDirect(transportTo(t, relay.tcti), request, context(relay.tcti, [])),
    sealed.key,
    'before the restart, the context unseals',
  );
  await sealed.tpm.restart();
  relay.reset();
  t.equal(
    await unsealDirect(transportTo(t, relay.tcti), request, context(relay.tcti, [])),
    undefined,
    'after it: undefined',
  );
  t.same(relay.codes(), [wire.CC.ContextLoad], 'after one ContextLoad');
  t.not(wire.parseResponse(wire.CC.ContextLoad, relay.exchanges[0]!.response!).rc, 0, 'which the TPM refused');
  t.same(await sealed.loaded(), { transient: '', sessions: '' }, 'nothing loaded');

  relay.reset();
  t.equal(
    await unsealDirect(
      transportTo(t, relay.tcti),
      { ...request, contextFile: Buffer.from('not a context') },
      context(relay.tcti, []),
    ),
    undefined,
    'a file that is not a context: undefined too',
  );
  t.same(relay.codes(), [], 'without a command');
});

t.test(
  'unsealDirect: a PCR-bound object after tpm2_pcrextend 7 throws tpm-pcr-mismatch and flushes its session',
  async (t) => {
    const sealed = await sealedKey(t, { pcrs: true });
    const relay = await relayTo(t, sealed.tpm);
    const request = { contextFile: sealed.contextFile, pcrs: [7], auth: undefined, nonce: () => randomBytes(16) };
    t.same(
      await unsealDirect(transportTo(t, relay.tcti), request, context(relay.tcti, [7])),
      sealed.key,
      'before the extend, it unseals',
    );
    await sealed.tool('tpm2_pcrextend', [`7:sha256=${'ab'.repeat(32)}`]);
    relay.reset();
    const error = await rejectionOf(unsealDirect(transportTo(t, relay.tcti), request, context(relay.tcti, [7])));
    t.type(error, StackError);
    t.equal((error as StackError).code, 'tpm-pcr-mismatch');
    t.match((error as StackError).message, /--pcrs 7/, 'the message says how to re-seal');
    const { exchanges } = relay;
    t.same(
      relay.codes(),
      [
        wire.CC.ContextLoad,
        wire.CC.StartAuthSession,
        wire.CC.PolicyPCR,
        wire.CC.Unseal,
        wire.CC.FlushContext,
        wire.CC.FlushContext,
      ],
      'refused at the Unseal, then two flushes',
    );
    const object = wire.parseResponse(wire.CC.ContextLoad, exchanges[0]!.response!).handle!;
    const session = wire.parseResponse(wire.CC.StartAuthSession, exchanges[1]!.response!).handle!;
    t.same(
      [exchanges[4]?.command, exchanges[5]?.command],
      [wire.flushContext(session), wire.flushContext(object)],
      'the session first, then the object',
    );
    t.same(await sealed.loaded(), { transient: '', sessions: '' }, 'no session and no object left loaded');
  },
);

t.test('unsealDirect: a transport to a closed port throws tpm-unreachable', async (t) => {
  const tcti = `swtpm:host=127.0.0.1,port=${await closedPort()}`;
  // A file that parses, so that a command is sent at all.
  const contextFile = Buffer.concat([
    Buffer.from('badcc0de00000001400000018000000000000000000000020007', 'hex'),
    Buffer.alloc(4),
    Buffer.of(0, 1, 0xaa),
  ]);
  t.ok(wire.tpmsContextFromToolsFile(contextFile), 'the context file parses');
  const error = await rejectionOf(
    unsealDirect(
      transportTo(t, tcti, 5_000),
      { contextFile, pcrs: [], auth: undefined, nonce: () => randomBytes(16) },
      context(tcti, []),
    ),
  );
  t.type(error, StackError);
  t.equal((error as StackError).code, 'tpm-unreachable');
  t.match((error as StackError).message, tcti, 'naming the TCTI');
});

t.test(
  'unsealDirect: an auth-protected object: a wrong value throws tpm-auth-failed, the right one returns the key',
  async (t) => {
    const sealed = await sealedKey(t, { auth: 'secret' });
    const request = { contextFile: sealed.contextFile, pcrs: [], nonce: () => randomBytes(16) };
    const { tcti } = sealed.tpm;
    // Two wrong values: a third would reach the TPM's default dictionary-attack threshold (maxTries 3).
    for (const wrong of [Buffer.from('wrong'), Buffer.alloc(0)]) {
      const error = await rejectionOf(
        unsealDirect(transportTo(t, tcti), { ...request, auth: wrong }, context(tcti, [])),
      );
      t.type(error, StackError);
      t.equal((error as StackError).code, 'tpm-auth-failed', `${JSON.stringify(wrong.toString())}: tpm-auth-failed`);
      t.same(await sealed.loaded(), { transient: '', sessions: '' }, 'and nothing left loaded');
    }
    t.same(
      await unsealDirect(transportTo(t, tcti), { ...request, auth: Buffer.from('secret') }, context(tcti, [])),
      sealed.key,
      'Buffer "secret": the key',
    );
    t.same(await sealed.loaded(), { transient: '', sessions: '' }, 'and nothing left loaded');
  },
);

/** A context file in the tools' format around a made-up TPM context (the fake TPM never reads it). */
function syntheticContextFile(): Buffer {
  const inner = Buffer.alloc(64, 0x11);
  const blob = Buffer.concat([Buffer.alloc(4), Buffer.from([0, inner.length]), inner]);
  const head = Buffer.alloc(26);
  head.writeUInt32BE(0xbadcc0de, 0);
  head.writeUInt32BE(1, 4);
  head.writeUInt32BE(0x40000001, 8);
  head.writeUInt32BE(0x80000000, 12);
  head.writeUInt16BE(blob.length, 24);
  return Buffer.concat([head, blob]);
}

t.test(
  '"not run, send it again" (TPM_RC_RETRY, YIELDED, TESTING) is resent, as the TSS does, up to five submissions',
  async (t) => {
    const key = Buffer.alloc(32, 0x42);
    const unsealReply = Buffer.concat([Buffer.from([0, 0, 0, 34, 0, 32]), key, Buffer.from([0, 0, 1, 0, 0])]);
    for (const warning of [0x922, 0x908, 0x90a]) {
      let refusals = 2;
      const fake = await startFakeTpmSocket(t, (socket, command) => {
        const cc = code(command);
        if (cc === wire.CC.ContextLoad) return void writeAll(socket, tpmResponse(0, Buffer.from([0x80, 0, 0, 1])));
        if (cc === wire.CC.Unseal && refusals-- > 0) return void writeAll(socket, tpmResponse(warning));
        if (cc === wire.CC.Unseal) return void writeAll(socket, tpmResponse(0, unsealReply, 0x8002));
        return void writeAll(socket, tpmResponse(0));
      });
      const released = await unsealDirect(
        transportTo(t, fake.tcti),
        { contextFile: syntheticContextFile(), pcrs: [], auth: undefined, nonce: () => Buffer.alloc(16) },
        context(fake.tcti, []),
      );
      t.same(released, key, `0x${warning.toString(16)} twice, then the key`);
      t.same(
        fake.commands.map(code),
        [wire.CC.ContextLoad, wire.CC.Unseal, wire.CC.Unseal, wire.CC.Unseal, wire.CC.FlushContext],
        'the Unseal was sent three times, the object flushed once',
      );
    }

    const stubborn = await startFakeTpmSocket(t, (socket, command) => {
      if (code(command) === wire.CC.ContextLoad)
        return void writeAll(socket, tpmResponse(0, Buffer.from([0x80, 0, 0, 1])));
      return void writeAll(socket, tpmResponse(code(command) === wire.CC.Unseal ? 0x922 : 0));
    });
    const error = await unsealDirect(
      transportTo(t, stubborn.tcti),
      { contextFile: syntheticContextFile(), pcrs: [], auth: undefined, nonce: () => Buffer.alloc(16) },
      context(stubborn.tcti, []),
    ).catch((caught: unknown) => caught);
    t.type(error, StackError, 'a TPM that keeps asking: a StackError after five submissions');
    t.equal((error as StackError).code, 'tpm-failed');
    t.match((error as StackError).message, /TPM2_Unseal failed \(TPM response code 0x922\)/);
    t.equal(
      stubborn.commands.filter((command) => code(command) === wire.CC.Unseal).length,
      5,
      'five submissions, no more',
    );
  },
);

t.test(
  'the command that carries the auth value is zeroed once answered, and so is the response with the key',
  async (t) => {
    const key = Buffer.alloc(32, 0x42);
    const sent: Buffer[] = [];
    const received: Buffer[] = [];
    const answer = (command: Buffer): Buffer => {
      const cc = code(command);
      if (cc === wire.CC.ContextLoad) return tpmResponse(0, Buffer.from([0x80, 0, 0, 1]));
      if (cc === wire.CC.Unseal)
        return tpmResponse(
          0,
          Buffer.concat([Buffer.from([0, 0, 0, 34, 0, 32]), key, Buffer.from([0, 0, 1, 0, 0])]),
          0x8002,
        );
      return tpmResponse(0);
    };
    const transport: Transport = {
      send: async (command, written) => {
        sent.push(command);
        const auth = Buffer.from(command).includes(Buffer.from('correct horse'));
        written?.();
        const response = answer(command);
        received.push(response);
        t.ok(code(command) !== wire.CC.Unseal || auth, 'the Unseal carries the auth value in its password session');
        return response;
      },
      close: () => undefined,
    };
    const released = await unsealDirect(
      transport,
      {
        contextFile: syntheticContextFile(),
        pcrs: [],
        auth: Buffer.from('correct horse'),
        nonce: () => Buffer.alloc(16),
      },
      context('swtpm:port=1', []),
    );
    t.same(released, key, 'the key is released');
    const unsealCommand = sent.find((_command, index) => index === 1);
    t.ok(
      unsealCommand?.every((byte) => byte === 0),
      'the Unseal command (with the auth value) is all zeros afterwards',
    );
    t.ok(
      received[1]?.every((byte) => byte === 0),
      'the Unseal response (with the key) is all zeros afterwards',
    );
  },
);
