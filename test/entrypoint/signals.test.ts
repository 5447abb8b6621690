// Real processes and real signals: SIGTERM reaches a bridge stand-in whose
// launcher does not forward signals to its worker, in supervise mode
// (BRIDGE_SUPERVISE=1) and in exec mode (Node 24, under tini -g as
// compose's `init: true` runs it); exit statuses propagate; as PID 1 no orphan
// stays a zombie (tini, by its fixed path); kill -9 during rendering leaves
// no partial config.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execaSync } from 'execa';
import t from 'tap';
import { fakeServiceAccountToken } from '../fixtures/tokens.js';
import { hostVault } from '../fixtures/vault.js';
import { assertNoSecrets, filesUnder } from '../support/no-secrets.js';
import { scenario, startEntrypoint, waitForFile } from '../support/scenario.js';
import { TEST_OP } from '../support/test-build.js';

const marker = (home: string, name: string) => join(home, '.copilot-bridge', name);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('supervise mode: SIGTERM reaches the worker through the whole group; status 143', async (t) => {
  const s = scenario(t);
  const child = startEntrypoint({ ...s.env, BRIDGE_SUPERVISE: '1' });
  await waitForFile(marker(s.home, 'ready'));
  child.kill('SIGTERM');
  const run = await child;
  t.equal(run.exitCode, 143, run.stderr);
  // The worker is a process of its own in the group: it may finish writing just after the supervisor has exited.
  t.equal(await waitForFile(marker(s.home, 'shutdown-clean')), 'SIGTERM', 'the worker shut down cleanly');
  t.match(
    readFileSync(join(s.home, '.copilot-bridge', 'copilot-bridge.log'), 'utf8'),
    /Shutting down\.\.\.[\s\S]*Goodbye\./,
    'the worker logged its shutdown (to its log file, as the real one does)',
  );
  t.match(run.stderr, /supervise: copilot-bridge ended by SIGTERM; exiting 143/);
  t.same(filesUnder(s.tmpfs), [], 'config removed after the bridge ended');
});

t.test("supervise mode: the bridge's own exit status propagates", async (t) => {
  const s = scenario(t);
  const run = await startEntrypoint({
    ...s.env,
    BRIDGE_SUPERVISE: '1',
    STANDIN_EXIT_AFTER_MS: '200',
    STANDIN_EXIT_CODE: '3',
  });
  t.equal(run.exitCode, 3, run.stderr);
});

t.test('supervise mode: when the bridge fails, the last lines of its log file say why, masked', async (t) => {
  const s = scenario(t);
  const run = await startEntrypoint({
    ...s.env,
    BRIDGE_SUPERVISE: '1',
    STANDIN_PRINT: 'platforms.mattermost.bots.admin.token',
    STANDIN_EXIT_AFTER_MS: '300',
    STANDIN_EXIT_CODE: '3',
  });
  t.equal(run.exitCode, 3, run.stderr);
  t.match(
    run.stderr,
    /supervise: warning: copilot-bridge exited with status 3; the last lines of \S+\/\.copilot-bridge\/copilot-bridge\.log:\n/,
  );
  const tail = run.stderr.split('the last lines of')[1] ?? '';
  t.match(tail, /^ {2}.*\[DEBUG\] \[config\] value=<redacted>$/m, 'the line that held the token is shown masked');
  t.match(tail, /^ {2}.*\[INFO\] \[bridge\] exiting with 3$/m, 'the last line the bridge wrote is shown');
  t.equal(
    tail
      .split('\n')
      .slice(1)
      .filter((line) => line.startsWith('  ')).length,
    5,
    'the last five lines, no more',
  );
  assertNoSecrets(t, 'stderr', run.stderr, s.secrets());
  assertNoSecrets(t, 'stdout', run.stdout, s.secrets());
  const clean = await startEntrypoint({ ...s.env, BRIDGE_SUPERVISE: '1', STANDIN_EXIT_AFTER_MS: '100' });
  t.equal(clean.exitCode, 0, clean.stderr);
  t.notMatch(clean.stderr, /the last lines of/, 'a clean exit shows no tail');
});

t.test('supervise mode: secrets the bridge prints are masked, even split across writes', async (t) => {
  const s = scenario(t);
  const run = await startEntrypoint({
    ...s.env,
    BRIDGE_SUPERVISE: '1',
    STANDIN_PRINT: 'platforms.mattermost.bots.admin.token',
    STANDIN_EXIT_AFTER_MS: '300',
  });
  t.equal(run.exitCode, 0, run.stderr);
  t.match(run.stdout, /^debug: value=<redacted>$/m);
  t.match(run.stderr, /^debug: value=<redacted>$/m);
  assertNoSecrets(t, 'stdout', run.stdout, s.secrets());
  assertNoSecrets(t, 'stderr', run.stderr, s.secrets());
});

t.test('exec mode (Node 24): the entrypoint becomes the bridge, keeping its PID', async (t) => {
  const s = scenario(t);
  const child = startEntrypoint({ ...s.env, STANDIN_EXIT_AFTER_MS: '1500', STANDIN_EXIT_CODE: '3' }, []);
  await waitForFile(marker(s.home, 'ready'));
  const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
  t.ok(
    cmdline.some((arg) => arg.endsWith('copilot-bridge')),
    `PID ${child.pid} now runs copilot-bridge (${cmdline.join(' ')})`,
  );
  t.notOk(
    cmdline.some((arg) => arg.includes('copilot-bridge-entrypoint')),
    'nothing of the entrypoint stays resident',
  );
  const run = await child;
  t.equal(run.exitCode, 3, 'the bridge exit status is the process status');
  t.match(run.stderr, /exec: exec copilot-bridge start/);
  t.notMatch(run.stderr, /ExperimentalWarning/, 'no runtime warning in the logs');
});

