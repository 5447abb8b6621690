// The guard's network side, at the byte level: each client connection gets
// its own connection to the Docker socket. Requests are read with a narrow
// head reader (policy/http-head.ts), their bodies by Content-Length, reviewed by the
// policy one at a time, and rewritten from what the policy returned; the
// daemon's answers flow back untouched, in order. A refusal answers 403 with
// the rule, logs one line, and closes both connections (a request pipelined
// behind it is never read). Events are the one answer the guard writes
// itself: it reads the daemon's stream event by event and passes on only what
// the policy's filter returns, then closes the connection.

import { type ClientRequest, request as daemonRequest, type IncomingMessage, STATUS_CODES } from 'node:http';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { errnoCode } from '../src/errors.js';
import { EventLines } from './policy/events.js';
import { type RequestHead, readHead } from './policy/http-head.js';
import { type Route, review, type Stream } from './policy/policy.js';
import { Refusal } from './policy/refusal.js';
import { parseTarget } from './policy/request-path.js';
import type { GuardSettings } from './settings.js';

const PROGRAM = 'docker-socket-guard';
/** Unread bytes a client may have waiting (a few pipelined requests); past this, its socket is paused until the guard catches up. */
const HIGH_WATER = 256 * 1024;
/** Client connections at once: each costs a connection to the daemon, outside every container's limits. */
const MAX_CONNECTIONS = 64;
/** Request headers a client may pass on; everything else is dropped (the guard sets Host, Content-Length, Connection). */
const PASSED = ['user-agent', 'accept', 'content-type', 'accept-encoding'];

export type GuardLog = (line: string) => void;

/** The guard's server; closeAllConnections ends open connections (an events stream never ends by itself). */
export function createGuard(
  settings: GuardSettings,
  routes: readonly Route[],
  log: GuardLog,
): Server & { closeAllConnections(): void } {
  const open = new Set<Socket>();
  const server = createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    new Connection(client, settings, routes, log);
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.on('drop', () => log(`${PROGRAM}: refused a connection: ${MAX_CONNECTIONS} are open already`));
  return Object.assign(server, { closeAllConnections: () => open.forEach((socket) => socket.destroy()) });
}

class Connection {
  private buffer = Buffer.alloc(0);
  private busy = false;
  private upstream: Socket | undefined;
  /** The daemon's event stream this connection is answering with, if any. */
  private events: ClientRequest | undefined;
  private closed = false;
  /** The daemon's socket has more queued than it took: wait for its drain before reading more from the client. */
  private upstreamFull = false;

  constructor(
    private readonly client: Socket,
    private readonly settings: GuardSettings,
    private readonly routes: readonly Route[],
    private readonly log: GuardLog,
  ) {
    client.setNoDelay(true);
    client.on('data', (chunk: Buffer) => {
      // Nothing more is read once the connection is ending (after a refusal, or during an event stream): no unbounded
      // buffer.
      if (this.closed) return;
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : (chunk as Buffer<ArrayBuffer>);
      // A client that sends faster than the guard and the daemon take it waits: memory stays bounded.
      if (this.buffer.length > HIGH_WATER) client.pause();
      void this.pump();
    });
    client.on('error', () => this.close());
    client.on('close', () => this.close());
  }

  /** Handles complete requests one at a time, in order. */
  private async pump(): Promise<void> {
    if (this.busy || this.closed) return;
    this.busy = true;
    try {
      for (;;) {
        let head: RequestHead | undefined;
        try {
          head = readHead(this.buffer, this.settings.maxBody);
        } catch (error) {
          if (error instanceof Refusal) return this.refuse(undefined, error);
          throw error;
        }
        if (!head || this.buffer.length < head.length + head.contentLength) return;
        const body = head.contentLength
          ? this.buffer.subarray(head.length, head.length + head.contentLength)
          : undefined;
        this.buffer = this.buffer.subarray(head.length + head.contentLength);
        if (!(await this.forward(head, body))) return;
      }
    } finally {
      this.busy = false;
      this.resumeWhenDrained();
    }
  }

