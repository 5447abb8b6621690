// A bridge's entry of the agents file, and its GitHub identity: the entrypoint
// fills the image's template with the entry's plain settings (channels,
// users, model), renders the bot token into the config and the GitHub token
// beside it, into COPILOT_GITHUB_TOKEN of the bridge alone: the Copilot CLI
// stand-in receives it, no file, no output and no process outside the
// bridge's tree holds it, and verify allows it there and nowhere else. A value
// taken from 1Password that the bridge logs (an id, say) is reported with the
// advice to take it from the agents file instead.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import t from 'tap';
import { assertNoSecrets, filesUnder } from '../support/no-secrets.js';
import { BRIDGE_UID, execa, runEntrypoint, scenario, startEntrypoint, waitForFile } from '../support/scenario.js';

const TEMPLATES = resolve(import.meta.dirname, '..', '..', 'templates');
const lal = {
  name: 'lal',
  botTokenItem: 'op://stack/mattermost-lal',
  githubTokenItem: 'op://stack/github-lal',
  persona: 'lal',
  channels: [{ id: 'lalchannel00000000000000aa', name: 'lal' }],
  users: ['ray'],
};
const items = () => ({
  'op://stack/mattermost-lal/token': `mm-lal-${Math.random().toString(36).slice(2)}x`,
  'op://stack/github-lal/token': `gh-lal-${Math.random().toString(36).slice(2)}y`,
});
const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');

