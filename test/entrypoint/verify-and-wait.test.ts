// `verify` (the HEALTHCHECK) against real processes and real log files, and
// the wait for dependencies against a real HTTP server that comes up late.
import { appendFileSync, chmodSync, chownSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { assertNoSecrets } from '../support/no-secrets.js';
import { BRIDGE_UID, execa, runEntrypoint, scenario, startEntrypoint, waitForFile } from '../support/scenario.js';

async function runningBridge(t: Test, extra: Record<string, string> = {}) {
  const s = scenario(t);
  const child = startEntrypoint({ ...s.env, BRIDGE_SUPERVISE: '1', ...extra });
  t.teardown(async () => {
    child.kill('SIGTERM');
    await child;
  });
  await waitForFile(join(s.home, '.copilot-bridge', 'ready'));
  return s;
}

t.test('verify: clean while the bridge runs', async (t) => {
  const s = await runningBridge(t);
  const run = await runEntrypoint({ ...s.env, COPILOT_BRIDGE_CONFIG: s.output }, ['verify']);
  t.equal(run.exitCode, 0, run.stderr);
  t.equal(run.stdout, '');
  t.match(run.stderr, /verify: clean: checked \d+ process\(es\) and 1 log file\(s\)/);
});

t.test('verify: a secret in the environment of a process of the bridge user is a leak', async (t) => {
  const s = await runningBridge(t);
  const secret = s.items['op://stack/copilot/github-token']!;
  const leaker = execa('sleep', ['30'], {
    uid: BRIDGE_UID,
    gid: BRIDGE_UID,
    env: { GH_TOKEN: secret },
    extendEnv: false,
    reject: false,
  });
  t.teardown(() => {
    leaker.kill();
  });
  const run = await runEntrypoint({ ...s.env, COPILOT_BRIDGE_CONFIG: s.output }, ['verify']);
  t.equal(run.exitCode, 1, run.stderr);
  t.match(
    run.stdout,
    new RegExp(`leak: the environment of process ${leaker.pid} \\(sleep\\) holds \\$\\.github\\.token \\(raw\\)`),
  );
  t.match(run.stderr, /verify: 1 leak\(s\) found/);
  assertNoSecrets(t, 'stdout', run.stdout, s.secrets());
  assertNoSecrets(t, 'stderr', run.stderr, s.secrets());
});

t.test("verify: a secret (base64) in the bridge's log file is a leak", async (t) => {
  const s = await runningBridge(t);
  const log = join(s.home, '.copilot-bridge', 'copilot-bridge.log');
  appendFileSync(
    log,
    `debug: ${Buffer.from(`Bearer ${s.items['op://stack/mattermost-admin/token']}`).toString('base64')}\n`,
  );
  const run = await runEntrypoint({ ...s.env, COPILOT_BRIDGE_CONFIG: s.output }, ['verify']);
  t.equal(run.exitCode, 1, run.stderr);
  t.match(run.stdout, /leak: .*copilot-bridge\.log holds \$\.platforms\.mattermost\.bots\.admin\.token \(base64\)/);
  assertNoSecrets(t, 'stdout', run.stdout, s.secrets());
});

t.test('verify: a token file the bridge user can read is a leak', async (t) => {
  const s = await runningBridge(t);
  chmodSync(s.tokenFile, 0o644);
  const run = await runEntrypoint({ ...s.env, COPILOT_BRIDGE_CONFIG: s.output }, ['verify']);
  t.equal(run.exitCode, 1, run.stderr);
  t.match(run.stdout, /^leak: the token file .*op_sa_token is readable by uid 65534$/m);
  assertNoSecrets(t, 'stdout', run.stdout, s.secrets());
});

t.test('verify: a config that was not rendered from the template', async (t) => {
  const s = scenario(t);
  writeFileSync(s.output, '{}');
  chownSync(s.output, BRIDGE_UID, BRIDGE_UID);
  const run = await runEntrypoint(s.env, ['verify']);
  t.equal(run.exitCode, 65);
  t.match(run.stderr, /verify: .*config\.json was not rendered from .*; restart the container/);
});

t.test('verify: no rendered config', async (t) => {
  const s = scenario(t);
  const run = await runEntrypoint(s.env, ['verify']);
  t.equal(run.exitCode, 66);
  t.match(run.stderr, /verify: cannot read the rendered config .* \(ENOENT\)/);
});

t.test('wait: polls with progress until the dependency answers 2xx', async (t) => {
  const s = scenario(t);
  const upAt = Date.now() + 1200;
  const server = createServer((req, res) => {
    res.statusCode = Date.now() < upAt ? 503 : 200;
    res.end(req.url === '/api/v4/system/ping' ? '{"status":"OK"}' : '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v4/system/ping`;
  const run = await runEntrypoint({
    ...s.env,
    BRIDGE_WAIT_FOR: url,
    BRIDGE_WAIT_TIMEOUT: '20',
    STANDIN_EXIT_AFTER_MS: '100',
  });
  t.equal(run.exitCode, 0, run.stderr);
  t.match(
    run.stderr,
    new RegExp(`wait: ${url.replace(/[.?]/g, '\\$&')} not ready \\(HTTP 503\\); retrying in \\d\\.\\d s, \\d+ s left`),
  );
  t.match(run.stderr, /wait: .* is up after \d\.\d s/);
  t.ok(Date.now() >= upAt, 'it did not start the bridge before the dependency was up');
});

t.test('a secret shorter than 8 characters is warned about by its path, not masked', async (t) => {
  const s = scenario(t, {
    template: '{ "pin": "{{ op://stack/short/pin }}", "token": "{{ op://stack/copilot/github-token }}" }',
    items: { 'op://stack/short/pin': '4711', 'op://stack/copilot/github-token': `gh-${'k'.repeat(30)}` },
  });
  const run = await runEntrypoint({ ...s.env, STANDIN_EXIT_AFTER_MS: '100' });
  t.equal(run.exitCode, 0, run.stderr);
  t.match(run.stderr, /render: warning: the secret at \$\.pin is shorter than 8 characters/);
  t.notMatch(run.stderr, /4711/);
});
