// The default command end to end: a real tmpfs, a root-only token file, the op
// and bridge stand-ins, a real privilege drop to an unprivileged uid.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { assertNoSecrets, filesUnder } from '../support/no-secrets.js';
import {
  BRIDGE_UID,
  CLEAN_ENV,
  ENTRYPOINT_ARGV,
  execa,
  scenario,
  startEntrypoint,
  useLocalVault,
  waitForFile,
} from '../support/scenario.js';

t.test('renders the config into tmpfs, drops privileges and runs the bridge (supervised)', async (t) => {
  const s = scenario(t);
  const child = startEntrypoint({
    ...s.env,
    BRIDGE_SUPERVISE: '1',
    STANDIN_EXIT_AFTER_MS: '1500',
    STANDIN_EXIT_CODE: '0',
  });
  const workerPid = Number(await waitForFile(join(s.home, '.copilot-bridge', 'ready')));
  const config = JSON.parse(readFileSync(s.output, 'utf8'));
  t.equal(config.platforms.mattermost.bots.admin.token, s.items['op://stack/mattermost-admin/token']);
  t.equal(
    config.platforms.mattermost.bots.lal.token,
    s.items['op://stack/mattermost-lal/token'],
    '${VAR} inside a reference',
  );
  t.equal(config.webhook.secret, s.items['op://stack/webhook/secret'], 'non-ASCII survives');
  const st = statSync(s.output);
  t.equal(st.mode & 0o777, 0o600, 'config is 0600');
  t.equal(st.uid, BRIDGE_UID, 'config is owned by the bridge user');
  t.same(
    filesUnder(s.tmpfs)
      .map(([p]) => p)
      .sort(),
    [join(s.tmpfs, '.copilot-bridge.pid'), join(s.tmpfs, '.copilot-bridge.health'), s.output].sort(),
    "nothing else is on the tmpfs but the bridge's pid (for verify) and the leak check's verdict (for the healthcheck)",
  );
  const status = readFileSync(`/proc/${workerPid}/status`, 'utf8');
  t.match(
    status,
    new RegExp(`\\nUid:\\s+${BRIDGE_UID}\\s+${BRIDGE_UID}\\s+${BRIDGE_UID}\\s+${BRIDGE_UID}\\n`),
    'the bridge runs as the bridge user',
  );
  t.match(status, /\nGroups:\s+65534\s*\n/, 'with only its own group');
  t.match(status, /\nCapEff:\s+0+\n/, 'and no capabilities');
  t.match(readFileSync(`/proc/${workerPid}/limits`, 'utf8'), /Max core file size\s+0\s+0\s/, 'core dumps are off');
  const environ = readFileSync(`/proc/${workerPid}/environ`, 'utf8');
  t.match(environ, `COPILOT_BRIDGE_CONFIG=${s.output}\0`);
  t.notMatch(environ, /OP_SERVICE_ACCOUNT_TOKEN/, 'no token variable, not even the file name');
  assertNoSecrets(t, "the bridge's environment", environ, s.secrets());
  const probe = await execa(process.execPath, ['-e', `require('fs').readFileSync(${JSON.stringify(s.tokenFile)})`], {
    uid: BRIDGE_UID,
    gid: BRIDGE_UID,
    reject: false,
  });
  t.match(probe.stderr, /EACCES/, 'the bridge user cannot read the token file');
  const run = await child;
  t.equal(run.exitCode, 0, run.stderr);
  t.equal(run.stdout, '', 'the bridge writes nothing to stdout: all of it goes to its log file, as the real one does');
  t.same(filesUnder(s.tmpfs), [], 'the config is removed once the supervised bridge has ended');
  const log = readFileSync(join(s.home, '.copilot-bridge', 'copilot-bridge.log'), 'utf8');
  t.match(log, /Loaded config .* with 2 bot/);
  t.match(log, /copilot-bridge ready!/);
  assertNoSecrets(t, 'stdout', run.stdout, s.secrets());
  assertNoSecrets(t, 'stderr', run.stderr, s.secrets());
  assertNoSecrets(t, 'the bridge log', log, s.secrets());
});