t.test(
  "an agent's entry: the config from the image's template, the GitHub token in the bridge's environment alone",
  async (t) => {
    const s = scenario(t, { items: items() });
    const github = s.items['op://stack/github-lal/token']!;
    const env = {
      ...s.env,
      BRIDGE_CONFIG_TEMPLATE: join(TEMPLATES, 'agent.config.json.tpl'),
      BRIDGE_AGENT_ENTRY: JSON.stringify(lal),
      BRIDGE_SUPERVISE: '1',
    };
    const child = startEntrypoint(env);
    t.teardown(() => {
      child.kill('SIGTERM');
    });
    const worker = Number(await waitForFile(join(s.home, '.copilot-bridge', 'ready')));
    const cli = Number(await waitForFile(join(s.home, '.copilot-bridge', 'cli.pid')));
    const config = JSON.parse(readFileSync(s.output, 'utf8'));
    t.equal(
      config.platforms.mattermost.bots.lal.token,
      s.items['op://stack/mattermost-lal/token'],
      'the bot token, from 1Password, in the config',
    );
    t.same(
      config.channels.map((c: { id: string }) => c.id),
      ['lalchannel00000000000000aa'],
      'the channel from the entry: a plain setting',
    );
    t.same(config.platforms.mattermost.access.users, ['ray'], 'the users too');
    t.notMatch(readFileSync(s.output, 'utf8'), github, 'the GitHub token is not in the config');
    t.ok(
      environ(cli).includes(`COPILOT_GITHUB_TOKEN=${github}`),
      'the Copilot CLI stand-in received it as COPILOT_GITHUB_TOKEN',
    );
    t.ok(environ(worker).includes(`COPILOT_GITHUB_TOKEN=${github}`), 'through the bridge, whose tree it is');
    t.notOk(
      environ(child.pid!).some((entry) => entry.includes(github)),
      "the supervising entrypoint's own environment does not hold it",
    );
    const verify = await runEntrypoint({ ...env, COPILOT_BRIDGE_CONFIG: s.output }, ['verify']);
    t.equal(
      verify.exitCode,
      0,
      `verify allows it in the bridge's tree (${verify.stdout.trim() || verify.stderr.trim()})`,
    );
    // The same token in a process outside the bridge's tree is a leak.
    const outsider = execa('sleep', ['30'], {
      uid: BRIDGE_UID,
      gid: BRIDGE_UID,
      env: { COPILOT_GITHUB_TOKEN: github },
      extendEnv: false,
      reject: false,
    });
    t.teardown(() => {
      outsider.kill();
    });
    const caught = await runEntrypoint({ ...env, COPILOT_BRIDGE_CONFIG: s.output }, ['verify']);
    t.equal(caught.exitCode, 1, 'verify: the token outside the tree is a leak');
    t.match(
      caught.stdout,
      new RegExp(
        `leak: the environment of process ${outsider.pid} \\(sleep\\) holds the bridge's COPILOT_GITHUB_TOKEN \\(raw\\)`,
      ),
    );
    outsider.kill();
    await outsider;
    writeFileSync(join(s.home, '.copilot-bridge', 'copilot-bridge.log'), `debug: token ${github}\n`, { flag: 'a' });
    const logged = await runEntrypoint({ ...env, COPILOT_BRIDGE_CONFIG: s.output }, ['verify']);
    t.match(logged.stdout, /copilot-bridge\.log holds the bridge's COPILOT_GITHUB_TOKEN \(raw\)/, 'and in a log file');
    for (const run of [verify, caught, logged])
      assertNoSecrets(t, 'verify output', `${run.stdout}${run.stderr}`, s.secrets());
    child.kill('SIGTERM');
    const ended = await child;
    t.equal(ended.exitCode, 143);
    assertNoSecrets(t, "the entrypoint's output", `${ended.stdout}${ended.stderr}`, s.secrets());
    for (const [path, text] of filesUnder(s.tmpfs)) assertNoSecrets(t, path, text, s.secrets());
  },
);

t.test(
  "the admin's entry, by name from the agents file: the same, with the admin's template; a broken agent entry does not stop it",
  async (t) => {
    const s = scenario(t, { items: items() });
    const agentsFile = join(s.dir, 'agents.json');
    writeFileSync(
      agentsFile,
      JSON.stringify({
        admin: { ...lal, name: undefined },
        agents: [{ name: 'broken', botTokenItem: 'written-in-clear' }],
      }),
    );
    const env = {
      ...s.env,
      BRIDGE_CONFIG_TEMPLATE: join(TEMPLATES, 'config.json.tpl'),
      BRIDGE_AGENTS_FILE: agentsFile,
      BRIDGE_AGENT: 'admin',
      STANDIN_EXIT_AFTER_MS: '800',
      BRIDGE_SUPERVISE: '1',
    };
    const child = startEntrypoint(env);
    await waitForFile(join(s.home, '.copilot-bridge', 'ready'));
    const config = JSON.parse(readFileSync(s.output, 'utf8'));
    t.match(config, {
      platforms: {
        mattermost: { bots: { admin: { admin: true, token: s.items['op://stack/mattermost-lal/token'] } } },
      },
      channels: [{ bot: 'admin', id: 'lalchannel00000000000000aa' }],
    });
    const cli = Number(await waitForFile(join(s.home, '.copilot-bridge', 'cli.pid')));
    t.ok(
      environ(cli).includes(`COPILOT_GITHUB_TOKEN=${s.items['op://stack/github-lal/token']}`),
      "the admin's Copilot CLI has its GitHub token",
    );
    t.equal((await child).exitCode, 0);
  },
);

t.test('a value taken from 1Password that the bridge logs: verify names its path and gives the advice', async (t) => {
  // The old way: the channel id from 1Password. The stand-in logs channel ids, as the real bridge does.
  const channel = `chan${Math.random().toString(36).slice(2, 14)}0000`;
  const template = JSON.stringify({
    platforms: {
      mattermost: {
        url: 'http://mattermost:8065',
        bots: { admin: { token: '{{ op://stack/mattermost-admin/token }}', admin: true } },
      },
    },
    channels: [
      {
        id: '{{ op://stack/admin/channel-id }}',
        platform: 'mattermost',
        bot: 'admin',
        name: 'admin',
        workingDirectory: '/nonexistent/workspace',
      },
    ],
  });
  const s = scenario(t, {
    items: {
      'op://stack/mattermost-admin/token': `mm-admin-${Math.random().toString(36).slice(2)}z`,
      'op://stack/admin/channel-id': channel,
    },
    template,
  });
  const env = { ...s.env, BRIDGE_SUPERVISE: '1' };
  const child = startEntrypoint(env);
  t.teardown(() => {
    child.kill('SIGTERM');
  });
  await waitForFile(join(s.home, '.copilot-bridge', 'ready'));
  t.match(
    readFileSync(join(s.home, '.copilot-bridge', 'copilot-bridge.log'), 'utf8'),
    channel,
    'the bridge logged the channel id',
  );
  const verify = await runEntrypoint({ ...env, COPILOT_BRIDGE_CONFIG: s.output }, ['verify']);
  t.equal(verify.exitCode, 1, 'verify reports it');
  t.match(
    verify.stdout,
    /leak: .*copilot-bridge\.log holds \$\.channels\[0\]\.id \(raw\); treat the value as exposed \(rotate a secret\) and remove it from that log; a value that is no secret \(an id, a name\) belongs in the agents file, not in the vault or 1Password/,
  );
  assertNoSecrets(t, 'verify output', `${verify.stdout}${verify.stderr}`, s.secrets());
});

t.test('settings of the entry: each mistake one line and its exit code', async (t) => {
  const s = scenario(t, { items: items() });
  const agentsFile = join(s.dir, 'agents.json');
  writeFileSync(agentsFile, JSON.stringify({ agents: [lal] }));
  const cases: Array<[string, Record<string, string>, number, RegExp]> = [
    ['BRIDGE_AGENT without a file', { BRIDGE_AGENT: 'admin' }, 78, /settings: BRIDGE_AGENT needs BRIDGE_AGENTS_FILE/],
    [
      'a file without BRIDGE_AGENT',
      { BRIDGE_AGENTS_FILE: agentsFile },
      78,
      /settings: BRIDGE_AGENTS_FILE needs BRIDGE_AGENT/,
    ],
    [
      'no admin entry',
      { BRIDGE_AGENTS_FILE: agentsFile, BRIDGE_AGENT: 'admin' },
      78,
      /render: .*agents\.json has no "admin" entry; add one with the admin bot's items, channels and users/,
    ],
    [
      'an unknown agent',
      { BRIDGE_AGENTS_FILE: agentsFile, BRIDGE_AGENT: 'data' },
      64,
      /agents: no agent named data in the agents file; known: lal/,
    ],
    [
      'an entry that is not JSON',
      { BRIDGE_AGENT_ENTRY: '{nope' },
      78,
      /render: BRIDGE_AGENT_ENTRY is not JSON; the agent builder sets it/,
    ],
    [
      'an entry without a GitHub item',
      { BRIDGE_AGENT_ENTRY: JSON.stringify({ ...lal, githubTokenItem: undefined }) },
      78,
      /BRIDGE_AGENT_ENTRY\.githubTokenItem must be op:\/\/VAULT\/ITEM/,
    ],
    [
      'an entry whose GitHub item is not in the vault',
      { BRIDGE_AGENT_ENTRY: JSON.stringify({ ...lal, githubTokenItem: 'op://stack/nothing' }) },
      69,
      /render: op inject exited with status 1.*; check that these items and fields exist in 1Password and the service account may read their vault: .*op:\/\/stack\/nothing\/token.* \(from .*\(for lal\)\)/,
    ],
  ];
  for (const [what, extra, exit, message] of cases) {
    const run = await runEntrypoint({
      ...s.env,
      BRIDGE_CONFIG_TEMPLATE: join(TEMPLATES, 'agent.config.json.tpl'),
      ...extra,
    });
    t.equal(run.exitCode, exit, `${what}: exit ${exit} (${run.stderr.trim()})`);
    const lines = run.stderr.trim().split('\n');
    t.match(lines.at(-1), message, `${what}: says what is wrong`);
    assertNoSecrets(t, `${what}: stderr`, run.stderr, s.secrets());
  }
});
