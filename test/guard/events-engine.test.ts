// The events route against the real Docker engine: a guard with the events
// route of one project, in this process (createGuard, so that the test does
// not depend on how the agents' policy is configured), beside a direct
// subscription to the socket as the control. An agent container of the
// project and two decoys (another project's agent, an unlabelled container)
// each get a `docker exec` with a canary command line, then a stop. The
// control sees the canary; the guard's stream shows the agent's events only,
// without it. A client that goes away leaves no connection to the daemon.

import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import t, { type Test } from 'tap';
import { eventsRoute } from '../../socket-guard/policy/events.js';
import { BASE_ROUTES } from '../../socket-guard/policy/policy.js';
import { createGuard } from '../../socket-guard/server.js';
import { readGuardSettings } from '../../socket-guard/settings.js';
import { AGENT_LABEL, PROJECT_LABEL } from '../../src/contract.js';
import { ensureBaseImage } from '../support/e2e/base-image.js';
import { ensureDockerEngine } from '../support/e2e/engine.js';
import { PROJECT_PREFIX, TEST_LABEL } from '../support/e2e/paths.js';
import { docker, dockerAttempt } from '../support/e2e/run.js';
import { waitFor } from '../support/e2e/wait.js';

const SOCKET = '/var/run/docker.sock';
// Named like the suite's projects, so that cleanup.ts removes what a crashed run left behind.
const PROJECT = `${PROJECT_PREFIX}${process.pid}-events`;
const CANARY = `CANARY-${randomBytes(8).toString('hex')}`;
const AGENT = `${PROJECT}-agent-probe`;
const OTHER_AGENT = `${PROJECT}-other-agent-probe`;
const PLAIN = `${PROJECT}-plain`;
const TEST_LABELS = ['--label', `${TEST_LABEL}=1`, '--label', `${TEST_LABEL}.pid=${process.pid}`];

/** A raw HTTP client on the guard: what arrived so far, and whether the guard closed. */
function rawClient(port: number, target: string) {
  const socket = connect(port, '127.0.0.1');
  const state = { text: '', closed: false, socket };
  socket.on('data', (chunk) => (state.text += chunk.toString('utf8')));
  socket.on('close', () => (state.closed = true));
  socket.on('error', () => undefined);
  socket.write(`GET ${target} HTTP/1.1\r\nHost: guard\r\n\r\n`);
  return state;
}

/** The direct subscription, on the Docker socket itself (node decodes the chunks). */
function control(target: string) {
  const state = { text: '', status: 0 };
  const request = httpRequest({ socketPath: SOCKET, path: target, agent: false }, (response) => {
    state.status = response.statusCode ?? 0;
    response.on('data', (chunk: Buffer) => (state.text += chunk.toString('utf8')));
  });
  request.on('error', () => undefined);
  request.end();
  return { state, stop: () => request.destroy() };
}

/** The events in a raw chunked answer; fails the test if a chunk is not one JSON line. */
function eventsOf(
  t: Test,
  raw: string,
): Array<{ Action: string; id: string; Actor: { Attributes: Record<string, string> } }> {
  const events = [];
  let rest = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  for (let match = /^([0-9a-f]+)\r\n/.exec(rest); match; match = /^([0-9a-f]+)\r\n/.exec(rest)) {
    const size = parseInt(match[1]!, 16);
    if (size === 0) break;
    const body = Buffer.from(rest.slice(match[0].length), 'utf8').subarray(0, size).toString('utf8');
    t.ok(body.endsWith('\n') && !body.slice(0, -1).includes('\n'), 'each chunk is one line');
    events.push(JSON.parse(body));
    rest = rest.slice(match[0].length + body.length + 2);
  }
  return events;
}

/** This process's open Unix sockets (the guard's connections to the daemon are the only ones that come and go). */
function unixSockets(): number {
  const unix = new Set(
    readFileSync('/proc/self/net/unix', 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/)[6]),
  );
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
      if (inode && unix.has(inode)) count++;
    } catch {
      // Closed while listing.
    }
  }
  return count;
}

