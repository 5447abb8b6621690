// Every step of the entrypoint fails closed: for each bad input, the exit
// status, a one-line message that says what was wrong and what to do, no
// config left behind, and no secret in anything it printed.
import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { awkwardItems, standardItems, type VaultBehaviour } from '../fixtures/vault.js';
import { assertNoSecrets, filesUnder } from '../support/no-secrets.js';
import { CLEAN_ENV, ENTRYPOINT_ARGV, execa, type Scenario, scenario, useLocalVault } from '../support/scenario.js';

interface Case {
  name: string;
  exit: number;
  message: RegExp;
  items?: Record<string, string>;
  template?: string;
  behaviour?: VaultBehaviour;
  /** Changes the stage; returns extra environment, arguments, a command prefix, and extra secrets to look for. */
  setup?: (s: Scenario) => Promise<Partial<Prepared>> | Partial<Prepared>;
}

interface Prepared {
  env: Record<string, string>;
  args: string[];
  prefix: string[];
  secrets: string[];
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const b64 = (text: string) => Buffer.from(text).toString('base64');
const jsonTemplate = (body: string) =>
  `{ "platforms": { "mattermost": { "url": "http://mattermost:8065" } }, ${body} }`;

const cases: Case[] = [
  // 1. The token file.
  {
    name: 'token file missing',
    exit: 66,
    message: /token: .*does not exist; run `npm run seal` then `npm run up`/,
    setup: (s) => (rmSync(s.tokenFile), {}),
  },
  {
    name: 'token file empty',
    exit: 65,
    message: /token: .* is empty; seal it again with `npm run seal`/,
    setup: (s) => (writeFileSync(s.tokenFile, '\n'), {}),
  },
  {
    name: 'token file is a directory',
    exit: 66,
    message: /token: .* is not a regular file/,
    setup: (s) => (rmSync(s.tokenFile), mkdirSync(s.tokenFile), {}),
  },
  {
    name: 'token file is a symlink out of /run/secrets',
    exit: 77,
    message: /token: .* is a symlink that leads out of \/run\/secrets\//,
    setup: (s) => {
      const link = join(s.dir, 'secrets', 'link');
      symlinkSync(s.tokenFile, link);
      return { env: { OP_SERVICE_ACCOUNT_TOKEN_FILE: link } };
    },
  },
  {
    name: 'token file unreadable',
    exit: 77,
    message:
      /token: .* is not readable by uid 0; release it owned by root \(`npm run up` run as root does\): root in the container reads it with no capability/,
    setup: (s) => (
      chmodSync(s.tokenFile, 0o000), { prefix: ['setpriv', '--bounding-set', '-dac_override,-dac_read_search', '--'] }
    ),
  },
  {
    name: 'token of the wrong kind',
    exit: 65,
    message: /token: the token does not start with 'ops_'; expected a 1Password service-account token/,
    setup: (s) => {
      const wrong = `ghp_${'x'.repeat(20)}${Date.now()}`;
      writeFileSync(s.tokenFile, wrong);
      return { secrets: [wrong] };
    },
  },
  {
    name: 'token body not JSON',
    exit: 65,
    message: /token: the token body does not decode to JSON; expected/,
    setup: (s) => {
      const wrong = `ops_${Buffer.from(`not json at all ${'y'.repeat(80)}`).toString('base64url')}`;
      writeFileSync(s.tokenFile, wrong);
      return { secrets: [wrong] };
    },
  },
  {
    name: 'token with two trailing newlines',
    exit: 65,
    message: /token: the token ends with whitespace/,
    setup: (s) => (writeFileSync(s.tokenFile, `${s.token}\n\n`), {}),
  },
  // 2. The environment.
  // 1b. The local vault (SECRETS_SOURCE=vault): the file must hold what the setting says, never guessed.
  {
    name: 'the local vault, but the file holds a token',
    exit: 65,
    message:
      /token: .* is not a local vault \(not JSON\); it holds something else \(a service-account token\?\): check SECRETS_SOURCE/,
    setup: () => ({ env: { BRIDGE_SECRETS_SOURCE: 'vault' } }),
  },
  {
    name: '1Password, but the file holds a local vault',
    exit: 65,
    message:
      /token: .* holds a document, not a service-account token \(a part of the local vault\?\): BRIDGE_SECRETS_SOURCE is 1password; check SECRETS_SOURCE/,
    setup: (s) => (useLocalVault(s), {}),
  },
  {
    name: 'an unknown source',
    exit: 78,
    message: /settings: BRIDGE_SECRETS_SOURCE must be 1password or vault/,
    setup: () => ({ env: { BRIDGE_SECRETS_SOURCE: 'keepass' } }),
  },
  {
    name: 'a local vault of another format',
    exit: 65,
    message: /token: .* is not a local vault of format copilot-bridge-stack\/vault\/1/,
    setup: (s) => (
      writeFileSync(s.tokenFile, '{"format":"x","items":{}}'), { env: { BRIDGE_SECRETS_SOURCE: 'vault' } }
    ),
  },
  {
    name: 'a local vault with an empty value',
    exit: 65,
    message: /token: the value for db\/url is empty/,
    setup: (s) => ({ env: useLocalVault(s, { ...s.items, 'op://stack/db/url': '' }) }),
  },
  {
    name: 'a local vault without an item the template names',
    exit: 66,
    message:
      /render: the local vault given to this container holds no db\/url \(op:\/\/stack\/db\/url\); on the host: npm run vault -- set ITEM\/FIELD, then npm run up/,
    setup: (s) => ({
      env: useLocalVault(s, Object.fromEntries(Object.entries(s.items).filter(([ref]) => !ref.endsWith('/db/url')))),
    }),
  },
  {
    name: 'a value of the local vault in the environment',
    exit: 77,
    message: /environment: the environment variable APP_HOOK holds the local vault's webhook\/secret/,
    setup: (s) => ({ env: { ...useLocalVault(s), APP_HOOK: s.items['op://stack/webhook/secret']! } }),
  },
  {
    name: 'a local vault reference with options',
    exit: 78,
    message: /render: op:\/\/stack\/db\/url\?attribute=otp is not a reference the local vault can resolve/,
    template: jsonTemplate('"x": "{{ op://stack/db/url?attribute=otp }}"'),
    setup: (s) => ({ env: useLocalVault(s) }),
  },
  {
    name: 'OP_SERVICE_ACCOUNT_TOKEN in the environment',
    exit: 77,
    message: /environment: OP_SERVICE_ACCOUNT_TOKEN is set in the environment; remove it/,
    setup: (s) => ({ env: { OP_SERVICE_ACCOUNT_TOKEN: s.token } }),
  },
  {
    name: 'OP_CONNECT_HOST in the environment',
    exit: 77,
    message: /environment: OP_CONNECT_HOST is set/,
    setup: () => ({ env: { OP_CONNECT_HOST: 'http://connect:8080' } }),
  },
  {
    name: 'OP_CONNECT_TOKEN in the environment',
    exit: 77,
    message: /environment: OP_CONNECT_TOKEN is set/,
    setup: () => ({ env: { OP_CONNECT_TOKEN: 'connect-token-value' } }),
  },
  {
    name: 'OP_SESSION_* in the environment',
    exit: 77,
    message: /environment: OP_SESSION_team is set/,
    setup: () => ({ env: { OP_SESSION_team: 'session-value-1234' } }),
  },
  {
    name: 'the token base64-encoded in another variable',
    exit: 77,
    message: /environment: the environment variable APP_BLOB holds the service-account token/,
    setup: (s) => ({ env: { APP_BLOB: `x${b64(s.token)}` } }),
  },
  // 3. The output's file system.
  {
    name: 'output not on tmpfs',
    exit: 77,
    message: /output: .* is not on tmpfs or ramfs \(file system type 0x[0-9a-f]+\); mount a tmpfs/,
    setup: (s) => ({ env: { BRIDGE_CONFIG_OUT: join(s.dir, 'config.json') } }),
  },
  {
    name: 'output directory missing',
    exit: 73,
    message: /output: the directory of .* cannot be inspected \(ENOENT\)/,
    setup: (s) => ({ env: { BRIDGE_CONFIG_OUT: join(s.tmpfs, 'nope', 'config.json') } }),
  },
  // 4. Rendering.
  {
    name: 'a template reference naming the token variable',
    exit: 65,
    message:
      /render: a reference in .* uses \$\{OP_SERVICE_ACCOUNT_TOKEN\}: op's own settings and credentials \(OP_\*\), PATH and HOME cannot be part of a reference/,
    template: jsonTemplate('"x": "{{ op://${OP_SERVICE_ACCOUNT_TOKEN}/item/field }}"'),
  },
  {
    name: 'a template reference naming PATH',
    exit: 65,
    message: /render: a reference in .* uses \$\{PATH\}/,
    template: jsonTemplate('"x": "{{ op://stack/${PATH}/field }}"'),
  },
  {
    name: 'unresolved reference',
    exit: 69,
    message:
      /render: op inject exited with status 1.*; check that these items and fields exist in 1Password and the service account may read their vault: op:\/\/stack\/missing\/field \(from /,
    template: jsonTemplate('"x": "{{ op://stack/missing/field }}"'),
  },
  {
    name: 'op refuses the token and quotes it in its error',
    exit: 69,
    message: /render: op inject exited with status 1 \(op said: .*authentication failed for token <redacted>\)/,
    behaviour: { reject: true, echoToken: true },
  },
  {
    name: 'op hangs',
    exit: 69,
    message: /render: op inject did not finish within 1 s/,
    behaviour: { delayMs: 5000 },
    setup: () => ({ env: { BRIDGE_OP_TIMEOUT: '1' } }),
  },
  {
    name: 'template missing',
    exit: 66,
    message: /render: cannot read the template .* \(ENOENT\); set BRIDGE_CONFIG_TEMPLATE/,
    setup: (s) => (rmSync(s.template), {}),
  },
  // 5. Validation.
  {
    name: 'secret with a quote inside a JSON string',
    exit: 65,
    message:
      /render: the secret at \$\.awkward\.quote contains a quote, backslash or control character that breaks the JSON/,
    items: { ...standardItems(), ...awkwardItems() },
    template: jsonTemplate('"awkward": { "quote": "{{ op://stack/awkward/quote }}" }'),
  },
  {
    name: 'secret with a backslash inside a JSON string',
    exit: 65,
    message: /render: the secret at \$\.awkward\.list\[1\] contains/,
    items: { ...standardItems(), ...awkwardItems() },
    template: jsonTemplate('"awkward": { "list": ["a", "{{ op://stack/awkward/backslash }}"] }'),
  },
  {
    name: 'multi-line secret inside a JSON string',
    exit: 65,
    message: /render: the secret at \$\["odd key"\]\.pem contains/,
    items: { ...standardItems(), ...awkwardItems() },
    template: jsonTemplate('"odd key": { "pem": "{{ op://stack/awkward/multiline }}" }'),
  },
  {
    name: 'a non-op placeholder left over',
    exit: 65,
    message: /render: the rendered config still contains '\{\{' at line 1/,
    template: jsonTemplate('"x": "{{ op://stack/db/url }}", "y": "{{ name }}"'),
  },
  { name: 'empty template', exit: 65, message: /render: op inject exited 0 but produced no output/, template: '' },
  {
    name: 'template that is not JSON',
    exit: 65,
    message: /render: the rendered config is not valid JSON/,
    template: '{ "x": "{{ op://stack/db/url }}", }',
  },
  // 6. The leak check.
  {
    name: 'a rendered secret in the bridge environment',
    exit: 77,
    message: /leak-check: the environment variable GITHUB_TOKEN holds \$\.github\.token \(raw\); refusing to start/,
    setup: (s) => ({ env: { GITHUB_TOKEN: s.items['op://stack/copilot/github-token']! } }),
  },
  {
    name: 'a rendered secret URL-encoded in the environment',
    exit: 77,
    message: /leak-check: the environment variable DSN holds \$\.database \(url\)/,
    setup: (s) => ({ env: { DSN: `x=${encodeURIComponent(s.items['op://stack/db/url']!)}` } }),
  },
  {
    name: 'a rendered secret in the arguments',
    exit: 77,
    message: /leak-check: argument 3 of the command holds \$\.platforms\.mattermost\.bots\.admin\.token/,
    setup: (s) => ({ args: ['copilot-bridge', 'start', '--token', s.items['op://stack/mattermost-admin/token']!] }),
  },
  // 7. Privileges.
  {
    name: 'run-as user unknown',
    exit: 78,
    message: /privileges: BRIDGE_RUN_AS=no-such-user is not a user in \/etc\/passwd/,
    setup: () => ({ env: { BRIDGE_RUN_AS: 'no-such-user' } }),
  },
  {
    name: 'run-as root',
    exit: 78,
    message: /privileges: BRIDGE_RUN_AS=0:0 is root/,
    setup: () => ({ env: { BRIDGE_RUN_AS: '0:0' } }),
  },
  {
    name: 'token file readable by the bridge user',
    exit: 77,
    message: /privileges: uid 65534 can still read .*; release it readable by root only/,
    setup: (s) => (chmodSync(s.tokenFile, 0o644), {}),
  },
  {
    name: 'started as an unprivileged user',
    exit: 77,
    message: /privileges: started as uid 65534, not root: the bridge would be able to read/,
    setup: (s) => {
      chmodSync(s.tmpfs, 0o1777);
      return {
        prefix: [
          'setpriv',
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          '--inh-caps=+dac_read_search',
          '--ambient-caps=+dac_read_search',
          '--',
        ],
        env: { BRIDGE_RUN_AS: '' },
      };
    },
  },
  // 8. Waiting.
  {
    name: 'wait-for URL not http',
    exit: 78,
    message: /settings: BRIDGE_WAIT_FOR must be a list of http\(s\) URLs/,
    setup: () => ({ env: { BRIDGE_WAIT_FOR: 'ftp://mattermost/' } }),
  },
  {
    name: 'wait-for URL never answers',
    exit: 69,
    message:
      /wait: http:\/\/127\.0\.0\.1:\d+\/api\/v4\/system\/ping did not answer 2xx within 1 s \(last: ECONNREFUSED\); check that it runs, or raise BRIDGE_WAIT_TIMEOUT/,
    setup: async () => ({
      env: {
        BRIDGE_WAIT_FOR: `http://user:pw@127.0.0.1:${await closedPort()}/api/v4/system/ping`,
        BRIDGE_WAIT_TIMEOUT: '1',
      },
    }),
  },
  // 9. The command.
  {
    name: 'command not found',
    exit: 127,
    message: /exec: no-such-bridge was not found on PATH/,
    setup: () => ({ args: ['no-such-bridge'] }),
  },
  {
    name: 'command not executable',
    exit: 126,
    message: /exec: .*not-executable is not executable/,
    setup: (s) => {
      const file = join(s.dir, 'not-executable');
      writeFileSync(file, '#!/bin/sh\n', { mode: 0o644 });
      return { args: [file] };
    },
  },
  // Settings and usage.
  {
    name: 'BRIDGE_SUPERVISE not a flag',
    exit: 78,
    message: /settings: BRIDGE_SUPERVISE must be 1 or 0/,
    setup: () => ({ env: { BRIDGE_SUPERVISE: 'maybe' } }),
  },
  {
    name: 'relative output path',
    exit: 78,
    message: /settings: BRIDGE_CONFIG_OUT must be an absolute path/,
    setup: () => ({ env: { BRIDGE_CONFIG_OUT: 'config.json' } }),
  },
  {
    name: 'verify with arguments',
    exit: 64,
    message: /verify takes no arguments; usage: copilot-bridge-entrypoint/,
    setup: () => ({ args: ['verify', 'now'] }),
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const s = scenario(t, { items: c.items, template: c.template, behaviour: c.behaviour });
    const prepared: Prepared = { env: {}, args: [], prefix: [], secrets: [], ...(await c.setup?.(s)) };
    const env = { ...s.env, ...prepared.env };
    const argv = [...prepared.prefix, CLEAN_ENV, ...ENTRYPOINT_ARGV, ...prepared.args];
    const run = await execa(argv[0]!, argv.slice(1), {
      env,
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
      timeout: 30_000,
    });
    t.equal(run.exitCode, c.exit, `exit status (stderr: ${run.stderr})`);
    if (process.env.DEBUG_REFUSALS) t.comment(run.stderr);
    const lines = run.stderr.split('\n').filter(Boolean);
    t.match(lines.at(-1), c.message, 'the last line says what was wrong and what to do');
    t.match(lines.at(-1), /^copilot-bridge-entrypoint: /);
    t.equal(run.stdout, '', 'nothing on stdout');
    t.same(
      filesUnder(s.tmpfs).map(([p]) => p),
      [],
      'no config or temp file left on the tmpfs',
    );
    const secrets = [...s.secrets(), ...prepared.secrets];
    assertNoSecrets(t, 'stderr', run.stderr, secrets);
    assertNoSecrets(t, 'stdout', run.stdout, secrets);
    for (const [path, text] of filesUnder(s.home)) assertNoSecrets(t, path, text, secrets);
  });
}
