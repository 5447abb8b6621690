// Stands for: a TPM behind swtpm's server socket that misbehaves on the wire
// (answers in 1-byte pieces, announces impossible sizes, sends too much, hangs
// up mid-response, never answers), which a real swtpm cannot be made to do. A
// small server on 127.0.0.1 (port 0) or on a Unix socket that frames each
// command it receives and hands it to the test's `answer`. It does not run any
// TPM command: the test decides every byte that goes back. Closed in teardown.
import { type AddressInfo, createServer, type Socket } from 'node:net';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface FakeTpmSocket {
  /** `swtpm:host=127.0.0.1,port=P`, or `swtpm:path=SOCKET`. */
  tcti: string;
  /** The TCP port (0 on a Unix socket). */
  port: number;
  /** Every whole command received, in order. */
  commands: Buffer[];
  /** Resolves once the client's connection has closed (the transport hung up). */
  hungUp: Promise<void>;
}

/** What the fake does with each whole command: write bytes back, or not. */
export type Answer = (socket: Socket, command: Buffer) => void | Promise<void>;

/** A TPM response: header (tag TPM_ST_NO_SESSIONS, size, rc) and `body`. */
export function tpmResponse(rc: number, body: Buffer = Buffer.alloc(0), tag = 0x8001): Buffer {
  const header = Buffer.alloc(10);
  header.writeUInt16BE(tag, 0);
  header.writeUInt32BE(10 + body.length, 2);
  header.writeUInt32BE(rc, 6);
  return Buffer.concat([header, body]);
}

/** Writes `bytes` and waits until they are handed to the kernel. */
export const writeAll = (socket: Socket, bytes: Buffer) =>
  new Promise<void>((resolve) => socket.write(bytes, () => resolve()));

export async function startFakeTpmSocket(t: Teardown, answer: Answer, unixPath?: string): Promise<FakeTpmSocket> {
  const sockets = new Set<Socket>();
  const commands: Buffer[] = [];
  let hangUp: () => void = () => undefined;
  const hungUp = new Promise<void>((resolve) => (hangUp = resolve));
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 6 && pending.length >= pending.readUInt32BE(2)) {
        const size = pending.readUInt32BE(2);
        const command = Buffer.from(pending.subarray(0, size));
        pending = pending.subarray(size);
        commands.push(command);
        void answer(socket, command);
      }
    });
    socket.on('close', () => hangUp());
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (unixPath) server.listen(unixPath, () => resolve());
    else server.listen(0, '127.0.0.1', () => resolve());
  });
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const port = unixPath ? 0 : (server.address() as AddressInfo).port;
  return { tcti: unixPath ? `swtpm:path=${unixPath}` : `swtpm:host=127.0.0.1,port=${port}`, port, commands, hungUp };
}

/** A TCP port on 127.0.0.1 where nothing listens (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