t.test("the real engine: the guard shows the agent's events, not the command lines or other containers", async (t) => {
  await ensureDockerEngine();
  const image = await ensureBaseImage();
  t.teardown(async () => {
    await dockerAttempt(['rm', '-f', AGENT, OTHER_AGENT, PLAIN]);
  });
  const settings = readGuardSettings({ GUARD_LISTEN: '127.0.0.1:1', GUARD_DOCKER_SOCKET: SOCKET });
  const log: string[] = [];
  const server = createGuard(settings, [...BASE_ROUTES, eventsRoute(PROJECT)], (line) => log.push(line));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;

  const run = (name: string, labels: string[]) =>
    docker(['run', '-d', '--name', name, ...TEST_LABELS, ...labels, '--network', 'none', image, 'sleep', '600']);
  const agentId = (
    await run(AGENT, ['--label', `${PROJECT_LABEL}=${PROJECT}`, '--label', `${AGENT_LABEL}=probe`])
  ).trim();
  const otherId = (
    await run(OTHER_AGENT, ['--label', `${PROJECT_LABEL}=${PROJECT}-other`, '--label', `${AGENT_LABEL}=probe`])
  ).trim();
  const plainId = (await run(PLAIN, [])).trim();

  const since = Math.floor(Date.now() / 1000) - 1;
  const direct = control(`/events?since=${since}`);
  t.teardown(direct.stop);
  const guarded = rawClient(port, `/events?since=${since}`);
  // A client asking for the other project's agents: Docker ANDs the forced labels with it, so nothing.
  const widened = rawClient(
    port,
    `/events?since=${since}&filters=${encodeURIComponent(JSON.stringify({ type: ['container', 'image'], label: [`${PROJECT_LABEL}=${PROJECT}-other`] }))}`,
  );
  t.teardown(() => (guarded.socket.destroy(), widened.socket.destroy()));
  await waitFor(
    "the guard's event stream to start",
    () => guarded.text.includes('\r\n\r\n') && widened.text.includes('\r\n\r\n'),
    { timeoutMs: 10_000 },
  );
  t.match(
    guarded.text,
    /^HTTP\/1\.1 200 OK\r\nContent-Type: application\/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n/,
  );

  for (const name of [AGENT, OTHER_AGENT, PLAIN])
    await docker(['exec', name, 'sh', '-c', `echo ${CANARY} > /dev/null`]);
  await docker(['stop', '-t', '1', AGENT, OTHER_AGENT, PLAIN]);
  const until = Math.floor(Date.now() / 1000) + 1;
  await waitFor(
    "the agent's stop in the guard's stream, and the decoys' in the control",
    () => {
      const stops = direct.state.text.split('\n').filter((line) => line.includes('"Action":"stop"'));
      return (
        guarded.text.includes('"Action":"stop"') &&
        [agentId, otherId, plainId].every((id) => stops.some((line) => line.includes(id)))
      );
    },
    { timeoutMs: 30_000, detail: () => `guard: ${guarded.text.slice(-500)}` },
  );

  t.equal(direct.state.status, 200);
  t.match(direct.state.text, CANARY, "control: the daemon's own stream carries the exec command line");
  t.match(direct.state.text, OTHER_AGENT, 'control: and the decoys');
  t.notMatch(guarded.text, CANARY, "the guard's stream has no command line");
  for (const what of [otherId, plainId, OTHER_AGENT, PLAIN, otherId.slice(0, 12), plainId.slice(0, 12)])
    t.notMatch(guarded.text, what, `nor ${what.slice(0, 40)}`);
  const events = eventsOf(t, guarded.text);
  const actions = events.map((event) => event.Action);
  for (const action of ['exec_create', 'exec_start', 'exec_die', 'kill', 'die', 'stop'])
    t.ok(actions.includes(action), `the agent's ${action}`);
  t.ok(
    events.every((event) => event.id === agentId && event.Actor.Attributes.name === AGENT),
    "every event is the agent's, by id and name",
  );
  t.ok(
    events.every((event) => event.Actor.Attributes[PROJECT_LABEL] === PROJECT && !('execID' in event.Actor.Attributes)),
    'with the project label, without execID',
  );
  t.equal(eventsOf(t, widened.text).length, 0, "asking for the other project's agents shows nothing");
  t.notMatch(widened.text, CANARY);

  // A replay with until: the daemon ends the stream, and so does the guard.
  const replay = rawClient(port, `/events?since=${since}&until=${until}`);
  await waitFor('the replay to end', () => replay.closed, { timeoutMs: 15_000, detail: () => replay.text.slice(-300) });
  t.ok(replay.text.endsWith('\r\n0\r\n\r\n'), 'the terminating chunk, then the connection closes');
  t.ok(
    eventsOf(t, replay.text).some(
      (event) =>
        event.Action === 'die' &&
        event.Actor.Attributes.name === AGENT &&
        event.Actor.Attributes.exitCode !== undefined,
    ),
    "the agent's die with its exit code",
  );
  t.notMatch(replay.text, CANARY);
  t.notMatch(replay.text, OTHER_AGENT);

  // The daemon refuses a bad since: its status and message reach the client.
  const refused = control('/events?since=not-a-time');
  await waitFor("the daemon's refusal", () => refused.state.status !== 0 && refused.state.text.length > 0, {
    timeoutMs: 10_000,
  });
  const bad = rawClient(port, '/events?since=not-a-time');
  await waitFor("the guard's answer", () => bad.closed, { timeoutMs: 10_000 });
  t.match(
    bad.text,
    new RegExp(`^HTTP/1\\.1 ${refused.state.status} `),
    `the daemon's status (${refused.state.status})`,
  );
  t.equal(
    JSON.parse(bad.text.slice(bad.text.indexOf('\r\n\r\n') + 4)).message,
    JSON.parse(refused.state.text).message,
    'and its message',
  );
});

t.test('the real engine: a client that goes away leaves no connection to the daemon', async (t) => {
  await ensureDockerEngine();
  const settings = readGuardSettings({ GUARD_LISTEN: '127.0.0.1:1', GUARD_DOCKER_SOCKET: SOCKET });
  const server = createGuard(settings, [...BASE_ROUTES, eventsRoute(PROJECT)], () => undefined);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  const before = unixSockets();
  const clients = [rawClient(port, '/events'), rawClient(port, '/events'), rawClient(port, '/events')];
  await waitFor('three event streams to start', () => clients.every((c) => c.text.includes('\r\n\r\n')), {
    timeoutMs: 10_000,
  });
  t.equal(unixSockets(), before + 3, 'one connection to the daemon per stream');
  for (const c of clients) c.socket.destroy();
  const after = await waitFor(
    'the daemon connections to close',
    () => (unixSockets() === before ? before : undefined),
    { timeoutMs: 5_000, detail: () => `${unixSockets()} Unix sockets open, ${before} before` },
  ).catch(() => unixSockets());
  t.equal(after, before, 'none left once the clients have gone');
});
