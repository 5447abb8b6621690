// `status` (npm run status, the `ps` command) on a real engine, for scripts
// as for people: containers labelled as one stack's agents, from the waiter
// image (no shell: a shell-form healthcheck cannot run, so Docker calls the
// container unhealthy). None at all, one running without a healthcheck, one
// unhealthy, one exited: the table, --json's typed fields (null where there
// is nothing to say, uptime in seconds, the credential as fields), and the
// exit status, 0 only while every container runs and none is unhealthy.

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { PROJECT_LABEL } from '../../src/contract.js';
import { fakeToken } from '../fixtures/host-seal/fake-token.js';
import { ensureDockerEngine } from '../support/e2e/engine.js';
import { TEST_LABEL } from '../support/e2e/paths.js';
import { attempt, docker } from '../support/e2e/run.js';
import { waitFor } from '../support/e2e/wait.js';
import { buildWaiter } from '../support/e2e/waiter.js';
import { cli, sandbox } from '../support/host-seal/cli.js';
import { leaks } from '../support/host-seal/leaks.js';
import { ROOT } from '../support/scenario.js';

const project = `cbs-status-${process.pid}`;
const image = `cbs-status-waiter:${process.pid}`;
let env: Record<string, string> = {};

t.before(async () => {
  await ensureDockerEngine();
  const box = await sandbox(t);
  env = { ...box.env, COMPOSE_PROJECT_NAME: project, AGENTS_FILE: join(ROOT, 'test', 'fixtures', 'agents.json') };
  await buildWaiter(box.root, image);
});
t.teardown(async () => {
  const ids = (await attempt('docker', ['ps', '-aq', '--filter', `label=${PROJECT_LABEL}=${project}`])).stdout.trim();
  if (ids) await attempt('docker', ['rm', '-f', ...ids.split('\n')]);
  await attempt('docker', ['rmi', '-f', image]);
});

const status = (args: string[] = []) => cli(['ps', ...args], { env, cwd: ROOT });

async function agent(t: Test, name: string, args: string[] = []): Promise<string> {
  const container = `${project}-${name}`;
  await docker([
    'run',
    '-d',
    '--name',
    container,
    '--label',
    `${PROJECT_LABEL}=${project}`,
    '--label',
    `${TEST_LABEL}=1`,
    ...args,
    image,
  ]);
  t.teardown(() => attempt('docker', ['rm', '-f', container]));
  return container;
}

interface Json {
  project: string;
  ok: boolean;
  containers: Array<Record<string, unknown>>;
}

t.test('no container of the stack: one line that says how to start it, exit 1; --json says ok false', async (t) => {
  const run = await status();
  t.equal(run.exitCode, 1);
  t.equal(run.stdout, '');
  t.equal(
    run.stderr.trim(),
    `copilot-bridge-seal: status: no container of the stack ${project} exists; start it with npm run up`,
  );
  const json = await status(['--json']);
  t.equal(json.exitCode, 1);
  t.same(JSON.parse(json.stdout), { project, ok: false, containers: [] });
});

t.test('running, no healthcheck: exit 0; --json with typed fields, null where nothing is known', async (t) => {
  const name = await agent(t, 'plain');
  const run = await status();
  t.equal(run.exitCode, 0, run.stderr);
  t.match(run.stdout, new RegExp(`^${name}\\s+agent\\s+running\\s+-\\s+\\d+s\\s+0\\s+-\\s+-$`, 'm'));
  const json = JSON.parse((await status(['--json'])).stdout) as Json;
  t.equal(json.ok, true);
  const row = json.containers.find((c) => c.name === name)!;
  t.match(row, { service: 'agent', state: 'running', health: null, restarts: 0, credential: null, lastCheck: null });
  t.type(row.uptimeSeconds, 'number');
  t.ok(!Number.isNaN(Date.parse(String(row.startedAt))), 'startedAt is a date');
});

t.test('an unhealthy container and an exited one: both named on stderr, exit 1; --json ok false', async (t) => {
  // A shell-form healthcheck in an image with no shell: Docker calls every run a failure, so the container unhealthy.
  const sick = await agent(t, 'sick', ['--health-cmd', 'true', '--health-interval', '1s', '--health-retries', '1']);
  const gone = await agent(t, 'gone');
  await docker(['stop', '-t', '1', gone]);
  await waitFor(
    `${sick} unhealthy`,
    async () => (await docker(['inspect', '-f', '{{.State.Health.Status}}', sick])).trim() === 'unhealthy',
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  const run = await status();
  t.equal(run.exitCode, 1);
  t.match(run.stdout, new RegExp(`^${sick}\\s+agent\\s+running\\s+unhealthy\\s`, 'm'), 'the table still shows all');
  t.match(run.stdout, new RegExp(`^${gone}\\s+agent\\s+exited\\s+-\\s+-\\s`, 'm'));
  const last = run.stderr.trim().split('\n').at(-1) ?? '';
  t.match(last, /^copilot-bridge-seal: status: /);
  t.match(last, `${sick} (unhealthy)`);
  t.match(last, `${gone} (exited)`);
  t.match(last, /npm run compose -- logs SERVICE \(or npm run agent -- logs NAME\) says why$/);
  const json = await status(['--json']);
  t.equal(json.exitCode, 1);
  const parsed = JSON.parse(json.stdout) as Json;
  t.equal(parsed.ok, false);
  t.match(
    parsed.containers.find((c) => c.name === sick),
    { health: 'unhealthy', lastCheck: /\S/ },
  );
  t.match(
    parsed.containers.find((c) => c.name === gone),
    { state: 'exited', uptimeSeconds: null, startedAt: null },
  );
});

t.test('a container whose released file is gone (wiped): its credential says it cannot start again', async (t) => {
  const dir = join(env.XDG_RUNTIME_DIR!, 'copilot-bridge-stack');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'op-sa-token'), 'not a token, a stand-in file', { mode: 0o400 });
  const name = await agent(t, 'wiped', ['-v', `${join(dir, 'op-sa-token')}:/run/secrets/op_sa_token:ro`]);
  const before = JSON.parse((await status(['--json'])).stdout) as Json;
  t.match(
    before.containers.find((c) => c.name === name),
    { credential: { sealed: 'op-sa-token', released: true } },
  );
  rmSync(join(dir, 'op-sa-token'));
  const run = await status();
  t.match(
    run.stdout,
    new RegExp(
      `^${name}\\s.*op-sa-token \\(no longer sealed\\) \\(released file gone: cannot start again until npm run up\\)\\s+-$`,
      'm',
    ),
  );
  const after = JSON.parse((await status(['--json'])).stdout) as Json;
  t.match(
    after.containers.find((c) => c.name === name),
    { credential: { sealed: 'op-sa-token', released: false } },
  );
});

t.test(
  'a compose file Compose cannot read, at a line that holds a value: its error quoted masked, exit 69',
  async (t) => {
    const dir = join(env.XDG_RUNTIME_DIR!, 'unreadable');
    mkdirSync(dir, { recursive: true });
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const value = fakeToken();
    writeFileSync(join(dir, 'compose.yml'), `services:\n  x:\n    image: "\${${value}"\n`);
    const run = await cli(['ps', '--file', join(dir, 'compose.yml')], { env, cwd: ROOT });
    t.equal(run.exitCode, 69);
    t.match(run.stderr, /^copilot-bridge-seal: ps: docker-compose ps failed \(.*<masked>.*\)/m);
    t.notOk(leaks(run.stdout + run.stderr, value), 'no part of the value printed');
    t.notOk(run.stderr.includes(value.slice(4, 40)), 'not its start either');
  },
);
