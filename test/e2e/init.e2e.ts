// `npm run init` (the built host CLI) from nothing to a stack whose admin
// bridge logs in with the bot init made: the real compose.yml on a real
// engine, the Mattermost stand-in (its REST API for users, bots, tokens,
// teams and channels, as Mattermost answers it), and the op stand-in as the
// host's own 1Password sign-in (an account file in the sandbox's HOME). The
// service account the stack runs on sees the same vault: the test hands the
// items init stored to the op stand-in inside the image, as 1Password would.
// A second init makes nothing new. No token or password is in any output.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { fakeServiceAccountToken } from '../fixtures/tokens.js';
import { testHost } from '../support/e2e/host.js';
import { FIXTURES, ROOT } from '../support/e2e/paths.js';
import { COMPOSE_FILES, stackEnv, writeStandinInputs } from '../support/e2e/stack.js';
import { cli, sandbox } from '../support/host-seal/cli.js';
import { assertNoSecrets } from '../support/no-secrets.js';

t.setTimeout(15 * 60_000);

type Account = { email: string; vaults: Record<string, Array<{ title: string; fields: Record<string, string> }>> };

t.test(
  'init: from nothing to the admin bridge logged in with the bot init made; a second init makes nothing new',
  async (t) => {
    const { images, box, standins, project, port, tpm } = await testHost(t);
    // The example agents file, as a user copies it: every id and user a placeholder.
    const agentsFile = join(box.root, 'agents.json');
    copyFileSync(join(ROOT, 'agents.example.json'), agentsFile);
    // The host's own 1Password sign-in, with the admin's GitHub token in it (the agents' are left out on purpose).
    const github = 'ghtoken' + createHash('sha256').update(String(Math.random())).digest('hex').slice(0, 33);
    const accountFile = join(box.env.HOME!, '.config', 'op', 'fixture-account.json');
    mkdirSync(join(box.env.HOME!, '.config', 'op'), { recursive: true });
    writeFileSync(
      accountFile,
      JSON.stringify({
        email: 'ray@example.com',
        vaults: { 'copilot-bridge': [{ title: 'github-admin', fields: { token: github } }] },
      } satisfies Account),
      { mode: 0o600 },
    );
    const token = fakeServiceAccountToken();
    writeStandinInputs(standins, token, {}, 500); // the stand-in accepts the bots it makes itself; the vault is filled in after init
    const env = {
      ...box.env,
      PATH: `${join(FIXTURES, 'op')}:${box.env.PATH}`,
      TPM2TOOLS_TCTI: tpm.tcti,
      COMPOSE_FILE: COMPOSE_FILES.join(':'),
      COMPOSE_PROJECT_NAME: project,
      AGENTS_FILE: agentsFile,
      ...stackEnv(images, standins, port),
    };

    const init = await cli(['init', '--admin-user', 'ray'], { env, cwd: box.root });
    t.equal(init.exitCode, 0, `init succeeds (${String(init.stderr).trim().split('\n').slice(-4).join(' | ')})`);
    const said = String(init.stderr);
    t.match(said, /init: made:\n/, 'it lists what it made');
    t.match(
      said,
      /the system admin ray on the fresh Mattermost \(its login in op:\/\/copilot-bridge\/mattermost-admin\)/,
    );
    for (const bot of ['bridge-admin', 'bridge-lal', 'bridge-data']) t.match(said, `the bot ${bot}`, `${bot} made`);
    t.match(said, /an access token for bridge-admin, stored as op:\/\/copilot-bridge\/mattermost-admin-bot\/token/);
    t.match(said, /the private channel copilot\/admin/);
    t.match(
      said,
      /init: still to do:\n(.|\n)*a GitHub token for lal(.|\n)*a GitHub token for data(.|\n)*the stack's service-account token, sealed/,
      "and what is left: the agents' GitHub tokens and the seal",
    );
    t.notMatch(said, /a GitHub token for admin/, "the admin's GitHub token was there already");

    const account = JSON.parse(readFileSync(accountFile, 'utf8')) as Account;
    const items = Object.fromEntries(account.vaults['copilot-bridge']!.map((item) => [item.title, item.fields]));
    t.same(
      Object.keys(items).sort(),
      ['github-admin', 'mattermost-admin', 'mattermost-admin-bot', 'mattermost-data', 'mattermost-lal'],
      'the admin login and one token per bot are in 1Password',
    );
    t.match(items['mattermost-admin'], { username: 'ray', password: /^.{24,}$/ }, 'the admin login');
    const secrets = [
      github,
      items['mattermost-admin']!.password!,
      ...['mattermost-admin-bot', 'mattermost-lal', 'mattermost-data'].map((title) => items[title]!.token!),
    ];
    for (const secret of secrets) t.ok(secret.length >= 20, 'a real value was stored');
    assertNoSecrets(t, "init's output", `${init.stdout}${init.stderr}`, secrets);

    const filled = JSON.parse(readFileSync(agentsFile, 'utf8')) as {
      admin: { channels: Array<{ id: string }>; users: string[] };
      agents: Array<{ channels: Array<{ id: string }>; users: string[] }>;
    };
    t.notMatch(JSON.stringify(filled), /REPLACE-WITH-/, 'no placeholder is left in the agents file');
    for (const entry of [filled.admin, ...filled.agents]) {
      t.match(entry.channels[0]!.id, /^[a-z0-9]{26}$/, 'each channel id is the one Mattermost gave');
      t.same(entry.users, ['ray'], 'and the user who may talk to it');
    }
    t.notMatch(JSON.stringify(filled), new RegExp(secrets.join('|')), 'no secret in the agents file');

    const again = await cli(['init', '--admin-user', 'ray'], { env, cwd: box.root });
    t.equal(again.exitCode, 0, 'a second init succeeds');
    t.match(String(again.stderr), /init: nothing new: everything was there already/, 'and makes nothing new');
    t.equal(readFileSync(agentsFile, 'utf8'), JSON.stringify(filled, null, 2) + '\n', 'the agents file is unchanged');
    t.same(JSON.parse(readFileSync(accountFile, 'utf8')), account, '1Password is unchanged');
    assertNoSecrets(t, "the second init's output", `${again.stdout}${again.stderr}`, secrets);

    // What init left to do, then up: the admin bridge logs in with the bot token init made.
    writeStandinInputs(
      standins,
      token,
      {
        'op://copilot-bridge/mattermost-admin-bot/token': items['mattermost-admin-bot']!.token!,
        'op://copilot-bridge/github-admin/token': github,
      },
      500,
    );
    t.equal(
      (await cli(['seal'], { env, input: token, cwd: box.root })).exitCode,
      0,
      'the service-account token is sealed',
    );
    const up = await cli(['up', '--timeout', '240'], { env, cwd: box.root });
    t.equal(up.exitCode, 0, `up succeeds (${String(up.stderr).trim().split('\n').slice(-2).join(' | ')})`);
    const log = (await (await fetch(`http://127.0.0.1:${port}/__standin/auth-log`)).json()) as {
      events: Array<{ endpoint: string; ok: boolean; tokenSha256: string }>;
    };
    const bot = createHash('sha256').update(items['mattermost-admin-bot']!.token!).digest('hex');
    t.ok(
      log.events.some((e) => e.endpoint === 'users/me' && e.ok && e.tokenSha256 === bot),
      'the admin bridge logged in with the token init made for bridge-admin',
    );
    assertNoSecrets(t, "up's output", `${up.stdout}${up.stderr}`, [...secrets, token]);
    t.equal((await cli(['down'], { env, cwd: box.root })).exitCode, 0, 'down');
  },
);

