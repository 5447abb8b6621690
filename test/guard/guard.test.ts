// The socket guard as a real process on a real port. Upstream is a tripwire
// Unix socket that records every connection: a refused request must never
// reach it; an allowed one must arrive rebuilt (version prefix kept, Host
// rewritten, hop-by-hop headers dropped). Calls against a real Docker engine
// are in the end-to-end suite.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import t from 'tap';

const GUARD = resolve(import.meta.dirname, '..', '..', 'dist', 'docker-socket-guard.mjs');
const CLEAN_ENV = resolve(import.meta.dirname, '..', 'support', 'clean-env');

interface Tripwire {
  path: string;
  requests: string[];
  server: Server;
}

/** A Unix socket that answers every request with 200 "tripwire" and records what it received. */
async function tripwire(dir: string): Promise<Tripwire> {
  const wire: Tripwire = { path: join(dir, 'docker.sock'), requests: [], server: createServer() };
  wire.server.on('connection', (socket) => {
    let data = '';
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (data.includes('\r\n\r\n')) {
        wire.requests.push(data);
        socket.end(
          'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 8\r\nconnection: close\r\n\r\ntripwire',
        );
      }
    });
  });
  await new Promise<void>((done) => wire.server.listen(wire.path, done));
  return wire;
}

/** Sends raw bytes, returns the raw response (the guard closes refused connections' requests with a full answer). */
function raw(port: number, text: string): Promise<string> {
  return new Promise((done, fail) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      const head = answer.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(answer)?.[1];
      if (head !== -1 && length !== undefined && answer.length >= head + 4 + Number(length)) socket.end();
    });
    socket.on('end', () => done(answer));
    socket.on('close', () => done(answer));
    socket.on('error', fail);
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
    socket.write(text);
  });
}

const request = (line: string, headers: string[] = [], body = '') =>
  `${line} HTTP/1.1\r\nHost: guard\r\n${headers.map((h) => `${h}\r\n`).join('')}${body ? `Content-Length: ${Buffer.byteLength(body)}\r\n` : ''}\r\n${body}`;

const privileged = JSON.stringify({ Image: 'alpine', HostConfig: { Privileged: true, Binds: ['/:/host'] } });

