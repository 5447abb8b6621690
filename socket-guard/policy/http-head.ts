// A deliberately narrow HTTP/1.1 request-head reader for the guard: one
// request line, header lines, CRLF only. Anything a well-behaved Docker client
// does not send is refused rather than interpreted: obsolete line folding,
// bare LF, control characters, repeated Content-Length, any
// Transfer-Encoding (a body must have a Content-Length), upgrades. What one
// reader accepts another may read differently; this one accepts little.
import { Refusal } from './refusal.js';

export interface RequestHead {
  method: string;
  target: string;
  /** Lower-case names; each at most once except those in MULTI. */
  headers: Map<string, string>;
  /** Bytes of the head, including the blank line. */
  length: number;
  contentLength: number;
  /** The client asked to close after this request (Connection: close, or HTTP/1.0). */
  close: boolean;
}

const MAX_HEAD = 16 * 1024;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const parseError = (why: string) => new Refusal('http-parse', `the request is not well-formed HTTP/1.1 (${why})`);

/** The head at the start of `buffer`, undefined when incomplete, or a refusal. */
export function readHead(buffer: Buffer, maxBody: number): RequestHead | undefined {
  const end = buffer.indexOf('\r\n\r\n');
  if (end === -1) {
    if (buffer.length > MAX_HEAD) throw parseError('head too large');
    if (buffer.indexOf('\n') !== -1 && buffer.indexOf('\r\n') === -1) throw parseError('bare LF');
    return undefined;
  }
  if (end > MAX_HEAD) throw parseError('head too large');
  const lines = buffer.toString('latin1', 0, end).split('\r\n');
  const request = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/.exec(lines[0]!); // split returns at least one line
  if (!request) throw parseError('bad request line');
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (colon === -1 || !TOKEN.test(name) || !VALUE.test(value) || /[\r\n]/.test(line))
      throw parseError('bad header line');
    if (headers.has(name)) throw parseError(`repeated header ${name}`);
    headers.set(name, value);
  }
  if (headers.has('transfer-encoding')) throw parseError('Transfer-Encoding is not accepted; send a Content-Length');
  const connection = headers.get('connection') ?? '';
  if (headers.has('upgrade') || /(^|,)\s*upgrade\s*(,|$)/i.test(connection)) {
    throw new Refusal('no-upgrade', 'connection upgrades (attach, exec, session) are refused');
  }
  const declared = headers.get('content-length');
  if (declared !== undefined && !/^\d{1,10}$/.test(declared)) throw parseError('bad Content-Length');
  const contentLength = Number(declared ?? 0);
  if (contentLength > maxBody) throw new Refusal('body-size', `request bodies are limited to ${maxBody} bytes`);
  const close = request[3] === '0' || /(^|,)\s*close\s*(,|$)/i.test(connection);
  return { method: request[1]!, target: request[2]!, headers, length: end + 4, contentLength, close };
}
