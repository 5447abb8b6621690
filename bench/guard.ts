// Socket guard overhead: the same load (GET /_ping and GET /version over
// keep-alive connections) sent in interleaved rounds to the raw Docker
// socket, to docker-socket-guard, and to HAProxy configured with the same
// path rules in front of the same socket. Latency: median per request, one
// at a time. Throughput: requests per second with 16 in flight.
// Goals: the guard adds at most 1 ms at the median; its throughput is at
// least 0.8x HAProxy's.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureDockerEngine } from '../test/support/e2e/engine.js';
import { freePort } from '../test/support/e2e/stack.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const SOCKET = '/var/run/docker.sock';
const ROUNDS = 5;
const LATENCY_REQUESTS = 200;
const THROUGHPUT_REQUESTS = 2000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

type Target = { name: string; options: { socketPath?: string; host?: string; port?: number }; agent: Agent };

function get(target: Target, path: string): Promise<void> {
  return new Promise((done, fail) => {
    const req = request({ ...target.options, path, agent: target.agent, headers: { host: 'docker' } }, (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 200 ? done() : fail(new Error(`${target.name}: ${path} answered ${res.statusCode}`)),
      );
    });
    req.on('error', fail);
    req.end();
  });
}

async function latency(target: Target): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < LATENCY_REQUESTS; i++) {
    const start = process.hrtime.bigint();
    await get(target, i % 2 ? '/v1.41/version' : '/_ping');
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times;
}

async function throughput(target: Target): Promise<number> {
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next++ < THROUGHPUT_REQUESTS) await get(target, '/_ping');
    }),
  );
  return THROUGHPUT_REQUESTS / (Number(process.hrtime.bigint() - start) / 1e9);
}

async function started(child: ChildProcess, port: number, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode})`);
    const up = await new Promise<boolean>((r) => {
      const req = request({ host: '127.0.0.1', port, path: '/_ping' }, (res) => (res.resume(), r(true)));
      req.on('error', () => r(false));
      req.end();
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${what} did not start listening on ${port}`);
}

export async function benchGuard(): Promise<{ name: string; figures: Record<string, number | string> }> {
  await ensureDockerEngine();
  const dir = mkdtempSync(join(tmpdir(), 'cbs-bench-guard-'));
  const [guardPort, haproxyPort] = [await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'haproxy.cfg'),
    [
      'global',
      '  maxconn 256',
      'defaults',
      '  mode http',
      '  timeout connect 5s',
      '  timeout client 30s',
      '  timeout server 30s',
      `frontend guard`,
      `  bind 127.0.0.1:${haproxyPort}`,
      '  acl allowed path_reg ^(/v[0-9]+\\.[0-9]+)?/(_ping|version|events)$',
      '  http-request deny deny_status 403 unless allowed',
      '  default_backend docker',
      'backend docker',
      `  server docker unix@${SOCKET}`,
      '',
    ].join('\n'),
  );
  const guard = spawn(process.execPath, [join(ROOT, 'dist', 'docker-socket-guard.mjs')], {
    env: { PATH: process.env.PATH, GUARD_LISTEN: `127.0.0.1:${guardPort}`, GUARD_DOCKER_SOCKET: SOCKET },
    stdio: 'ignore',
  });
  const haproxy = spawn('haproxy', ['-f', join(dir, 'haproxy.cfg')], { stdio: 'ignore' });
  try {
    await started(guard, guardPort, 'docker-socket-guard');
    await started(haproxy, haproxyPort, 'haproxy');
    const targets: Target[] = [
      { name: 'raw socket', options: { socketPath: SOCKET }, agent: new Agent({ keepAlive: true, maxSockets: 16 }) },
      {
        name: 'guard',
        options: { host: '127.0.0.1', port: guardPort },
        agent: new Agent({ keepAlive: true, maxSockets: 16 }),
      },
      {
        name: 'haproxy',
        options: { host: '127.0.0.1', port: haproxyPort },
        agent: new Agent({ keepAlive: true, maxSockets: 16 }),
      },
    ];
    const lat = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    const rps = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const target of targets) {
        lat.get(target.name)!.push(...(await latency(target)));
        rps.get(target.name)!.push(await throughput(target));
      }
    }
    for (const target of targets) target.agent.destroy();
    const m = (name: string) => median(lat.get(name)!);
    const r = (name: string) => median(rps.get(name)!);
    const added = m('guard') - m('raw socket');
    const ratio = r('guard') / r('haproxy');
    return {
      name: 'guard',
      figures: {
        'median ms, raw socket': Number(m('raw socket').toFixed(3)),
        'median ms, guard': Number(m('guard').toFixed(3)),
        'median ms, haproxy': Number(m('haproxy').toFixed(3)),
        'guard adds, median ms (goal <= 1)': Number(added.toFixed(3)),
        'req/s with 16 in flight, raw socket': Math.round(r('raw socket')),
        'req/s with 16 in flight, guard': Math.round(r('guard')),
        'req/s with 16 in flight, haproxy': Math.round(r('haproxy')),
        'guard / haproxy throughput (goal >= 0.8)': Number(ratio.toFixed(2)),
        verdict: added <= 1 && ratio >= 0.8 ? 'meets the goals' : 'MISSES a goal',
      },
    };
  } finally {
    guard.kill('SIGTERM');
    haproxy.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { name, figures } = await benchGuard();
  for (const [key, value] of Object.entries(figures)) console.log(`${name}: ${key}: ${value}`);
}