  /** Reviews and forwards one request; false when the connection was closed. */
  private async forward(head: RequestHead, body: Buffer | undefined): Promise<boolean> {
    let out;
    try {
      out = await review(this.routes, { method: head.method, target: parseTarget(head.target), body });
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      this.refuse(head, error);
      return false;
    }
    if (this.closed) return false;
    if ('reply' in out || 'stream' in out) {
      // The guard's own answer (a 404 for an agent container that does not exist, or the filtered events): sent, then
      // the connection closes, so that it cannot overtake an answer of the daemon still on its way.
      this.upstream?.unpipe(this.client);
      this.upstream?.destroy();
      this.closed = true;
      if ('reply' in out) this.client.end(answer(out.reply.status, out.reply.json));
      else this.streamEvents(head, out.stream);
      return false;
    }
    const lines = [`${out.method} ${out.path} HTTP/1.1`, 'Host: docker'];
    for (const name of PASSED) {
      const value = head.headers.get(name);
      if (value !== undefined) lines.push(`${name}: ${value}`);
    }
    if (out.body) lines.push(`Content-Length: ${out.body.length}`);
    if (head.close) lines.push('Connection: close');
    const upstream = this.connectUpstream();
    if (
      !upstream.write(
        Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), ...(out.body ? [out.body] : [])]),
      )
    ) {
      this.upstreamFull = true;
      this.client.pause();
      upstream.once('drain', () => {
        this.upstreamFull = false;
        this.resumeWhenDrained();
      });
    }
    return true;
  }

  /** Reads from the client again once what it sent is taken and the daemon keeps up. */
  private resumeWhenDrained(): void {
    if (!this.closed && this.client.isPaused() && !this.upstreamFull && this.buffer.length <= HIGH_WATER)
      this.client.resume();
  }

  private connectUpstream(): Socket {
    if (this.upstream) return this.upstream;
    const upstream = createConnection(this.settings.dockerSocket);
    this.upstream = upstream;
    upstream.pipe(this.client);
    upstream.on('error', (error: Error & { code?: string }) => {
      this.log(`${PROGRAM}: the Docker daemon did not answer (${errnoCode(error) ?? error.name})`);
      if (!this.client.destroyed && this.client.bytesWritten === 0)
        this.client.end(
          answer(502, { message: `${PROGRAM}: the Docker daemon did not answer (${errnoCode(error) ?? error.name})` }),
        );
      else this.client.destroy();
    });
    return upstream;
  }

  /** Answers with the daemon's events as the policy's filter shows them, one JSON line per chunk, until the daemon ends. */
  private streamEvents(head: RequestHead, stream: Stream['stream']): void {
    const userAgent = head.headers.get('user-agent');
    // Its own connection (agent: false), closed after the answer: nothing is pooled that could outlive the client.
    const upstream = daemonRequest({
      socketPath: this.settings.dockerSocket,
      method: 'GET',
      path: stream.path,
      agent: false,
      headers: { host: 'docker', connection: 'close', ...(userAgent === undefined ? {} : { 'user-agent': userAgent }) },
    });
    this.events = upstream;
    upstream.on('error', (error: Error & { code?: string }) => {
      if (this.client.destroyed) return;
      this.log(`${PROGRAM}: the Docker daemon did not answer (${errnoCode(error) ?? error.name})`);
      if (this.client.bytesWritten === 0)
        this.client.end(
          answer(502, { message: `${PROGRAM}: the Docker daemon did not answer (${errnoCode(error) ?? error.name})` }),
        );
      else this.client.destroy();
    });
    upstream.on('response', (response) => {
      // Cut off by the daemon: the client sees the connection close without a complete answer (no terminating chunk).
      response.on('close', () => {
        if (!response.complete) this.client.destroy();
      });
      if (response.statusCode !== 200) return this.passDaemonError(response);
      this.client.write(
        'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
      );
      const lines = new EventLines();
      response.on('data', (chunk: Buffer) => {
        for (const line of lines.push(chunk)) {
          const shown = filtered(line, stream.filter);
          if (shown === undefined) continue;
          // One event, one chunk, written at once (no delay on the client socket): events are live.
          const ok = this.client.write(`${Buffer.byteLength(shown).toString(16)}\r\n${shown}\r\n`);
          if (!ok && !response.isPaused()) {
            response.pause();
            this.client.once('drain', () => response.resume());
          }
        }
      });
      response.on('end', () => this.client.end('0\r\n\r\n'));
    });
    upstream.end();
  }

  /** The daemon's refusal of the events request (a bad since or filter): its status and message, nothing else. */
  private passDaemonError(response: IncomingMessage): void {
    const status = response.statusCode ?? 502;
    const chunks: Buffer[] = [];
    let length = 0;
    response.on('data', (chunk: Buffer) => {
      if (length < 64 * 1024) chunks.push(chunk);
      length += chunk.length;
    });
    response.on('end', () => {
      let message = `the Docker daemon answered ${status}`;
      try {
        const json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { message?: unknown };
        if (typeof json.message === 'string') message = json.message.slice(0, 1000);
      } catch {
        // Not JSON: the status alone.
      }
      this.client.end(answer(status, { message }));
    });
  }

  private refuse(head: RequestHead | undefined, refusal: Refusal): void {
    const what = head ? `${head.method} ${shown(head.target)}` : 'a malformed request';
    this.log(`${PROGRAM}: refused ${what}: ${refusal.rule}`);
    this.upstream?.unpipe(this.client);
    this.upstream?.destroy();
    if (!this.client.destroyed)
      this.client.end(answer(403, { message: `${PROGRAM}: ${refusal.message}`, rule: refusal.rule }));
    this.closed = true;
  }

  private close(): void {
    this.closed = true;
    this.upstream?.destroy();
    this.events?.destroy();
  }
}

/** One daemon event line as the client may see it (a JSON line), or undefined: not JSON, or nothing of it may be shown. */
function filtered(line: Buffer, filter: Stream['stream']['filter']): string | undefined {
  let event: unknown;
  try {
    event = JSON.parse(line.toString('utf8'));
  } catch {
    return undefined;
  }
  const shown = filter(event);
  return shown === undefined ? undefined : `${JSON.stringify(shown)}\n`;
}

function answer(status: number, payload: object): string {
  const text = JSON.stringify(payload);
  const reason = STATUS_CODES[status] ?? 'Error';
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`;
}

/** A request target for a log line: bounded, printable. */
function shown(url: string): string {
  return url.slice(0, 200).replace(/[^\x21-\x7e]/g, '?');
}
