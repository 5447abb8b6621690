// A Unix socket in front of the real Docker socket that passes every byte
// both ways and records the requests that reach it: given to the guard as its
// Docker socket (compose.yml's DOCKER_SOCKET), it shows exactly what the
// engine was sent, body and all.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface SentRequest {
  method: string;
  path: string;
  body: string;
}

export interface DockerRelay {
  path: string;
  /** Every complete request the engine was sent, in order. */
  requests(): SentRequest[];
  close(): Promise<void>;
}

export async function dockerRelay(upstream = '/var/run/docker.sock'): Promise<DockerRelay> {
  const dir = mkdtempSync(join(tmpdir(), 'cbs-relay-'));
  const path = join(dir, 'docker.sock');
  const sent: SentRequest[] = [];
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const daemon = createConnection(upstream);
    open.add(client).add(daemon);
    let pending = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end === -1) break;
        const head = pending.toString('latin1', 0, end);
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
        if (pending.length < end + 4 + length) break;
        const [method = '', target = ''] = head.split(' ');
        sent.push({ method, path: target, body: pending.toString('utf8', end + 4, end + 4 + length) });
        pending = pending.subarray(end + 4 + length);
      }
    });
    client.pipe(daemon).pipe(client);
    const done = () => {
      client.destroy();
      daemon.destroy();
      open.delete(client);
      open.delete(daemon);
    };
    client.on('error', done).on('close', done);
    daemon.on('error', done).on('close', done);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  chmodSync(path, 0o660);
  return {
    path,
    requests: () => [...sent],
    close: async () => {
      open.forEach((socket) => socket.destroy());
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
