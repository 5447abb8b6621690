// How command bytes reach the TPM without a TSS library: the two TCTIs that
// carry raw TPM 2.0 commands, parsed from the TPM2TOOLS_TCTI string that the
// tpm2 tools read too, so that both always talk to the same TPM.
//
//   device:PATH            a character device: /dev/tpmrm0 (the kernel's resource
//                          manager) or /dev/tpm0; write a command, read its response
//   swtpm:host=H,port=P    swtpm's server socket, raw commands over TCP
//   swtpm:path=SOCKET      the same over a Unix socket
//
// Any other TCTI (tabrmd, mssim, a library path, an option this parser does not
// know) gives no transport, and the caller uses the tools instead. A response is
// read whole (its header says its size) into one buffer the caller owns and
// zeroes; the chunks it arrived in are zeroed as they are copied.
import { closeSync, constants, open, read, write } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { announcedSize, MAX_RESPONSE } from './wire.js';

/** How long one command may take before the TPM counts as not answering (a tpm2 tool's own limit is similar). */
const COMMAND_TIMEOUT_MS = 60_000;

export interface Transport {
  /**
   * Sends one command and resolves to its whole response; rejects with a TransportError.
   * `written` runs once the command is with the kernel (the TPM is working on it).
   */
  send(command: Buffer, written?: () => void): Promise<Buffer>;
  close(): void;
}

/** The TPM could not be reached, stopped answering, or answered with bytes that are not a response. */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly timedOut = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

type Endpoint =
  | { kind: 'device'; path: string }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string };

/** Where a TCTI string points, when it is one this module speaks; undefined otherwise. */
export function parseTcti(tcti: string): Endpoint | undefined {
  const colon = tcti.indexOf(':');
  const name = colon < 0 ? tcti : tcti.slice(0, colon);
  const conf = colon < 0 ? '' : tcti.slice(colon + 1);
  if (name === 'device') {
    if (conf === '') return { kind: 'device', path: '/dev/tpm0' }; // the device TCTI's own default
    return conf.startsWith('/') && !conf.includes('\0') ? { kind: 'device', path: conf } : undefined;
  }
  if (name !== 'swtpm') return undefined;
  const options = new Map<string, string>();
  for (const pair of conf === '' ? [] : conf.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0 || options.has(pair.slice(0, eq))) return undefined;
    options.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  const path = options.get('path');
  if (path !== undefined) return options.size === 1 && path.startsWith('/') ? { kind: 'unix', path } : undefined;
  const portText = options.get('port') ?? '2321';
  const host = options.get('host') ?? 'localhost';
  if ([...options.keys()].some((key) => key !== 'host' && key !== 'port')) return undefined;
  // Decimal digits only: Number() reads 1e3 or 0x10 where the tools' strtoul reads 1 or 0.
  if (!/^\d{1,5}$/.test(portText) || host === '') return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  return { kind: 'tcp', host, port };
}

/**
 * A transport for `tcti`, connecting at once (a device is opened at the first command), or
 * undefined. `timeoutMs` bounds each command (tests shorten it).
 */
export function openTransport(tcti: string, timeoutMs = COMMAND_TIMEOUT_MS): Transport | undefined {
  const endpoint = parseTcti(tcti);
  if (!endpoint) return undefined;
  if (endpoint.kind === 'device') return new DeviceTransport(endpoint.path, timeoutMs);
  const socket =
    endpoint.kind === 'tcp' ? connect({ host: endpoint.host, port: endpoint.port }) : connect({ path: endpoint.path });
  return new SocketTransport(socket, timeoutMs);
}

/** Gathers one response from the chunks it arrives in; `done` once its header's size has arrived. */
class ResponseReader {
  private readonly into = Buffer.alloc(MAX_RESPONSE);
  private length = 0;

  /** Copies and zeroes `chunk`; throws TransportError when more arrives than a response can hold. */
  take(chunk: Buffer): void {
    if (this.length + chunk.length > MAX_RESPONSE) {
      chunk.fill(0);
      this.into.fill(0);
      throw new TransportError(`the TPM sent more than ${MAX_RESPONSE} bytes for one response`);
    }
    chunk.copy(this.into, this.length);
    chunk.fill(0);
    this.length += chunk.length;
  }

