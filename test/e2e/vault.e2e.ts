// The whole stack on the local vault, with no 1Password anywhere (no op on
// the host's PATH, no service-account token): the built host CLI, the real
// compose.yml on a real engine, the Mattermost and PostgreSQL stand-ins, a
// software TPM. init makes the bots and stores their tokens in the local
// vault, the GitHub tokens go in with `vault set`, up gives each bridge its
// own part of the vault; the admin bridge logs in with its bot, an agent
// started through the guard logs in with its own. Read as root inside each
// container, each secret file holds only that bridge's items. down wipes
// every released part. No value is in any output.
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { agentContainerName } from '../../src/contract.js';
import { fakeServiceAccountToken } from '../fixtures/tokens.js';
import { testHost } from '../support/e2e/host.js';
import { ROOT } from '../support/e2e/paths.js';
import { docker } from '../support/e2e/run.js';
import { COMPOSE_FILES, stackEnv, writeStandinInputs } from '../support/e2e/stack.js';
import { waitFor } from '../support/e2e/wait.js';
import { cli } from '../support/host-seal/cli.js';
import { assertNoSecrets } from '../support/no-secrets.js';

t.setTimeout(15 * 60_000);

type AuthLog = { events: Array<{ endpoint: string; ok: boolean; tokenSha256: string }> };
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