t.test('init refuses what it cannot do, in one line each', async (t) => {
  const box = await sandbox(t);
  const agentsFile = join(box.root, 'agents.json');
  copyFileSync(join(ROOT, 'agents.example.json'), agentsFile);
  const env = {
    ...box.env,
    PATH: `${join(FIXTURES, 'op')}:${box.env.PATH}`,
    COMPOSE_FILE: COMPOSE_FILES.join(':'),
    AGENTS_FILE: agentsFile,
    E2E_POSTGRES_IMAGE: 'x',
    E2E_MATTERMOST_IMAGE: 'x',
    E2E_STANDIN_DIR: box.root,
    SECRETS_SOURCE: '1password',
  };
  const signedOut = await cli(['init'], { env, cwd: box.root });
  t.equal(signedOut.exitCode, 77, 'the host op not signed in: refused');
  t.match(
    signedOut.stderr.trim(),
    /^copilot-bridge-seal: init: the 1Password CLI is not signed in on this host: sign in \(eval \$\(op signin\), or turn on the 1Password app's CLI integration\), then run init again$/,
  );
  const noOp = await cli(['init'], { env: { ...env, PATH: '/usr/bin:/bin' }, cwd: box.root });
  t.equal(noOp.exitCode, 69, 'no op at all');
  t.match(noOp.stderr, /the 1Password CLI \(op\) does not run on this host; install it/);
  const badTeam = await cli(['init', '--team', 'Not A Team'], { env, cwd: box.root });
  t.equal(badTeam.exitCode, 64, 'a team name Mattermost would refuse');
  t.match(badTeam.stderr, /--team takes a team name: lower-case letters, digits and dashes/);
  writeFileSync(agentsFile, '{ "agents": [] }');
  const noAdmin = await cli(['init'], { env, cwd: box.root });
  t.equal(noAdmin.exitCode, 78, 'an agents file without the admin entry');
  t.match(noAdmin.stderr, /has no "admin" entry; start from agents\.example\.json/);
  for (const run of [signedOut, noOp, badTeam, noAdmin]) t.equal(run.stderr.trim().split('\n').length, 1, 'one line');
});
