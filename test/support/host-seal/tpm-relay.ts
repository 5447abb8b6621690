// Stands for: the bus between the host and its TPM, as a logic analyser (or
// tpm2-tools' own tracing) would see it. A TCP relay in front of swtpm's server
// socket that passes every byte through unchanged, records each command and
// response whole, and can act when a given command arrives: stop the TPM then,
// so that a test sees what the CLI does when the TPM dies in the middle.
// Point TPM2TOOLS_TCTI at `relay.tcti` instead of the TPM's own. The swtpm
// TCTI of the tools also opens the control channel on the next port (to set
// the locality), so the relay listens on a pair of ports as swtpm does and
// passes the control channel through untouched.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface Exchange {
  command: Buffer;
  /** Undefined while the TPM has not answered (or never did). */
  response?: Buffer;
}

export interface TpmRelay {
  tcti: string;
  /** Every exchange so far, in order, across connections. */
  exchanges: Exchange[];
  /** TPM command codes of the exchanges so far (0x15e is TPM2_Unseal). */
  codes(): number[];
  /** Runs `action` when a command with `code` arrives, before it is passed on (once). */
  onCommand(code: number, action: () => void | Promise<void>): void;
  reset(): void;
  close(): Promise<void>;
}

/** Splits a byte stream into whole TPM messages (each announces its size at bytes 2-5). */
function framer(onMessage: (message: Buffer) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 6 && pending.length >= pending.readUInt32BE(2)) {
      const size = pending.readUInt32BE(2);
      onMessage(Buffer.from(pending.subarray(0, size)));
      pending = pending.subarray(size);
    }
  };
}

/** Passes a connection through to `port` untouched, both ways. */
function pipeTo(port: number, sockets: Set<Socket>) {
  return (client: Socket) => {
    const upstream = createConnection({ host: '127.0.0.1', port });
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) socket.on('close', end).on('error', end);
  };
}

const listen = (server: Server, port: number) =>
  new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });

export async function startTpmRelay(tpmPort: number): Promise<TpmRelay> {
  const exchanges: Exchange[] = [];
  const hooks = new Map<number, () => void | Promise<void>>();
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    const upstream = createConnection({ host: '127.0.0.1', port: tpmPort });
    sockets.add(upstream);
    const queue: Exchange[] = [];
    let chain = Promise.resolve();
    client.on(
      'data',
      framer((command) => {
        chain = chain.then(async () => {
          const code = command.readUInt32BE(6);
          const hook = hooks.get(code);
          if (hook) {
            hooks.delete(code);
            await hook();
          }
          const exchange: Exchange = { command };
          exchanges.push(exchange);
          queue.push(exchange);
          if (!upstream.destroyed) upstream.write(command);
        });
      }),
    );
    upstream.on(
      'data',
      framer((response) => {
        const exchange = queue.shift();
        if (exchange) exchange.response = response;
        if (!client.destroyed) client.write(response);
      }),
    );
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('close', end);
      socket.on('error', end);
    }
  });
  const control = createServer(pipeTo(tpmPort + 1, sockets));
  let port = 0;
  for (let attempt = 0; attempt < 50 && port === 0; attempt += 1) {
    const candidate = 20000 + Math.floor(Math.random() * 40000);
    if (!(await listen(server, candidate))) continue;
    if (await listen(control, candidate + 1)) port = candidate;
    else await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  if (port === 0) throw new Error('no free port pair for the TPM relay');
  return {
    tcti: `swtpm:host=127.0.0.1,port=${port}`,
    exchanges,
    codes: () => exchanges.map((exchange) => exchange.command.readUInt32BE(6)),
    onCommand: (code, action) => hooks.set(code, action),
    reset: () => {
      exchanges.length = 0;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await Promise.all(
        [server, control].map((listening) => new Promise<void>((resolve) => listening.close(() => resolve()))),
      );
    },
  };
}
