// The Mattermost stand-in itself (test/fixtures/mattermost/server.mjs), run as
// a real process on a free loopback port, no Docker needed: the late ping,
// bot-token checks on the start-up calls, the websocket handshake and
// authentication, and an auth log that holds hashes only.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { FIXTURES } from '../support/e2e/paths.js';
import { childEnv } from '../support/e2e/run.js';
import { waitFor } from '../support/e2e/wait.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const token = randomBytes(13).toString('hex');
const PING_DELAY_MS = 1500;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const dir = mkdtempSync(join(tmpdir(), 'cbs-mm-standin-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(
  join(dir, 'config.json'),
  JSON.stringify({ pingDelayMs: PING_DELAY_MS, bots: [{ tokenSha256: sha256(token), username: 'admin-bot' }] }),
);
const startedAt = Date.now();
const server = spawn(process.execPath, [join(FIXTURES, 'mattermost', 'server.mjs')], {
  env: childEnv({
    MM_STANDIN_CONFIG: join(dir, 'config.json'),
    MM_STANDIN_PORT: String(port),
    MM_STANDIN_STATE: join(dir, 'state.json'),
    MM_SERVICESETTINGS_ENABLEBOTACCOUNTCREATION: 'true',
  }),
  stdio: ['ignore', 'pipe', 'inherit'],
});
t.teardown(() => {
  server.kill('SIGTERM');
});

const get = (path: string, auth?: string) =>
  fetch(`${base}${path}`, { headers: auth ? { Authorization: auth } : {}, signal: AbortSignal.timeout(5000) });

t.test('ping answers 503 until the configured delay has passed, then 200', async (t) => {
  const early = await waitFor('the stand-in to listen', () => get('/api/v4/system/ping').catch(() => undefined), {
    timeoutMs: 10_000,
    intervalMs: 50,
  });
  t.equal(early.status, 503, 'not ready at first');
  const ready = await waitFor(
    'the stand-in ping to answer 200',
    async () => ((await get('/api/v4/system/ping')).status === 200 ? Date.now() : undefined),
    {
      timeoutMs: 10_000,
      intervalMs: 50,
    },
  );
  t.ok(ready - startedAt >= PING_DELAY_MS, `ready after ${ready - startedAt} ms, not before ${PING_DELAY_MS} ms`);
});

t.test('users/me and users/<id>/channels accept only a configured bot token', async (t) => {
  const me = await get('/api/v4/users/me', `BEARER ${token}`);
  t.equal(me.status, 200, 'the bot token is accepted');
  const user = (await me.json()) as { id: string; username: string };
  t.equal(user.username, 'admin-bot');
  t.equal((await get(`/api/v4/users/${user.id}/channels`, `Bearer ${token}`)).status, 200, 'its channels are listed');
  t.equal((await get('/api/v4/users/me', `BEARER ${token}x`)).status, 401, 'another token is refused');
  t.equal((await get('/api/v4/users/me')).status, 401, 'no token is refused');
  t.equal(
    (await get('/api/v4/users/someoneelse000000000000000/channels', `BEARER ${token}`)).status,
    403,
    "another user's channels are refused",
  );
});

/** Opens a websocket with a raw HTTP upgrade; resolves with the status, accept header and the socket. */
function upgrade(
  auth?: string,
): Promise<{ status: number; accept: string | undefined; key: string; socket?: Socket; head?: Buffer }> {
  const key = randomBytes(16).toString('base64');
  return new Promise((resolve, reject) => {
    const req = request(`${base}/api/v4/websocket`, {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Key': key,
        'Sec-WebSocket-Version': '13',
        ...(auth ? { Authorization: auth } : {}),
      },
    });
    req.on('upgrade', (res, socket, head) =>
      resolve({ status: res.statusCode ?? 0, accept: res.headers['sec-websocket-accept'], key, socket, head }),
    );
    req.on('response', (res) => resolve({ status: res.statusCode ?? 0, accept: undefined, key }));
    req.on('error', reject);
    req.end();
  });
}

/** A masked client text frame (payloads under 126 bytes). */
function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

/** Reads server text frames (unmasked, under 64 KiB) as JSON messages. */
function messages(socket: Socket, head: Buffer = Buffer.alloc(0)): () => Promise<Record<string, unknown>> {
  let buffer: Buffer = Buffer.alloc(0);
  const queue: Array<Record<string, unknown>> = [];
  const waiting: Array<(m: Record<string, unknown>) => void> = [];
  const onData = (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    while (buffer.length >= 2) {
      let length = buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        length = buffer.readUInt16BE(2);
        offset = 4;
      }
      if (buffer.length < offset + length) break;
      const opcode = buffer[0]! & 0x0f;
      const payload = buffer.subarray(offset, offset + length).toString('utf8');
      buffer = buffer.subarray(offset + length);
      if (opcode !== 0x1) continue;
      const message = JSON.parse(payload) as Record<string, unknown>;
      const next = waiting.shift();
      if (next) next(message);
      else queue.push(message);
    }
  };
  socket.on('data', onData);
  onData(head);
  return () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiting.push(resolve)));
}