const refused: Array<[string, string, RegExp]> = [
  ['list containers', request('GET /containers/json'), /default-deny/],
  [
    'create a privileged container',
    request('POST /containers/create', ['Content-Type: application/json'], privileged),
    /default-deny/,
  ],
  [
    'create, versioned',
    request('POST /v1.41/containers/create', ['Content-Type: application/json'], privileged),
    /default-deny/,
  ],
  [
    'exec start',
    request('POST /exec/abc/start', ['Content-Type: application/json'], '{"Detach":false}'),
    /default-deny/,
  ],
  [
    'exec create',
    request('POST /containers/abc/exec', ['Content-Type: application/json'], '{"Cmd":["sh"]}'),
    /default-deny/,
  ],
  [
    'archive upload',
    request('PUT /containers/abc/archive?path=/', ['Content-Type: application/x-tar'], 'tar'),
    /default-deny/,
  ],
  ['build', request('POST /build'), /default-deny/],
  ['image pull', request('POST /images/create?fromImage=alpine'), /default-deny/],
  ['swarm init', request('POST /swarm/init', [], '{}'), /default-deny/],
  ['swarm inspect', request('GET /swarm'), /default-deny/],
  ['plugin list', request('GET /plugins'), /default-deny/],
  ['plugin pull', request('POST /plugins/pull?remote=x'), /default-deny/],
  [
    'volume create with bind options',
    request('POST /volumes/create', [], '{"Name":"x","DriverOpts":{"type":"none","o":"bind","device":"/"}}'),
    /default-deny/,
  ],
  ['secrets', request('GET /secrets'), /default-deny/],
  ['system df', request('GET /system/df'), /default-deny/],
  ['ping with the wrong method', request('POST /_ping'), /default-deny/],
  ['version with DELETE', request('DELETE /version'), /default-deny/],
  ['events with POST', request('POST /events'), /default-deny/],
  ['upper-case version prefix', request('GET /V1.41/_ping'), /default-deny/],
  ['upper-case endpoint', request('GET /_PING'), /default-deny/],
  ['dot-dot after an allowed path', request('GET /v1.41/version/../containers/json'), /path-shape/],
  ['dot-dot at the start', request('GET /../containers/json'), /path-shape/],
  ['dot segment', request('GET /./_ping'), /path-shape/],
  ['empty segment', request('GET //_ping'), /path-shape/],
  ['trailing slash', request('GET /_ping/'), /path-shape/],
  ['semicolon parameter', request('GET /_ping;x=1'), /path-shape/],
  ['percent-encoded underscore', request('GET /%5fping'), /path-encoding/],
  ['percent-encoded slash', request('GET /v1.41%2fcontainers%2fjson'), /path-encoding/],
  ['percent-encoded dot-dot', request('GET /version/%2e%2e/containers/json'), /path-encoding/],
  ['NUL byte, encoded', request('GET /_ping%00'), /path-encoding/],
  ['absolute-form target', request('GET http://docker/_ping'), /path-form/],
  ['asterisk target', request('OPTIONS *'), /path-form/],
  ['unknown query on version', request('GET /version?all=1'), /version-query/],
  // Events are an agent route (test/guard/events.test.ts): unfiltered, they show every container's exec command lines.
  ['events in the base policy', request('GET /events?since=0&filters=%7B%7D'), /default-deny/],
  ['events, versioned', request('GET /v1.41/events'), /default-deny/],
  ['body on ping', request('GET /_ping', [], 'hello'), /ping-body/],
  [
    'connection upgrade on an allowed path',
    request('GET /version', ['Connection: Upgrade', 'Upgrade: tcp']),
    /no-upgrade/,
  ],
  [
    'attach with upgrade',
    request('POST /containers/abc/attach?stream=1&stdin=1', ['Connection: Upgrade', 'Upgrade: tcp']),
    /no-upgrade/,
  ],
  ['session (h2c)', request('POST /session', ['Connection: Upgrade', 'Upgrade: h2c']), /no-upgrade/],
  [
    'body over the size limit',
    request('POST /containers/create', ['Content-Type: application/json'], `{"Image":"${'a'.repeat(70_000)}"}`),
    /body-size/,
  ],
  [
    'declared length over the limit',
    `POST /containers/create HTTP/1.1\r\nHost: guard\r\nContent-Length: 999999\r\n\r\n{}`,
    /body-size/,
  ],
  [
    'chunked body that does not parse',
    `POST /containers/create HTTP/1.1\r\nHost: guard\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    /http-parse|default-deny/,
  ],
  [
    'content-length and chunked together (smuggling)',
    `POST /_ping HTTP/1.1\r\nHost: guard\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /containers/json HTTP/1.1\r\nHost: guard\r\n\r\n`,
    /http-parse/,
  ],
  ['not HTTP at all', 'HELLO\r\n\r\n', /http-parse/],
];

t.test('the guard', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cbs-guard-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const wire = await tripwire(dir);
  t.teardown(() => wire.server.close());
  const port = 20000 + Math.floor(Math.random() * 20000);
  const guard = execa(CLEAN_ENV, [process.execPath, GUARD], {
    env: { PATH: process.env.PATH!, GUARD_LISTEN: `127.0.0.1:${port}`, GUARD_DOCKER_SOCKET: wire.path },
    extendEnv: false,
    reject: false,
  });
  t.teardown(() => {
    guard.kill('SIGTERM');
  });
  const stderr: string[] = [];
  guard.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  for (let i = 0; i < 200 && !stderr.join('').includes('listening on'); i++)
    await new Promise((r) => setTimeout(r, 25));
  t.match(
    stderr.join(''),
    /docker-socket-guard: listening on 127\.0\.0\.1:\d+, forwarding ping and version to .*docker\.sock/,
  );

  t.ok(refused.length >= 40, `${refused.length} refusals in the table`);
  for (const [name, text, rule] of refused) {
    const answer = await raw(port, text);
    t.match(answer, /^HTTP\/1\.1 403 /, `${name}: 403`);
    const json = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4) || '{}');
    t.match(json.rule, rule, `${name}: rule ${json.rule}`);
    t.match(json.message, /^docker-socket-guard: /, `${name}: says who refused`);
  }
  t.same(wire.requests, [], 'no refused request reached the Docker socket');
  const refusals = stderr
    .join('')
    .split('\n')
    .filter((l) => l.includes(': refused '));
  t.ok(refusals.length >= refused.length, 'one log line per refusal');

  const ping = await raw(
    port,
    request('GET /v1.41/_ping', [
      'Connection: keep-alive, X-Evil',
      'X-Registry-Auth: secret-ish',
      'User-Agent: agent-test',
    ]),
  );
  t.match(ping, /^HTTP\/1\.1 200 /, 'an allowed call is forwarded');
  t.match(ping, /tripwire$/);
  const forwarded = wire.requests.at(-1) ?? '';
  t.match(forwarded, /^GET \/v1\.41\/_ping HTTP\/1\.1\r\n/, 'with its version prefix');
  t.match(forwarded, /\r\nhost: docker\r\n/i);
  t.match(forwarded, /\r\nuser-agent: agent-test\r\n/i);
  t.notMatch(forwarded, /x-registry-auth/i, 'registry credentials are never forwarded');
  t.notMatch(forwarded, /keep-alive, X-Evil/i, 'hop-by-hop headers are dropped');
});

t.test('a bad GUARD_LISTEN is a configuration error', async (t) => {
  const run = await execa(CLEAN_ENV, [process.execPath, GUARD], {
    env: { PATH: process.env.PATH!, GUARD_LISTEN: 'nowhere' },
    extendEnv: false,
    reject: false,
  });
  t.equal(run.exitCode, 78);
  t.match(run.stderr, /^docker-socket-guard: settings: GUARD_LISTEN must be HOST:PORT/);
});

t.test(
  'GUARD_AGENTS_FILE and the stack settings the guard builds agents from: each bad one a configuration error',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cbs-guard-settings-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const agentsFile = join(dir, 'agents.json');
    writeFileSync(agentsFile, '{"agents":[]}');
    const good = {
      GUARD_LISTEN: '127.0.0.1:1',
      GUARD_AGENTS_FILE: agentsFile,
      COMPOSE_PROJECT_NAME: 'cbs',
      AGENT_IMAGE: 'copilot-bridge-stack:test',
      COPILOT_BRIDGE_SECRETS_DIR: '/dev/shm/copilot-bridge-stack',
      COPILOT_BRIDGE_RELEASED: 'op-sa-token',
    };
    const cases: Array<[Record<string, string | undefined>, RegExp]> = [
      [{ GUARD_AGENTS_FILE: 'agents.json' }, /GUARD_AGENTS_FILE must be the absolute path of the agents file/],
      [
        { GUARD_AGENTS_FILE: join(dir, 'missing.json') },
        /GUARD_AGENTS_FILE names .*missing\.json, which does not exist; mount the agents file there/,
      ],
      [{ AGENT_IMAGE: undefined }, /set AGENT_IMAGE to the stack's own image/],
      [{ COMPOSE_PROJECT_NAME: 'Bad Name' }, /set COMPOSE_PROJECT_NAME/],
      [
        { COPILOT_BRIDGE_SECRETS_DIR: undefined },
        /GUARD_AGENTS_FILE needs COPILOT_BRIDGE_SECRETS_DIR and COPILOT_BRIDGE_RELEASED/,
      ],
      [{ AGENT_MEMORY: 'lots' }, /AGENT_MEMORY must be a size/],
      [{ AGENT_CPUS: '-1' }, /AGENT_CPUS must be a number of CPUs/],
    ];
    for (const [patch, message] of cases) {
      const env = Object.fromEntries(
        Object.entries({ PATH: process.env.PATH!, ...good, ...patch }).filter(([, v]) => v !== undefined),
      ) as Record<string, string>;
      const run = await execa(CLEAN_ENV, [process.execPath, GUARD], {
        env,
        extendEnv: false,
        reject: false,
        timeout: 10_000,
      });
      t.equal(run.exitCode, 78, `${JSON.stringify(patch)}: a configuration error`);
      t.match(
        run.stderr,
        new RegExp(`^docker-socket-guard: settings: ${message.source}`),
        `${JSON.stringify(patch)}: one line that says what to set`,
      );
      t.equal(run.stderr.trim().split('\n').length, 1);
    }
  },
);