t.test('the template can come inline, as agent containers get it', async (t) => {
  const s = scenario(t);
  const template = readFileSync(s.template, 'utf8');
  const child = startEntrypoint({
    ...s.env,
    BRIDGE_CONFIG_TEMPLATE: '/nonexistent.tpl',
    BRIDGE_CONFIG_TEMPLATE_TEXT: template,
    STANDIN_EXIT_AFTER_MS: '1500',
    BRIDGE_SUPERVISE: '1',
  });
  await waitForFile(join(s.home, '.copilot-bridge', 'ready'));
  t.equal(JSON.parse(readFileSync(s.output, 'utf8')).github.token, s.items['op://stack/copilot/github-token']);
  const verify = await execa(CLEAN_ENV, [...ENTRYPOINT_ARGV, 'verify'], {
    env: { ...s.env, BRIDGE_CONFIG_TEMPLATE_TEXT: template },
    extendEnv: false,
    reject: false,
  });
  t.equal(verify.exitCode, 0, verify.stderr);
  t.equal((await child).exitCode, 0);
});

t.test(
  'from the local vault: the same config, no op run, and every value of the vault treated as a secret',
  async (t) => {
    const s = scenario(t);
    const vault = useLocalVault(s);
    // op would fail if it ran: no vault of the stand-in answers for this file's content.
    const child = startEntrypoint({
      ...s.env,
      ...vault,
      BRIDGE_SUPERVISE: '1',
      STANDIN_EXIT_AFTER_MS: '1500',
      STANDIN_EXIT_CODE: '0',
    });
    const workerPid = Number(await waitForFile(join(s.home, '.copilot-bridge', 'ready')));
    const config = JSON.parse(readFileSync(s.output, 'utf8'));
    t.equal(config.platforms.mattermost.bots.admin.token, s.items['op://stack/mattermost-admin/token']);
    t.equal(
      config.platforms.mattermost.bots.lal.token,
      s.items['op://stack/mattermost-lal/token'],
      '${VAR} inside a reference',
    );
    t.equal(config.webhook.secret, s.items['op://stack/webhook/secret'], 'non-ASCII survives');
    t.equal(statSync(s.output).uid, BRIDGE_UID, 'config owned by the bridge user');
    const environ = readFileSync(`/proc/${workerPid}/environ`, 'utf8');
    assertNoSecrets(t, "the bridge's environment", environ, s.secrets());
    const verify = await execa(CLEAN_ENV, [...ENTRYPOINT_ARGV, 'verify'], {
      env: { ...s.env, ...vault },
      extendEnv: false,
      reject: false,
    });
    t.equal(verify.exitCode, 0, `verify finds no leak (${verify.stdout}${verify.stderr})`);
    const run = await child;
    t.equal(run.exitCode, 0, run.stderr);
    const log = readFileSync(join(s.home, '.copilot-bridge', 'copilot-bridge.log'), 'utf8');
    t.match(log, /copilot-bridge ready!/);
    for (const [what, text] of [
      ['stdout', run.stdout],
      ['stderr', run.stderr],
      ['the bridge log', log],
    ])
      assertNoSecrets(t, what!, text!, s.secrets());
  },
);

t.test(
  "op's warnings on a successful render are shown, once screened; one that quotes a secret stops the start",
  async (t) => {
    const plain = scenario(t, { behaviour: { warn: 'a newer version of op is available' } });
    const shown = await execa(CLEAN_ENV, ENTRYPOINT_ARGV, {
      env: { ...plain.env, BRIDGE_SUPERVISE: '1', STANDIN_EXIT_AFTER_MS: '300', STANDIN_EXIT_CODE: '0' },
      extendEnv: false,
      reject: false,
    });
    t.equal(shown.exitCode, 0, shown.stderr);
    t.match(shown.stderr, /render: warning: op inject said: \[WARN\] a newer version of op is available\n/);
    t.ok(existsSync(join(plain.home, '.copilot-bridge', 'ready')), 'the bridge started');

    const quoting = scenario(t, { behaviour: { warn: 'cached', warnWith: 'op://stack/mattermost-lal/token' } });
    const refused = await execa(CLEAN_ENV, ENTRYPOINT_ARGV, {
      env: { ...quoting.env, BRIDGE_SUPERVISE: '1', STANDIN_EXIT_AFTER_MS: '300', STANDIN_EXIT_CODE: '0' },
      extendEnv: false,
      reject: false,
    });
    t.equal(refused.exitCode, 77, 'refused for safety');
    t.match(
      refused.stderr,
      /leak-check: refused to print a line holding \$\.platforms\.mattermost\.bots\.lal\.token \(raw\)$/,
      'names the secret by its place, never its value',
    );
    t.notMatch(refused.stderr, /op inject said/, 'the line itself is not printed');
    t.same(filesUnder(quoting.tmpfs), [], 'no config, no pid: the bridge never started');
    assertNoSecrets(t, 'stderr', refused.stderr, quoting.secrets());
    assertNoSecrets(t, 'stdout', refused.stdout, quoting.secrets());
  },
);
