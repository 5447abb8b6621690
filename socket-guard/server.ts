// The guard's HTTP side: every request is parsed into a canonical target,
// its body read whole (size-limited), reviewed by the policy, and only then
// forwarded to the Docker socket, rebuilt from what the policy returned.
// Every refusal is a 403 with a JSON body naming the rule, and one log line.
// Connection upgrades (attach, exec) and malformed HTTP are refused too.
import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { review, type Route } from '../src/guard/policy.js';
import { Refusal } from '../src/guard/refusal.js';
import { parseTarget } from '../src/guard/request-path.js';
import type { GuardSettings } from './settings.js';

const PROGRAM = 'docker-socket-guard';
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer'];
/** Request headers not forwarded: hop-by-hop, those the guard sets itself, and registry credentials. */
const DROPPED_REQUEST = new Set([...HOP_BY_HOP, 'host', 'content-length', 'x-registry-auth', 'x-registry-config']);
const DROPPED_RESPONSE = new Set(HOP_BY_HOP);
/** Connections to the Docker socket are reused: a new one per request halves throughput. */
const upstreamAgent = new Agent({ keepAlive: true, maxSockets: 64 });

export type GuardLog = (line: string) => void;

export function createGuard(settings: GuardSettings, routes: readonly Route[], log: GuardLog): Server {
  const server = createServer((req, res) => {
    handle(req, res, settings, routes, log).catch((error: unknown) => {
      log(`${PROGRAM}: internal error on ${req.method} ${shown(req.url)}: ${(error as Error).message}`);
      if (!res.headersSent) sendJson(res, 500, { message: `${PROGRAM}: internal error` });
      else res.destroy();
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    log(`${PROGRAM}: refused ${req.method} ${shown(req.url)}: no-upgrade`);
    socket.end(rawRefusal('no-upgrade', 'connection upgrades (attach, exec, session) are refused'));
  });
  server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => {
    log(`${PROGRAM}: refused a malformed request: http-parse (${error.code ?? error.message})`);
    if (socket.writable) socket.end(rawRefusal('http-parse', 'the request is not well-formed HTTP/1.1'));
  });
  return server;
}

async function handle(req: IncomingMessage, res: ServerResponse, settings: GuardSettings, routes: readonly Route[], log: GuardLog): Promise<void> {
  try {
    const target = parseTarget(req.url ?? '');
    const body = await readBody(req, settings.maxBody);
    const forward = await review(routes, { method: req.method ?? '', target, body });
    if ('reply' in forward) return sendJson(res, forward.reply.status, forward.reply.json);
    await proxy(req, res, settings.dockerSocket, forward.method, forward.path, forward.body);
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    log(`${PROGRAM}: refused ${req.method} ${shown(req.url)}: ${error.rule}`);
    // Whatever else the client sent on this connection is not read: close it.
    res.setHeader('connection', 'close');
    sendJson(res, 403, { message: `${PROGRAM}: ${error.message}`, rule: error.rule });
  }
}

/** The whole body, or undefined when there is none; refuses bodies over the limit. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new Refusal('body-size', `request bodies are limited to ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new Refusal('body-size', `request bodies are limited to ${limit} bytes`);
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof Refusal) throw error;
    throw new Refusal('http-parse', 'the request body could not be read');
  }
  return size === 0 ? undefined : Buffer.concat(chunks);
}

function proxy(req: IncomingMessage, res: ServerResponse, socketPath: string, method: string, path: string, body: Buffer | undefined): Promise<void> {
  const headers: Record<string, string | string[]> = { host: 'docker' };
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !DROPPED_REQUEST.has(name)) headers[name] = value;
  if (body) headers['content-length'] = String(body.length);
  return new Promise((resolve) => {
    const upstream = httpRequest({ socketPath, method, path, headers, agent: upstreamAgent }, (answer) => {
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !DROPPED_RESPONSE.has(name)) out[name] = value;
      res.writeHead(answer.statusCode ?? 502, out);
      answer.pipe(res);
      answer.on('end', resolve);
      answer.on('error', () => (res.destroy(), resolve()));
    });
    upstream.on('error', (error: Error & { code?: string }) => {
      if (!res.headersSent) sendJson(res, 502, { message: `${PROGRAM}: the Docker daemon did not answer (${error.code ?? error.message})` });
      else res.destroy();
      resolve();
    });
    res.on('close', () => upstream.destroy());
    upstream.end(body);
  });
}

function sendJson(res: ServerResponse, status: number, payload: object): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function rawRefusal(rule: string, message: string): string {
  const text = JSON.stringify({ message: `${PROGRAM}: ${message}`, rule });
  return `HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`;
}

/** A request target for a log line: bounded, printable. */
function shown(url: string | undefined): string {
  return (url ?? '').slice(0, 200).replace(/[^\x21-\x7e]/g, '?');
}
