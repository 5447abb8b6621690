// The healthcheck of a supervised bridge, end to end on the host tests' build:
// the supervisor scans for leaks itself and renews a verdict on the tmpfs; the
// launcher's `health` reads it without starting Node. A leak planted while the
// bridge runs (in its log file, encoded; in another process's environment)
// turns it unhealthy within two intervals; a supervisor that stops (SIGSTOP)
// turns it unhealthy once its verdict expires; a verdict file that is not a
// plain file is refused; without a verdict (exec mode) `health` runs verify.
// No output of any of it holds a secret.
import { spawn } from 'node:child_process';
import { appendFileSync, chownSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { assertNoSecrets } from '../support/no-secrets.js';
import {
  BRIDGE_GID,
  BRIDGE_UID,
  CLEAN_ENV,
  execa,
  scenario,
  startEntrypoint,
  waitForFile,
} from '../support/scenario.js';
import { TEST_LAUNCHER } from '../support/test-build.js';

const INTERVAL_MS = 300;

interface Check {
  exitCode: number | undefined;
  output: string;
  at: number;
}

/** The HEALTHCHECK as Docker runs it: the launcher's `health`, as root, with the container's environment (and not tap's). */
async function health(env: Record<string, string>): Promise<Check> {
  const run = await execa(CLEAN_ENV, [TEST_LAUNCHER, 'health'], {
    env,
    extendEnv: false,
    reject: false,
    stripFinalNewline: false,
    timeout: 30_000,
  });
  return { exitCode: run.exitCode, output: `${run.stdout}${run.stderr}`, at: Date.now() };
}

/** Checks every 50 ms until one is unhealthy, or `ms` have passed (then the last check). */
async function untilUnhealthy(env: Record<string, string>, ms: number): Promise<Check> {
  const deadline = Date.now() + ms;
  for (;;) {
    const check = await health(env);
    if (check.exitCode !== 0 || Date.now() > deadline) return check;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

t.test('a supervised bridge: healthy from its own scan, unhealthy on a leak or a stopped supervisor', async (t) => {
  const s = scenario(t);
  const env = { ...s.env, BRIDGE_SUPERVISE: '1', BRIDGE_HEALTH_INTERVAL: String(INTERVAL_MS / 1000) };
  const child = startEntrypoint(env);
  await waitForFile(join(s.home, '.copilot-bridge', 'ready'));
  // The first scan ran as the bridge started, before it wrote its log; the next one sees the log.
  await new Promise((resolve) => setTimeout(resolve, 2 * INTERVAL_MS));
  const outputs: string[] = [];
  const verdictFile = join(s.tmpfs, '.copilot-bridge.health');

  const first = await health(env);
  outputs.push(first.output);
  t.equal(first.exitCode, 0, `healthy (${first.output.trim()})`);
  t.match(first.output, /^clean: checked \d+ process\(es\) and 1 log file\(s\)\n$/, 'it says what it checked');
  const st = statSync(verdictFile);
  t.equal(st.uid, BRIDGE_UID, "the verdict is written by the supervisor, as the bridge's user");
  t.equal(st.mode & 0o777, 0o644, 'readable, and it holds no value');

  // A secret, base64-encoded, appended to the bridge's log while it runs.
  const webhook = s.items['op://stack/webhook/secret']!;
  const planted = Date.now();
  appendFileSync(
    join(s.home, '.copilot-bridge', 'copilot-bridge.log'),
    `debug: ${Buffer.from(webhook).toString('base64')}\n`,
  );
  const leak = await untilUnhealthy(env, 10 * INTERVAL_MS);
  outputs.push(leak.output);
  t.equal(leak.exitCode, 1, 'a leak in the log turns it unhealthy');
  t.ok(leak.at - planted <= 2 * INTERVAL_MS + 250, `within two intervals (${leak.at - planted} ms)`);
  t.match(leak.output, /^1 leak\(s\) found: checked/);
  t.match(leak.output, /leak: \S+copilot-bridge\.log holds \$\.webhook\.secret \(base64\)/, 'named by place and path');
  writeFileSync(join(s.home, '.copilot-bridge', 'copilot-bridge.log'), 'clean again\n');
  chownSync(join(s.home, '.copilot-bridge', 'copilot-bridge.log'), BRIDGE_UID, BRIDGE_GID);
  await new Promise((resolve) => setTimeout(resolve, 2 * INTERVAL_MS));
  const recovered = await health(env);
  t.equal(recovered.exitCode, 0, `healthy again once the log is clean (${recovered.output.trim()})`);

  // A process of the bridge's user with a secret in its environment (found by the scan on its schedule).
  const token = s.items['op://stack/mattermost-lal/token']!;
  const holder = spawn('sleep', ['30'], {
    uid: BRIDGE_UID,
    gid: BRIDGE_GID,
    env: { PATH: '/usr/bin:/bin', STOLEN: token },
    stdio: 'ignore',
  });
  t.teardown(() => holder.kill('SIGKILL'));
  const spawned = Date.now();
  const envLeak = await untilUnhealthy(env, 10 * INTERVAL_MS);
  outputs.push(envLeak.output);
  t.equal(envLeak.exitCode, 1, "a secret in another process's environment turns it unhealthy");
  t.ok(envLeak.at - spawned <= 2 * INTERVAL_MS + 250, `within two intervals (${envLeak.at - spawned} ms)`);
  t.match(
    envLeak.output,
    `leak: the environment of process ${holder.pid} (sleep) holds $.platforms.mattermost.bots.lal.token (raw)`,
  );
  holder.kill('SIGKILL');
  await new Promise((resolve) => setTimeout(resolve, 2 * INTERVAL_MS));
  t.equal((await health(env)).exitCode, 0, 'healthy again once that process is gone');

  // The supervisor stops (a hang): its verdict is not renewed and expires after three intervals.
  process.kill(child.pid!, 'SIGSTOP');
  const stopped = Date.now();
  const stale = await untilUnhealthy(env, 10 * INTERVAL_MS);
  process.kill(child.pid!, 'SIGCONT');
  outputs.push(stale.output);
  t.equal(stale.exitCode, 1, 'a supervisor that stopped turns it unhealthy');
  t.ok(stale.at - stopped <= 3 * INTERVAL_MS + 1250, `once its verdict expires (${stale.at - stopped} ms)`);
  t.match(stale.output, /^unhealthy: the leak check's verdict expired \d+ s ago: its supervisor stopped scanning/);
  await new Promise((resolve) => setTimeout(resolve, 2 * INTERVAL_MS));
  t.equal((await health(env)).exitCode, 0, 'healthy again once it runs');

  process.kill(child.pid!, 'SIGTERM');
  const run = await child;
  for (const output of [...outputs, run.stdout, run.stderr]) assertNoSecrets(t, 'health output', output, s.secrets());
  t.match(run.stderr, /health: warning: leak: \S+ holds \$\.webhook\.secret \(base64\)/, 'the supervisor logs a leak');
  t.notOk(statSync(verdictFile, { throwIfNoEntry: false }), 'the verdict is removed with the config');
});

t.test('a verdict that is not a plain file, or not a verdict, is unhealthy', async (t) => {
  const s = scenario(t);
  const env = { PATH: '/usr/bin:/bin', BRIDGE_CONFIG_OUT: s.output };
  const file = join(s.tmpfs, '.copilot-bridge.health');
  const fresh = `copilot-bridge-health 1 ${Math.floor(Date.now() / 1000) + 60}\nclean: checked 1 process(es) and 0 log file(s)\n`;
  const elsewhere = join(s.dir, 'forged');
  writeFileSync(elsewhere, fresh);
  symlinkSync(elsewhere, file);
  let check = await health(env);
  t.equal(check.exitCode, 1, 'a symlink, even to a clean verdict');
  t.match(check.output, `unhealthy: cannot open ${file} (it is a symbolic link)`);
  rmSync(file);
  mkdirSync(file);
  check = await health(env);
  t.equal(check.exitCode, 1, 'a directory');
  t.match(check.output, `unhealthy: ${file} is not a readable regular file`);
  rmSync(file, { recursive: true });
  for (const text of [
    'clean: checked 1 process(es)\n',
    `copilot-bridge-health 2 ${Math.floor(Date.now() / 1000) + 60}\nclean:\n`,
    'copilot-bridge-health 1 12x\nclean:\n',
    'copilot-bridge-health 1 -5\nclean:\n',
    'copilot-bridge-health 1 99999999999999999999999\nclean:\n',
  ]) {
    writeFileSync(file, text);
    check = await health(env);
    t.equal(check.exitCode, 1, JSON.stringify(text));
    t.match(check.output, `unhealthy: ${file} is not a verdict of this version`);
  }
  writeFileSync(file, fresh.replace('clean:', 'cleanish:'));
  t.equal((await health(env)).exitCode, 1, 'only a verdict that starts with clean: is healthy');
  writeFileSync(file, `${fresh}\u0007\u001b[2J\n`);
  check = await health(env);
  t.equal(check.exitCode, 0);
  t.equal(check.output, 'clean: checked 1 process(es) and 0 log file(s)\n??[2J\n', 'control bytes are shown as ?');
});

t.test('without a verdict (a bridge exec-ed, not supervised), health runs verify', async (t) => {
  const s = scenario(t);
  const child = startEntrypoint({ ...s.env, STANDIN_EXIT_AFTER_MS: '5000' });
  await waitForFile(join(s.home, '.copilot-bridge', 'ready'));
  const check = await health(s.env);
  t.equal(check.exitCode, 0, check.output);
  t.match(check.output, /verify: clean: checked \d+ process\(es\) and 1 log file\(s\)/, "verify's own line");
  appendFileSync(join(s.home, '.copilot-bridge', 'copilot-bridge.log'), `${s.items['op://stack/webhook/secret']}\n`);
  const leak = await health(s.env);
  t.equal(leak.exitCode, 1, 'and verify finds a leak');
  assertNoSecrets(t, 'health output', `${check.output}${leak.output}`, s.secrets());
  t.equal((await child).exitCode, 0, 'the bridge ran on, exec-ed');
});
