// The guard's byte-level proxying: keep-alive and pipelined requests reach
// the daemon rewritten and in order, its answers come back untouched and in
// order; a refusal ends the connection. The upstream here is a recorder that
// answers each request with its sequence number and path.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import t, { type Test } from 'tap';

const GUARD = resolve(import.meta.dirname, '..', '..', 'dist', 'docker-socket-guard.mjs');
const CLEAN_ENV = resolve(import.meta.dirname, '..', 'support', 'clean-env');

/** The guard as a process in front of `socketPath`, listening; its stderr so far in `output()`. */
async function startGuard(t: Test, socketPath: string) {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const guard = execa(CLEAN_ENV, [process.execPath, GUARD], {
    env: { PATH: process.env.PATH!, GUARD_LISTEN: `127.0.0.1:${port}`, GUARD_DOCKER_SOCKET: socketPath },
    extendEnv: false,
    reject: false,
  });
  t.teardown(() => {
    guard.kill('SIGTERM');
  });
  const state = { text: '' };
  guard.stderr!.on('data', (c: Buffer) => (state.text += c.toString()));
  for (let i = 0; i < 200 && !state.text.includes('listening'); i++) await new Promise((r) => setTimeout(r, 25));
  return { port, guard, output: state };
}

t.test('pipelined requests, in order; a refusal closes the connection', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cbs-raw-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const seen: string[] = [];
  const upstream = createServer((socket) => {
    let data = '';
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      for (let end = data.indexOf('\r\n\r\n'); end !== -1; end = data.indexOf('\r\n\r\n')) {
        const head = data.slice(0, end);
        data = data.slice(end + 4);
        seen.push(head);
        const body = `${seen.length}:${head.split(' ')[1]}`;
        socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      }
    });
  });
  const socketPath = join(dir, 'docker.sock');
  await new Promise<void>((r) => upstream.listen(socketPath, r));
  t.teardown(() => upstream.close());
  const { port } = await startGuard(t, socketPath);

  const exchange = (text: string, until: (answer: string) => boolean) =>
    new Promise<{ answer: string; closed: boolean }>((done) => {
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      const finish = (closed: boolean) => done({ answer, closed });
      socket.on('data', (c) => {
        answer += c.toString('latin1');
        if (until(answer)) socket.destroy(), finish(false);
      });
      socket.on('close', () => finish(true));
      socket.setTimeout(5000, () => socket.destroy());
      socket.write(text);
    });
  const ping = 'GET /_ping HTTP/1.1\r\nHost: guard\r\nUser-Agent: t\r\nX-Extra: dropped\r\n\r\n';
  const version = 'GET /v1.41/version HTTP/1.1\r\nHost: guard\r\n\r\n';
  const both = await exchange(
    ping + version + ping,
    (a) => (a.match(/HTTP\/1\.1 200/g) ?? []).length === 3 && /3:\/_ping$/.test(a),
  );
  t.match(both.answer, /1:\/_ping[\s\S]*2:\/v1\.41\/version[\s\S]*3:\/_ping$/, 'three pipelined answers, in order');
  t.equal(both.closed, false, 'the connection stays open (keep-alive)');
  t.match(
    seen[0],
    /^GET \/_ping HTTP\/1\.1\r\nHost: docker\r\nuser-agent: t$/,
    'rewritten: Host set, unknown headers dropped',
  );
  const refused = await exchange(ping + 'GET /containers/json HTTP/1.1\r\nHost: guard\r\n\r\n' + ping, () => false);
  t.match(refused.answer, /HTTP\/1\.1 403 Forbidden[\s\S]*"rule":"default-deny"/, 'the refused request gets its 403');
  t.equal(refused.closed, true, 'and the connection is closed: the request behind it is never read');
  t.equal(seen.filter((h) => h.includes('/containers/json')).length, 0, 'the refused request never reached the daemon');
});

t.test('a client that pipelines far more than it reads cannot make the guard buffer without bound', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cbs-raw-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // An upstream that answers every request and, as the daemon does, reads no further while its answers are not taken.
  const upstream = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      let ok = true;
      for (let n = chunk.toString('latin1').split('\r\n\r\n').length - 1; n > 0; n--)
        ok = socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nOK') && ok;
      if (!ok) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    });
  });
  const socketPath = join(dir, 'docker.sock');
  await new Promise<void>((r) => upstream.listen(socketPath, r));
  t.teardown(() => upstream.close());
  const { port, guard } = await startGuard(t, socketPath);
  const rss = () =>
    Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${guard.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  const before = rss();
  // 64 MiB of pipelined pings from a client that reads none of the answers.
  const ping = Buffer.from('GET /_ping HTTP/1.1\r\nHost: guard\r\n\r\n');
  const block = Buffer.concat(Array.from({ length: 4096 }, () => ping));
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.pause();
  let written = 0;
  let peak = 0;
  let lastDrain = Date.now();
  await new Promise<void>((done) => {
    const push = () => {
      lastDrain = Date.now();
      while (written < 64 * 1024 * 1024) {
        written += block.length;
        if (!socket.write(block)) return;
      }
      done();
    };
    socket.on('drain', push);
    push();
    // Done when everything went, or when nothing more was taken for a second.
    const watch = setInterval(() => {
      peak = Math.max(peak, rss());
      if (Date.now() - lastDrain > 1000) {
        clearInterval(watch);
        done();
      }
    }, 50);
  });
  peak = Math.max(peak, rss());
  socket.destroy();
  t.ok(
    written < 32 * 1024 * 1024,
    `the client could not push it all: the guard stopped reading (${(written / 1048576).toFixed(1)} MiB of 64 taken)`,
  );
  t.ok(
    peak - before < 48,
    `the guard's memory grew by ${(peak - before).toFixed(0)} MiB, not by what was sent (it was ${before.toFixed(0)} MiB)`,
  );
});

t.test('at most 64 client connections at once: each costs the daemon a connection outside every limit', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cbs-raw-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const upstream = createServer((socket) => socket.on('error', () => undefined));
  const socketPath = join(dir, 'docker.sock');
  await new Promise<void>((r) => upstream.listen(socketPath, r));
  t.teardown(() => upstream.close());
  const { port, output: log } = await startGuard(t, socketPath);
  const sockets = await Promise.all(
    Array.from(
      { length: 70 },
      () =>
        new Promise<{ closed: boolean }>((done) => {
          const socket = connect(port, '127.0.0.1');
          const state = { closed: false };
          socket.on('error', () => undefined);
          socket.on('close', () => (state.closed = true));
          socket.on('connect', () => done(state));
          t.teardown(() => socket.destroy());
        }),
    ),
  );
  await new Promise((r) => setTimeout(r, 500));
  const closed = sockets.filter((s) => s.closed).length;
  t.equal(closed, 6, `the 6 connections past 64 are closed at once (${closed} closed)`);
  t.match(log.text, /refused a connection: 64 are open already/, 'and the guard says so');
});
