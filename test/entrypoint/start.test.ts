// The default command end to end: a real tmpfs, a root-only token file, the op
// and bridge stand-ins, a real privilege drop to an unprivileged uid.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { assertNoSecrets, filesUnder } from '../helpers/no-secrets.js';
import { BRIDGE_UID, execa, runEntrypoint, scenario } from '../helpers/scenario.js';

t.test('renders the config into tmpfs, drops privileges and runs the bridge', async (t) => {
  const s = scenario(t);
  const run = await runEntrypoint({ ...s.env, STANDIN_EXIT_AFTER_MS: '200', STANDIN_EXIT_CODE: '0' });
  t.equal(run.exitCode, 0, run.stderr);
  const config = JSON.parse(readFileSync(s.output, 'utf8'));
  t.equal(config.platforms.mattermost.bots.admin.token, s.items['op://stack/mattermost-admin/token']);
  t.equal(config.platforms.mattermost.bots.lal.token, s.items['op://stack/mattermost-lal/token'], '${VAR} inside a reference');
  t.equal(config.webhook.secret, s.items['op://stack/webhook/secret'], 'non-ASCII survives');
  const st = statSync(s.output);
  t.equal(st.mode & 0o777, 0o600, 'config is 0600');
  t.equal(st.uid, BRIDGE_UID, 'config is owned by the bridge user');
  t.same(filesUnder(s.tmpfs).map(([p]) => p), [s.output], 'nothing else is left on the tmpfs');
  const log = readFileSync(join(s.home, '.copilot-bridge', 'copilot-bridge.log'), 'utf8');
  t.match(log, /Loaded config .* with 2 bot/);
  assertNoSecrets(t, 'stdout', run.stdout, s.secrets());
  assertNoSecrets(t, 'stderr', run.stderr, s.secrets());
  assertNoSecrets(t, 'the bridge log', log, s.secrets());
});

t.test('the bridge user cannot read the token file', async (t) => {
  const s = scenario(t);
  const run = await runEntrypoint({ ...s.env, STANDIN_EXIT_AFTER_MS: '100' });
  t.equal(run.exitCode, 0, run.stderr);
  const probe = await execa(process.execPath, ['-e', `require('fs').readFileSync(${JSON.stringify(s.tokenFile)})`], { uid: BRIDGE_UID, gid: BRIDGE_UID, reject: false });
  t.not(probe.exitCode, 0);
  t.match(probe.stderr, /EACCES/);
});