t.test('the websocket upgrade follows RFC 6455 and authenticates by header or challenge', async (t) => {
  const byHeader = await upgrade(`BEARER ${token}`);
  t.equal(byHeader.status, 101, 'switching protocols with the bot token in the header');
  t.equal(
    byHeader.accept,
    createHash('sha1').update(`${byHeader.key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64'),
    'Sec-WebSocket-Accept is right',
  );
  const next = messages(byHeader.socket!, byHeader.head);
  t.match(await next(), { event: 'hello', seq: 0 }, 'the server says hello');
  byHeader.socket!.destroy();

  t.equal((await upgrade(`BEARER ${token}x`)).status, 401, 'a wrong token in the header is refused');

  const byChallenge = await upgrade();
  t.equal(byChallenge.status, 101, 'an upgrade without a token is accepted, pending the challenge');
  const reply = messages(byChallenge.socket!, byChallenge.head);
  byChallenge.socket!.write(
    clientFrame(JSON.stringify({ seq: 1, action: 'authentication_challenge', data: { token } })),
  );
  t.match(await reply(), { status: 'OK', seq_reply: 1 }, 'the challenge with the bot token succeeds');
  t.match(await reply(), { event: 'hello' }, 'then hello');
  byChallenge.socket!.destroy();
});

t.test('the auth log records every attempt by hash, never a token', async (t) => {
  const response = await get('/__standin/auth-log');
  const text = await response.text();
  const { events } = JSON.parse(text) as {
    events: Array<{ endpoint: string; ok: boolean; tokenSha256: string | null }>;
  };
  t.ok(
    events.some((e) => e.endpoint === 'users/me' && e.ok && e.tokenSha256 === sha256(token)),
    'a good users/me',
  );
  t.ok(
    events.some((e) => e.endpoint === 'users/me' && !e.ok),
    'a refused users/me',
  );
  t.ok(
    events.some((e) => e.endpoint === 'websocket' && e.ok),
    'a good websocket',
  );
  t.notOk(text.includes(token), 'the token itself is nowhere in the log');
});

t.test("init's REST calls, answered as Mattermost answers them", async (t) => {
  const call = async (method: string, path: string, body?: unknown, session?: string) => {
    const response = await fetch(`${base}/api/v4${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(session ? { authorization: `Bearer ${session}` } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(5000),
    });
    return {
      status: response.status,
      body: (await response.json()) as Record<string, any>,
      token: response.headers.get('token'),
    };
  };
  const first = await call('POST', '/users', {
    username: 'ray',
    email: 'ray@example.com',
    password: 'a-long-password',
  });
  t.match(
    first,
    { status: 201, body: { username: 'ray', roles: 'system_admin system_user' } },
    'the first user needs no session and is a system admin',
  );
  const second = await call('POST', '/users', {
    username: 'eve',
    email: 'eve@example.com',
    password: 'a-long-password',
  });
  t.match(
    second,
    { status: 403, body: { id: 'api.user.create_user.no_open_server' } },
    'a second one without a session is refused',
  );
  t.match(
    await call('POST', '/users/login', { login_id: 'ray', password: 'wrong-password' }),
    { status: 401, body: { id: 'api.user.login.invalid_credentials_email_username' } },
    'a wrong password',
  );
  const login = await call('POST', '/users/login', { login_id: 'ray', password: 'a-long-password' });
  t.equal(login.status, 200);
  t.ok(login.token, 'the session token comes in the Token header');
  const session = login.token!;
  t.match(await call('POST', '/bots', { username: 'bridge-lal' }), { status: 401 }, 'bots need a session');
  const bot = await call('POST', '/bots', { username: 'bridge-lal', display_name: 'lal' }, session);
  t.match(bot, { status: 201, body: { username: 'bridge-lal', user_id: /^[a-z0-9]{26}$/ } });
  t.match(
    await call('POST', `/users/${bot.body.user_id}/tokens`, { description: 'x' }, session),
    { status: 501, body: { id: 'api.user.create_user_access_token.disabled' } },
    'access tokens are off unless the setting is on (this server has only bot creation on)',
  );
  const team = await call('POST', '/teams', { name: 'copilot', display_name: 'copilot', type: 'I' }, session);
  t.equal(team.status, 201);
  t.match(await call('GET', '/teams/name/copilot', undefined, session), { status: 200, body: { id: team.body.id } });
  t.match(await call('GET', '/teams/name/other', undefined, session), { status: 404 });
  const channel = await call(
    'POST',
    '/channels',
    { team_id: team.body.id, name: 'lal', display_name: 'lal', type: 'P' },
    session,
  );
  t.equal(channel.status, 201);
  t.match(
    await call('POST', `/channels/${channel.body.id}/members`, { user_id: bot.body.user_id }, session),
    { status: 400 },
    'a channel member must be on the team first',
  );
  t.equal(
    (
      await call(
        'POST',
        `/teams/${team.body.id}/members`,
        { team_id: team.body.id, user_id: bot.body.user_id },
        session,
      )
    ).status,
    201,
  );
  t.equal(
    (await call('POST', `/channels/${channel.body.id}/members`, { user_id: bot.body.user_id }, session)).status,
    201,
  );
  t.match(await call('GET', '/users/username/bridge-lal', undefined, session), { status: 200, body: { is_bot: true } });
  t.match(await call('GET', '/users/username/nobody', undefined, session), { status: 404 });
});