t.test(
  'the stack on the local vault: init, vault set, up; the admin and an agent log in with their own bots, each holding only its own items; down wipes every part',
  async (t) => {
    const { images, box, standins, project, port, tpm } = await testHost(t);
    const agentsFile = join(box.root, 'agents.json');
    copyFileSync(join(ROOT, 'agents.example.json'), agentsFile);
    writeStandinInputs(standins, fakeServiceAccountToken(), {}, 500); // the stand-in accepts the bots it makes itself
    const env = {
      ...box.env,
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', // no op stand-in: nothing of 1Password on this host
      TPM2TOOLS_TCTI: tpm.tcti,
      COMPOSE_FILE: COMPOSE_FILES.join(':'),
      COMPOSE_PROJECT_NAME: project,
      AGENTS_FILE: agentsFile,
      ...stackEnv(images, standins, port),
      SECRETS_SOURCE: 'vault',
    };
    const outputs: string[] = [];
    const run = async (args: string[], input?: string) => {
      const result = await cli(args, { env, cwd: box.root, ...(input === undefined ? {} : { input }) });
      outputs.push(`${result.stdout}${result.stderr}`);
      return result;
    };

    const init = await run(['init', '--admin-user', 'ray']);
    t.equal(
      init.exitCode,
      0,
      `init succeeds without 1Password (${init.stderr.trim().split('\n').slice(-3).join(' | ')})`,
    );
    t.match(init.stderr, /an access token for bridge-admin, stored as the local vault's mattermost-admin-bot\/token/);
    t.match(
      init.stderr,
      /the system admin ray on the fresh Mattermost \(its login in the local vault's mattermost-admin\)/,
    );
    t.match(
      init.stderr,
      /still to do:\n(.|\n)*a GitHub token for admin \(fine-grained, Copilot access only\): npm run vault -- set github-admin\/token/,
      'what is left, as commands',
    );
    t.notMatch(init.stderr, /service-account token/, 'no 1Password step is asked for');

    const github = {
      admin: `gh-admin-${randomBytes(16).toString('hex')}`,
      lal: `gh-lal-${randomBytes(16).toString('hex')}`,
    };
    for (const [who, value] of Object.entries(github))
      t.equal(
        (await run(['vault', 'set', `github-${who}/token`], `${value}\n`)).exitCode,
        0,
        `the GitHub token of ${who} stored`,
      );
    const ls = await run(['vault', 'ls']);
    t.same(
      ls.stdout.split('\n'),
      [
        'github-admin/token',
        'github-lal/token',
        'mattermost-admin-bot/token',
        'mattermost-admin/password',
        'mattermost-admin/username',
        'mattermost-data/token',
        'mattermost-lal/token',
      ],
      'the vault: the bots init made, the admin login, the GitHub tokens',
    );
    const again = await run(['init', '--admin-user', 'ray']);
    t.match(again.stderr, /init: nothing new: everything was there already/, 'a second init makes nothing new');

    const up = await run(['up', '--timeout', '240']);
    t.equal(up.exitCode, 0, `up succeeds (${up.stderr.trim().split('\n').slice(-2).join(' | ')})`);
    t.match(up.stderr, /up: released vault-admin \(2 item\(s\) of the local vault for admin\)/);
    t.match(up.stderr, /up: released vault-agent-lal \(2 item\(s\) of the local vault for lal\)/);
    t.match(
      up.stderr,
      /up: warning: agent data: the local vault holds no github-data\/token/,
      'data, without its GitHub token, is named and left out',
    );

    // The values, learned from the sealed vault by the test (the host user may read it: unseal into a pipe).
    const unsealed = await cli(['unseal', '--name', 'vault'], { env });
    const vault = (JSON.parse(unsealed.stdout) as { items: Record<string, string> }).items;
    const secrets = Object.entries(vault)
      .filter(([key]) => key !== 'mattermost-admin/username')
      .map(([, value]) => value); // the admin's user name is no secret
    t.equal(vault['github-admin/token'], github.admin, 'the vault holds what was set');

    const authLog = async () =>
      ((await (await fetch(`http://127.0.0.1:${port}/__standin/auth-log`)).json()) as AuthLog).events;
    const loggedIn = async (token: string) =>
      (await authLog()).some((e) => e.endpoint === 'users/me' && e.ok && e.tokenSha256 === sha256(token));
    t.ok(
      await loggedIn(vault['mattermost-admin-bot/token']!),
      'the admin bridge logged in with the bot token init made for it',
    );

    const agentUp = await run(['compose', 'exec', '-T', '-u', 'bridge', 'copilot-bridge', 'agent', 'up', 'lal']);
    t.equal(agentUp.exitCode, 0, `agent up lal through the guard (${agentUp.stderr.trim().split('\n').at(-1)})`);
    await waitFor('lal to log in with its own bot', () => loggedIn(vault['mattermost-lal/token']!), {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    t.pass('the agent lal logged in with its own bot token');
    const dataUp = await run(['compose', 'exec', '-T', '-u', 'bridge', 'copilot-bridge', 'agent', 'up', 'data']);
    t.equal(dataUp.exitCode, 66, 'data, whose part was not released, is refused');
    t.match(dataUp.stderr, /the local vault was not released for data: put its items in the vault/);

    // Least privilege, read as root inside each container.
    const admin = (
      await docker([
        'ps',
        '-q',
        '--filter',
        `label=com.docker.compose.project=${project}`,
        '--filter',
        'label=com.docker.compose.service=copilot-bridge',
      ])
    ).trim();
    const held = async (container: string) =>
      Object.keys(
        (
          JSON.parse(await docker(['exec', '-u', '0', container, 'cat', '/run/secrets/op_sa_token'])) as {
            items: Record<string, string>;
          }
        ).items,
      ).sort();
    t.same(
      await held(admin),
      ['github-admin/token', 'mattermost-admin-bot/token'],
      "the admin's secret holds the admin's items only: no agent's token, no admin login",
    );
    t.same(
      await held(agentContainerName(project, 'lal')),
      ['github-lal/token', 'mattermost-lal/token'],
      "lal's holds lal's only",
    );

    const releaseDir = join(box.runtime, 'copilot-bridge-stack');
    t.same(readdirSync(releaseDir).sort(), ['vault-admin', 'vault-agent-lal'], 'released: the two parts, nothing else');
    const status = await run(['status']);
    t.match(status.stdout, /^secrets source: vault/, 'status names the source');
    t.match(
      status.stdout,
      /^vault\s+tpm2\s.*in parts: vault-admin, vault-agent-lal in /m,
      'and where the vault is released, in parts',
    );

    // An item removed: the next up wipes the part it released before, so no container starts on it again.
    t.equal((await run(['vault', 'rm', 'github-lal/token'])).exitCode, 0);
    const upAgain = await run(['up', '--timeout', '240']);
    t.equal(upAgain.exitCode, 0, `up again (${upAgain.stderr.trim().split('\n').at(-1)})`);
    t.match(upAgain.stderr, /up: wiped vault-agent-lal, released before and not now/);
    t.same(readdirSync(releaseDir), ['vault-admin'], "lal's old part is gone");
    const down = await run(['down']);
    t.equal(down.exitCode, 0, `down (${down.stderr.trim().split('\n').at(-1)})`);
    t.match(down.stderr, /overwrote and removed 1 released token file\(s\)/);
    t.notOk(existsSync(releaseDir) && readdirSync(releaseDir).length > 0, 'every released part is wiped');
    for (const [i, text] of outputs.entries()) assertNoSecrets(t, `output #${i}`, text, secrets);
  },
);
