// compose.yml and .env.example, without a Docker engine: every variable the
// compose file reads is documented in .env.example, Compose (v2, else v1)
// renders the file with those defaults, and it refuses to run without the
// released token file, with the message that says what to do. The rendered
// default stack runs Mattermost's current ESR as its image ships it (no
// entrypoint, command or healthcheck test of ours, none of which its
// distroless image could run), and its database has no network, no password
// and one way in: the socket volume postgres and mattermost alone mount.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { findCompose } from '../../host-seal/stack/compose.js';
import { ROOT } from '../support/e2e/paths.js';
import { attempt, childEnv } from '../support/e2e/run.js';

const composeFile = readFileSync(join(ROOT, 'compose.yml'), 'utf8');
const envExample = readFileSync(join(ROOT, '.env.example'), 'utf8');

t.test('every variable of compose.yml is in .env.example', async (t) => {
  const used = new Set([...composeFile.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]!));
  const documented = new Set([...envExample.matchAll(/^#?\s*([A-Z0-9_]+)=/gm)].map((m) => m[1]!));
  t.ok(used.size >= 10, `compose.yml reads ${used.size} variables`);
  for (const name of used) t.ok(documented.has(name), `${name} is documented in .env.example`);
});

t.test(
  'Compose renders it with the defaults of .env.example, and refuses to run without the released token',
  async (t) => {
    const tool = await findCompose(childEnv()).catch(() => undefined);
    if (!tool) {
      t.comment('skipped: no Docker Compose here (scripts/install-test-deps.sh installs docker-compose)');
      return;
    }
    // Only these two come from the caller; one of ours set in this shell must not leak in.
    const compose = (extra: Record<string, string>) =>
      attempt(
        tool.file,
        [...tool.prefix, '--env-file', join(ROOT, '.env.example'), '-f', join(ROOT, 'compose.yml'), 'config'],
        {
          env: { OP_SA_TOKEN_FILE: undefined, MM_IMAGE: undefined, ...extra },
          cwd: ROOT,
        },
      );
    const rendered = await compose({ OP_SA_TOKEN_FILE: '/dev/null' });
    t.equal(rendered.exitCode, 0, `${tool.label} config succeeds (${rendered.stderr.split('\n')[0]})`);
    t.match(rendered.stdout, /read_only: true/, 'the bridge is read-only');
    t.match(rendered.stdout, /BRIDGE_SUPERVISE: "1"|BRIDGE_SUPERVISE: '1'/, 'and supervised');
    const withoutToken = await compose({});
    t.not(withoutToken.exitCode, 0, 'without OP_SA_TOKEN_FILE it fails');
    t.match(withoutToken.stderr, /run npm run seal, then npm run up/, 'and says what to do');

    type Service = {
      image?: string;
      entrypoint?: unknown;
      command?: unknown;
      user?: string;
      healthcheck?: { test?: unknown; interval?: string };
      environment?: Record<string, string>;
      volumes?: Array<string | { type: string; source: string; target: string; read_only?: boolean }>;
      networks?: unknown;
      network_mode?: string;
      ports?: unknown;
      secrets?: unknown;
    };
    const config = parse(rendered.stdout) as {
      services: Record<string, Service>;
      secrets?: Record<string, unknown>;
      volumes?: Record<string, unknown>;
    };
    const mattermost = config.services.mattermost!;
    t.equal(
      mattermost.image,
      'mattermost/mattermost-team-edition:11.7.15',
      'Mattermost defaults to the current Extended Support Release, 11.7',
    );
    t.equal(
      mattermost.entrypoint,
      undefined,
      "Mattermost keeps its image's entrypoint (there is no shell to wrap it in)",
    );
    t.equal(mattermost.command, undefined, "and its command (since 10.11 the image's own starts the server)");
    t.equal(mattermost.user, undefined, "and its user (mmctl panics under a uid its image's passwd lacks)");
    t.ok(mattermost.healthcheck, 'its healthcheck timing is set');
    t.equal(mattermost.healthcheck?.test, undefined, "but not its test: the image's own, mmctl system status --local");
    for (const [name, service] of Object.entries(config.services)) {
      const commands = JSON.stringify([service.entrypoint, service.command, service.healthcheck?.test]);
      if (name === 'mattermost' || name === 'postgres')
        t.notMatch(commands, /\/bin\/sh|CMD-SHELL|curl|wget|\bcat\b/, `${name} runs no shell, curl or cat of ours`);
      t.notMatch(
        JSON.stringify(service.environment ?? {}),
        /PASSWORD/i,
        `${name}: no password variable in its environment`,
      );
    }
    t.same(
      Object.keys(config.secrets ?? {}),
      ['op_sa_token'],
      'the one secret of the stack is the token: no database password',
    );
    const dsn = new URL(mattermost.environment!.MM_SQLSETTINGS_DATASOURCE!);
    t.same(
      [
        dsn.username,
        dsn.password,
        dsn.hostname,
        dsn.searchParams.get('user'),
        dsn.searchParams.get('password'),
        dsn.searchParams.get('host'),
        dsn.searchParams.get('sslmode'),
      ],
      ['', '', '', 'mmuser', null, '/var/run/postgresql', 'disable'],
      'the data source names a socket directory and holds no password',
    );
    const postgres = config.services.postgres!;
    t.equal(postgres.network_mode, 'none', 'postgres has no network');
    t.equal(postgres.ports, undefined, 'and publishes nothing');
    t.match(JSON.stringify(postgres.command), /"listen_addresses="/, 'and listens on no TCP address');
    t.match(
      JSON.stringify(postgres.command),
      /"hba_file=\/etc\/copilot-bridge-stack\/pg_hba\.conf"/,
      "with the stack's pg_hba.conf",
    );
    const socketMounts = Object.entries(config.services)
      .flatMap(([name, service]) =>
        (service.volumes ?? [])
          .filter((v) => (typeof v === 'string' ? v.startsWith('postgres-socket:') : v.source === 'postgres-socket'))
          .map((v) => [name, typeof v === 'string' ? v.endsWith(':ro') : Boolean(v.read_only)]),
      )
      .sort();
    t.same(
      socketMounts,
      [
        ['postgres', false],
        ['mattermost', true],
      ].sort(),
      'the socket volume: postgres, and mattermost read-only, nobody else',
    );
  },
);

t.test('MM_IMAGE picks the Mattermost release', async (t) => {
  const tool = await findCompose(childEnv()).catch(() => undefined);
  if (!tool) {
    t.comment('skipped: no Docker Compose here (scripts/install-test-deps.sh installs docker-compose)');
    return;
  }
  const rendered = await attempt(tool.file, [...tool.prefix, '-f', join(ROOT, 'compose.yml'), 'config'], {
    env: { OP_SA_TOKEN_FILE: '/dev/null', MM_IMAGE: 'mattermost/mattermost-team-edition:12.4.0' },
    cwd: ROOT,
  });
  t.equal(rendered.exitCode, 0, rendered.stderr);
  t.equal(
    (parse(rendered.stdout) as { services: { mattermost: { image: string } } }).services.mattermost.image,
    'mattermost/mattermost-team-edition:12.4.0',
  );
});

t.test("the host commands' defaults are compose.yml's own", async (t) => {
  const { COMPOSE_DEFAULTS } = await import('../../src/stack/settings.js');
  for (const [name, value] of Object.entries(COMPOSE_DEFAULTS)) {
    const uses = [...composeFile.matchAll(new RegExp(`\\$\\{${name}:-([^}]*)\\}`, 'g'))].map((m) => m[1]);
    t.ok(uses.length > 0, `compose.yml gives ${name} a default`);
    t.same([...new Set(uses)], [value], `${name}: the same default everywhere, and the host's (${value})`);
  }
});

t.test("compose.yml, the Dockerfile and .env.example use the contract's values (src/contract.ts)", async (t) => {
  const contract = await import('../../src/contract.js');
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const model = parse(composeFile) as {
    services: Record<string, { environment?: Record<string, string>; volumes?: string[]; secrets?: string[] }>;
    secrets: Record<string, unknown>;
  };
  const bridge = model.services['copilot-bridge']!;
  t.equal(
    bridge.environment?.OP_SERVICE_ACCOUNT_TOKEN_FILE,
    contract.TOKEN_TARGET,
    "compose.yml: the admin's credential where every bridge reads it",
  );
  t.same(bridge.secrets, [contract.TOKEN_TARGET.replace('/run/secrets/', '')], 'compose.yml: the secret of that name');
  t.ok(model.secrets[contract.TOKEN_TARGET.replace('/run/secrets/', '')], 'compose.yml: declared');
  t.match(dockerfile, `OP_SERVICE_ACCOUNT_TOKEN_FILE=${contract.TOKEN_TARGET}`, 'the Dockerfile: the same default');
  t.equal(
    bridge.environment?.BRIDGE_WAIT_FOR,
    contract.MATTERMOST_PING,
    'compose.yml: the admin waits for the ping agents wait for',
  );
  t.ok(
    bridge.volumes?.includes(`bridge-home:${contract.BRIDGE_HOME}`),
    "compose.yml: the admin's home where agents have theirs",
  );
  t.match(dockerfile, `--home-dir ${contract.BRIDGE_HOME}`, "the Dockerfile: the bridge user's home");
  const admin = parse(composeFile).services['copilot-bridge'] as { cap_add: string[]; cap_drop: string[] };
  t.same(admin.cap_drop, ['ALL'], 'compose.yml: the admin drops every capability...');
  t.same(
    [...admin.cap_add].sort(),
    [...contract.BRIDGE_CAPABILITIES, 'KILL'].sort(),
    "...and adds back the bridges' own (the contract's) and KILL alone (tini's signal to the dropped entrypoint)",
  );
  t.match(
    dockerfile,
    /COPY templates\/config\.json\.tpl templates\/agent\.config\.json\.tpl \/etc\/copilot-bridge\//,
    'the Dockerfile: the templates...',
  );
  t.equal(
    contract.IMAGE_AGENT_TEMPLATE,
    '/etc/copilot-bridge/agent.config.json.tpl',
    '...where the builder names the agent template',
  );
  t.match(composeFile, `\${COPILOT_BRIDGE_RELEASED:-${contract.SHARED_TOKEN}}`, "compose.yml: the shared token's name");
  t.match(
    composeFile,
    `\${COMPOSE_PROJECT_NAME:-${contract.SERVICE}}`,
    "compose.yml: the default project is the stack's own name",
  );
  t.match(envExample, new RegExp(`^COMPOSE_PROJECT_NAME=${contract.SERVICE}$`, 'm'), '.env.example: the same');
  t.match(
    envExample,
    new RegExp(`^SECRETS_SOURCE=${contract.DEFAULT_SECRETS_SOURCE}$`, 'm'),
    '.env.example: the default source',
  );
  for (const source of contract.SECRETS_SOURCES) t.match(envExample, source, `.env.example names ${source}`);
});

t.test("the image's Node satisfies the entrypoint's engines (process.execve, --disable-sigusr1)", async (t) => {
  const engines = JSON.parse(readFileSync(join(ROOT, 'entrypoint', 'package.json'), 'utf8')).engines.node as string;
  const wanted = /^>=(\d+)\.(\d+)$/.exec(engines);
  t.ok(wanted, `entrypoint/package.json: engines.node is >=MAJOR.MINOR (${engines})`);
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const image = /^ARG NODE_IMAGE=node:(\d+)(?:\.(\d+))?[-\w.]*$/m.exec(dockerfile);
  t.ok(image, 'the Dockerfile: NODE_IMAGE defaults to an official node:MAJOR image');
  const [major, minor] = [Number(image![1]), Number(image![2] ?? 99)];
  const [needMajor, needMinor] = [Number(wanted![1]), Number(wanted![2])];
  t.ok(major > needMajor || (major === needMajor && minor >= needMinor), `node:${major} satisfies ${engines}`);
  t.match(
    dockerfile,
    /typeof process\.execve/,
    'the Dockerfile refuses a NODE_IMAGE without process.execve at build time',
  );
});