  /** The whole response once it has arrived; throws TransportError when its header is impossible. */
  done(): Buffer | undefined {
    const size = announcedSize(this.into.subarray(0, this.length));
    if (size === undefined) return undefined;
    if (size < 10 || size > MAX_RESPONSE) throw new TransportError(`the TPM announced a response of ${size} bytes`);
    if (this.length > size) throw new TransportError('the TPM sent more bytes than its response announced');
    return this.length === size ? this.into.subarray(0, size) : undefined;
  }

  wipe(): void {
    this.into.fill(0);
  }
}

function withTimeout<T>(
  timeoutMs: number,
  work: (settle: { resolve: (value: T) => void; reject: (error: Error) => void }) => void,
  onTimeout: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout();
      reject(new TransportError(`no answer within ${timeoutMs / 1000} s`, true));
    }, timeoutMs);
    work({
      resolve: (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      reject: (error) => {
        clearTimeout(timer);
        reject(error);
      },
    });
  });
}

/** swtpm's server socket: one connection, commands one after another. */
class SocketTransport implements Transport {
  private failure: Error | undefined;
  private pending: ((chunk: Buffer | Error) => void) | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly timeoutMs: number,
  ) {
    socket.setNoDelay(true);
    const fail = (error: Error) => {
      this.failure ??= error;
      this.pending?.(this.failure);
    };
    socket.on('data', (chunk: Buffer) => (this.pending ? this.pending(chunk) : chunk.fill(0)));
    socket.on('error', (error) => fail(new TransportError(error.message, false, { cause: error })));
    socket.on('close', () => fail(new TransportError('the TPM closed the connection')));
  }

  send(command: Buffer, written?: () => void): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    const reader = new ResponseReader();
    return withTimeout<Buffer>(
      this.timeoutMs,
      ({ resolve, reject }) => {
        this.pending = (chunk) => {
          try {
            if (chunk instanceof Error) throw chunk;
            reader.take(chunk);
            const response = reader.done();
            if (!response) return;
            this.pending = undefined;
            resolve(response);
          } catch (error) {
            this.pending = undefined;
            reader.wipe();
            this.socket.destroy();
            reject(error as Error);
          }
        };
        this.socket.write(command, (error) => error || written?.());
      },
      () => {
        this.pending = undefined;
        reader.wipe();
        this.socket.destroy();
      },
    );
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A TPM character device: one write per command, reads until the whole response has arrived. */
class DeviceTransport implements Transport {
  private fd: Promise<number> | undefined;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly timeoutMs: number,
  ) {}

  async send(command: Buffer, written?: () => void): Promise<Buffer> {
    this.fd ??= new Promise<number>((resolve, reject) =>
      // O_NOCTTY: a test may stand a pseudo-terminal in for the device; it must not become ours.
      open(this.path, constants.O_RDWR | constants.O_NOCTTY, (error, fd) =>
        error
          ? reject(
              new TransportError(`cannot open ${this.path}: ${error.code ?? error.message}`, false, { cause: error }),
            )
          : resolve(fd),
      ),
    );
    const fd = await this.fd;
    const reader = new ResponseReader();
    return withTimeout<Buffer>(
      this.timeoutMs,
      ({ resolve, reject }) => {
        const failed = (error: NodeJS.ErrnoException) => {
          reader.wipe();
          reject(
            error instanceof TransportError
              ? error
              : new TransportError(`${this.path}: ${error.code ?? error.message}`, false, { cause: error }),
          );
        };
        const whenWritten = written;
        write(fd, command, 0, command.length, null, (error, count) => {
          if (error) return failed(error);
          if (count !== command.length)
            return failed(new TransportError(`${this.path} took ${count} of ${command.length} bytes`));
          whenWritten?.();
          const chunk = Buffer.alloc(MAX_RESPONSE);
          const next = () =>
            read(fd, chunk, 0, chunk.length, null, (readError, count) => {
              if (readError) return failed(readError);
              if (count === 0) return failed(new TransportError(`${this.path} ended before the response did`));
              try {
                reader.take(chunk.subarray(0, count));
                const response = reader.done();
                if (response) resolve(response);
                else next();
              } catch (error) {
                failed(error as TransportError);
              }
            });
          next();
        });
      },
      () => this.close(),
    );
  }

  close(): void {
    if (this.closed || !this.fd) return;
    this.closed = true;
    this.fd.then((fd) => closeSync(fd)).catch(() => undefined);
  }
}