t.test('exec mode (Node 24): no signal is left ignored for the bridge (Node ignores SIGPIPE)', async (t) => {
  const s = scenario(t);
  const run = await startEntrypoint(s.env, ['grep', 'SigIgn', '/proc/self/status']);
  t.equal(run.exitCode, 0, run.stderr);
  t.match(run.stdout, /^SigIgn:\s+0+$/m);
});

t.test('exec mode (Node 24) under tini -g: SIGTERM reaches the worker; status 143', async (t) => {
  const s = scenario(t);
  const child = startEntrypoint({ ...s.env, TINI_KILL_PROCESS_GROUP: '1' }, [], { prefix: ['tini', '-g', '--'] });
  await waitForFile(marker(s.home, 'ready'));
  child.kill('SIGTERM');
  const run = await child;
  t.equal(run.exitCode, 143, run.stderr);
  t.equal(await waitForFile(marker(s.home, 'shutdown-clean')), 'SIGTERM', 'the worker shut down cleanly');
});

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** Processes below `root` (by parent pid), with their state letter. */
function descendants(root: number): Array<{ pid: number; state: string; name: string }> {
  const all = readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map((n) => {
      try {
        const status = readFileSync(`/proc/${n}/status`, 'utf8');
        return {
          pid: Number(n),
          ppid: Number(/\nPPid:\s+(\d+)/.exec(status)?.[1]),
          state: /\nState:\s+(\w)/.exec(status)?.[1] ?? '?',
          name: /^Name:\s+(.*)/.exec(status)?.[1] ?? '?',
        };
      } catch {
        return undefined;
      }
    })
    .filter((p) => p !== undefined);
  const found: Array<{ pid: number; state: string; name: string }> = [];
  const walk = (pid: number) => all.filter((p) => p.ppid === pid).forEach((p) => (found.push(p), walk(p.pid)));
  walk(root);
  return found;
}

t.test('as PID 1 in supervise mode, orphans are reaped by tini (by its fixed path) below the entrypoint', async (t) => {
  const s = scenario(t);
  // No tini on this PATH: the entrypoint runs it by the path fixed at build time, never a PATH lookup.
  const bare = join(s.dir, 'bare-path');
  mkdirSync(bare);
  for (const tool of ['node', 'bash']) symlinkSync(execaSync('which', [tool]).stdout, join(bare, tool));
  const child = startEntrypoint(
    { ...s.env, PATH: `${s.env.PATH!.split(':')[0]}:${bare}`, BRIDGE_SUPERVISE: '1', STANDIN_ORPHANS: '4' },
    [],
    { prefix: [execaSync('which', ['unshare']).stdout, '--pid', '--fork', '--mount-proc', '--kill-child'] },
  );
  await waitForFile(marker(s.home, 'ready'));
  await sleep(1200);
  const tree = descendants(child.pid!);
  t.ok(
    tree.some((p) => p.name === 'tini' && cmdline(p.pid)[0] === '/usr/bin/tini'),
    `tini runs below the entrypoint, from /usr/bin/tini (${tree.map((p) => p.name).join(', ')})`,
  );
  t.same(
    tree.filter((p) => p.state === 'Z'),
    [],
    'no zombie in the container',
  );
  // unshare ignores SIGTERM while it waits: signal the namespace's PID 1, the entrypoint, as `docker stop` does.
  process.kill(tree[0]!.pid, 'SIGTERM');
  const run = await child;
  t.equal(run.exitCode, 143, run.stderr);
  t.equal(await waitForFile(marker(s.home, 'shutdown-clean')), 'SIGTERM', 'the worker shut down cleanly');
});

t.test('kill -9 during rendering leaves no partial config behind', async (t) => {
  const s = scenario(t, { behaviour: { delayMs: 3000 } });
  const child = startEntrypoint(s.env);
  const deadline = Date.now() + 10_000;
  let opPid: number | undefined;
  while (opPid === undefined && Date.now() < deadline) {
    opPid = descendants(child.pid!).find((p) => cmdline(p.pid).some((arg) => arg === TEST_OP))?.pid;
    if (opPid === undefined) await sleep(20);
  }
  t.ok(opPid, 'op is rendering');
  child.kill('SIGKILL');
  await child;
  while (existsSync(`/proc/${opPid}`) && Date.now() < deadline + 5000) await sleep(50);
  t.same(filesUnder(s.tmpfs), [], 'no config and no temp file on the tmpfs');
  rmSync(s.tokenFile);
  const token = fakeServiceAccountToken();
  writeFileSync(s.tokenFile, `${token}\n`, { mode: 0o600 });
  hostVault(t, token, s.items);
  const again = await startEntrypoint({ ...s.env, BRIDGE_SUPERVISE: '1', STANDIN_EXIT_AFTER_MS: '100' });
  t.equal(again.exitCode, 0, 'the next start renders normally');
  t.same(readdirSync(s.tmpfs), [], 'and leaves nothing either');
});
