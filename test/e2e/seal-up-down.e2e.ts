// `npm run up` and `npm run down` (the built host-seal CLI) against the real
// stack on a real Docker engine: a fake service-account token sealed in a
// software TPM, released by `up` to the tmpfs release directory root-only,
// handed to compose as OP_SA_TOKEN_FILE, and the stack waited for until
// healthy; `down` stops it and wipes the released file. Images and
// stand-ins as in stack.e2e.ts. Run after `npm run build`:
//   npx tap test/e2e/seal-up-down.e2e.ts
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import t, { type Test } from 'tap';
import { backend, contextOf } from '../../host-seal/backends/registry.js';
import { fakeServiceAccountToken } from '../fixtures/tokens.js';
import { writeVault } from '../fixtures/vault.js';
import { testHost } from '../support/e2e/host.js';
import { FIXTURES, ROOT, TEST_LABEL } from '../support/e2e/paths.js';
import { attempt, docker, run } from '../support/e2e/run.js';
import { adminEntry, COMPOSE_FILES, stackEnv, stackItems, writeStandinInputs } from '../support/e2e/stack.js';
import { waitFor } from '../support/e2e/wait.js';
import { cli } from '../support/host-seal/cli.js';
import { assertNoSecrets } from '../support/no-secrets.js';

t.setTimeout(15 * 60_000);

/** A sandboxed host (HOME, config directory, tmpfs runtime directory), a software TPM, the stand-ins' inputs and a project name, for one test. */
async function host(t: Test) {
  const { images, box, tpm, standins, project, port } = await testHost(t);
  const token = fakeServiceAccountToken();
  const items = stackItems();
  writeStandinInputs(standins, token, items, 2000);
  // The example file's placeholders are refused: the admin's entry, filled in, as init would leave it.
  const agentsFile = join(standins, 'agents.json');
  writeFileSync(agentsFile, JSON.stringify({ admin: adminEntry(), agents: [] }), { mode: 0o644 });
  const env = {
    ...box.env,
    TPM2TOOLS_TCTI: tpm.tcti,
    COMPOSE_FILE: COMPOSE_FILES.join(':'),
    COMPOSE_PROJECT_NAME: project,
    DOCKER_BUILDKIT: '0',
    AGENTS_FILE: agentsFile,
    ...stackEnv(images, standins, port),
  };
  return { images, box, token, items, standins, project, port, env };
}

t.test(
  'up builds the missing image, releases the sealed token and brings the stack up healthy; down stops it and wipes the token',
  async (t) => {
    const { images, box, token, items, project, port, env: base } = await host(t);
    // An image tag this engine has never built: the first up must build it from the Dockerfile (as on a fresh
    // machine), with the stand-ins' build arguments (the copilot-bridge stand-in packed as a tarball).
    const image = `copilot-bridge-stack/copilot-bridge:e2e-built-${process.pid}`;
    const packages = join(ROOT, 'docker', 'packages');
    const packed = (
      await run('npm', ['pack', '--silent', '--pack-destination', packages, join(FIXTURES, 'copilot-bridge')], {
        timeoutMs: 120_000,
      })
    )
      .trim()
      .split('\n')
      .pop()!;
    t.teardown(async () => {
      rmSync(join(packages, packed), { force: true });
      await attempt('docker', ['rmi', '-f', image]);
    });
    const env = {
      ...base,
      BRIDGE_IMAGE: image,
      NODE_IMAGE: images.base,
      OP_IMAGE: images.op,
      BRIDGE_PACKAGE: `/tmp/packages/${packed}`,
    };

    const sealed = await cli(['seal'], { env, input: token, cwd: box.root });
    t.equal(sealed.exitCode, 0, `seal succeeds (${String(sealed.stderr).trim()})`);

    const up = await cli(['up', '--timeout', '240'], { env, cwd: box.root });
    t.equal(up.exitCode, 0, `up succeeds (${String(up.stderr).split('\n').slice(-3).join(' | ')})`);
    t.match(
      String(up.stderr),
      `up: the image ${image} is not built yet; building it`,
      'the image was missing, so up built it first',
    );
    t.ok(
      String(up.stderr).indexOf('building it') < String(up.stderr).indexOf('up: released op-sa-token'),
      'before anything was released',
    );
    t.match(String(up.stderr), /up: all \d+ services ready/, 'and reports every service ready');
    for (const service of ['postgres', 'mattermost', 'socket-proxy', 'copilot-bridge'])
      t.match(
        String(up.stderr),
        new RegExp(`^up: ${service} healthy after \\d+\\.\\ds$`, 'm'),
        `a line as ${service} turns healthy`,
      );
    t.notMatch(
      String(up.stderr)
        .split('\n')
        .filter((l) => l.includes('up: '))
        .join('\n'),
      /\r|\x1b/,
      "without a terminal: up's own lines are plain lines, no escape",
    );
    const released = join(box.runtime, 'copilot-bridge-stack', 'op-sa-token');
    const info = statSync(released);
    t.same([info.uid, info.mode & 0o777], [0, 0o400], 'the released token is root-only 0400 while the stack runs');
    t.notMatch(String(up.stderr), /mm-db-password/, 'no database password is made, sealed or released');
    t.same(
      readdirSync(join(box.runtime, 'copilot-bridge-stack')),
      ['op-sa-token'],
      'the token is the only released file',
    );
    assertNoSecrets(t, "up's output", `${up.stdout}\n${up.stderr}`, [token, ...Object.values(items)]);

    const bridge = (
      await docker([
        'ps',
        '-q',
        '--filter',
        `label=com.docker.compose.project=${project}`,
        '--filter',
        'label=com.docker.compose.service=copilot-bridge',
      ])
    ).trim();
    const mounts = await docker([
      'inspect',
      '--format',
      '{{range .Mounts}}{{.Source}} {{.Destination}}{{"\\n"}}{{end}}',
      bridge,
    ]);
    t.match(mounts, `${released} /run/secrets/op_sa_token`, 'the bridge gets exactly the released file as its secret');
    const log = (await (await fetch(`http://127.0.0.1:${port}/__standin/auth-log`)).json()) as {
      events: Array<{ endpoint: string; ok: boolean; tokenSha256: string }>;
    };
    const botHash = createHash('sha256').update(items['op://copilot-bridge/mattermost-admin-bot/token']!).digest('hex');
    t.ok(
      log.events.some((e) => e.endpoint === 'users/me' && e.ok && e.tokenSha256 === botHash),
      'the bridge authenticated with the bot token rendered from the sealed token',
    );
    const verify = await attempt('docker', ['exec', bridge, 'copilot-bridge-entrypoint', 'verify']);
    t.equal(verify.exitCode, 0, 'verify is clean');
    const bridgeEnv = await docker(['inspect', '--format', '{{range .Config.Env}}{{println .}}{{end}}', bridge]);
    t.match(bridgeEnv, /^COPILOT_BRIDGE_RELEASED=op-sa-token$/m, 'up tells the admin which credentials were released');
    // While the stack runs, Compose through the wrapper: the same paths as up gave it.
    const ps = await cli(['compose', 'ps'], { env, cwd: box.root });
    t.equal(ps.exitCode, 0, `compose ps works while the stack runs (${String(ps.stderr).trim().split('\n')[0] ?? ''})`);
    t.match(String(ps.stdout), /copilot-bridge/, 'and lists the bridge');
    const logs = await cli(['compose', 'logs', '--tail', '3', 'copilot-bridge'], { env, cwd: box.root });
    t.equal(logs.exitCode, 0, 'compose logs works');
    const agentLs = await cli(['compose', 'exec', '-T', '-u', 'bridge', 'copilot-bridge', 'agent', 'ls'], {
      env,
      cwd: box.root,
    });
    t.equal(
      agentLs.exitCode,
      0,
      `compose exec works: the README's agent command (${String(agentLs.stderr).trim().split('\n').at(-1)})`,
    );
    const bare = await attempt('docker-compose', ['ps'], { env: { ...env, OP_SA_TOKEN_FILE: '' }, cwd: box.root });
    t.not(bare.exitCode, 0, 'control: plain docker-compose without the wrapper fails as the issue found');
    assertNoSecrets(
      t,
      "the wrapper's output",
      `${ps.stdout}${ps.stderr}${logs.stdout}${logs.stderr}${agentLs.stdout}${agentLs.stderr}`,
      [token, ...Object.values(items)],
    );
    // An agent (not a compose service) on mattermost-net, holding a released token: down must remove it first.
    await docker([
      'run',
      '-d',
      '--network',
      `${project}_mattermost-net`,
      '--label',
      'com.copilot-bridge-stack.agent=lal',
      '--label',
      `com.copilot-bridge-stack.project=${project}`,
      '--label',
      `${TEST_LABEL}=1`,
      '--mount',
      `type=bind,source=${released},target=/run/secrets/op_sa_token,readonly`,
      '--entrypoint',
      'sleep',
      images.bridge,
      '300',
    ]);
    // npm run status: every service and the agent, each with the sealed credential it runs on, by fingerprint.
    const fingerprint = /^op-sa-token\s.*?\s(\S+)\s+yes: /m.exec(
      String((await cli(['status'], { env, cwd: box.root })).stdout),
    )?.[1];
    t.ok(fingerprint, `status shows the sealed token's fingerprint (${fingerprint})`);
    const status = await cli(['ps'], { env, cwd: box.root });
    t.equal(status.exitCode, 0, `ps (npm run status) succeeds (${String(status.stderr).trim()})`);
    const table = String(status.stdout);
    t.match(
      table.split('\n')[0],
      /^NAME\s+SERVICE\s+STATE\s+HEALTH\s+UPTIME\s+RESTARTS\s+CREDENTIAL\s+LAST HEALTHCHECK$/,
    );
    t.match(
      table,
      new RegExp(
        `\\scopilot-bridge\\s+running\\s+healthy\\s+\\d+[smhd]\\S*\\s+0\\s+op-sa-token ${fingerprint}\\s+clean: checked`,
      ),
      "the admin bridge: running, healthy, on the sealed token, its healthcheck's verdict",
    );
    t.match(table, /\smattermost\s+running\s+healthy\s/, 'Mattermost');
    t.match(
      table,
      new RegExp(`\\sagent\\s+running\\s+\\S+\\s+\\d+s\\s+0\\s+op-sa-token ${fingerprint}`),
      'and the agent container',
    );
    const asJson = JSON.parse(String((await cli(['ps', '--json'], { env, cwd: box.root })).stdout)) as {
      project: string;
      ok: boolean;
      containers: Array<{ service: string; health: string | null; credential: Record<string, unknown> | null }>;
    };
    t.equal(asJson.project, project);
    t.same(
      asJson.containers.find((c) => c.service === 'copilot-bridge'),
      {
        ...asJson.containers.find((c) => c.service === 'copilot-bridge'),
        health: 'healthy',
        credential: { sealed: 'op-sa-token', part: null, fingerprint, source: null, released: true },
      },
      '--json holds the same',
    );
    assertNoSecrets(t, "ps's output", `${table}${status.stderr}`, [token, ...Object.values(items)]);
    // npm run audit on the healthy stack: the sealed token is nowhere but where it is released.
    const audited = await cli(['audit'], { env, cwd: box.root });
    t.equal(audited.exitCode, 0, `audit finds the healthy stack clean (${String(audited.stdout).trim()})`);
    t.match(
      String(audited.stderr),
      /^audit: searched \d+ place\(s\): .*container .*copilot-bridge.*image .*volume .*/m,
    );
    t.match(String(audited.stderr), /^audit: clean$/m);
    assertNoSecrets(t, "audit's output", `${audited.stdout}${audited.stderr}`, [token, ...Object.values(items)]);

    const down = await cli(['down'], { env, cwd: box.root });
    t.equal(down.exitCode, 0, `down succeeds (${String(down.stderr).split('\n').slice(-2).join(' | ')})`);
    t.notOk(existsSync(released), 'the released token is wiped');
    t.match(String(down.stderr), /down: removing 1 agent container\(s\) of /, 'down removed the agent first');
    const left = await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]);
    t.equal(left.trim(), '', 'no container of the stack is left');
    t.equal(
      (await docker(['ps', '-aq', '--filter', `label=com.copilot-bridge-stack.project=${project}`])).trim(),
      '',
      'nor any agent of it',
    );
  },
);

t.test(
  "an older stack's database: the next up makes mmuser an ordinary owner without password, forgets the sealed one, and refuses to skip an ESR",
  async (t) => {
    const { images, box, token, standins, project, port, env } = await host(t);
    t.equal((await cli(['seal'], { env, input: token })).exitCode, 0, 'the token is sealed');
    // What an older stack's first up left: the password sealed as mm-db-password, and a database volume
    // PostgreSQL made with POSTGRES_USER=mmuser (its bootstrap superuser) and that password.
    const password = randomBytes(24).toString('hex');
    // Sealed as the older up did it: through the backend itself (seal checks for a service-account token's shape).
    await backend('tpm2', contextOf({ env, platform: 'linux' })).seal('mm-db-password', password, {
      pcrs: [],
      auth: undefined,
    });
    t.match(
      String((await cli(['status'], { env, cwd: box.root })).stdout),
      /mm-db-password/,
      'status lists the old password as sealed',
    );
    const volume = `${project}_postgres-data`;
    await docker([
      'volume',
      'create',
      '--label',
      `com.docker.compose.project=${project}`,
      '--label',
      'com.docker.compose.volume=postgres-data',
      '--label',
      `${TEST_LABEL}=1`,
      volume,
    ]);
    writeFileSync(join(standins, 'old-password'), password, { mode: 0o444 });
    const old = (
      await docker([
        'run',
        '-d',
        '--label',
        `${TEST_LABEL}=1`,
        '-v',
        `${volume}:/var/lib/postgresql/data`,
        '-v',
        `${join(standins, 'old-password')}:/run/secrets/mm_db_password:ro`,
        '-e',
        'POSTGRES_USER=mmuser',
        '-e',
        'POSTGRES_DB=mattermost',
        '-e',
        'POSTGRES_PASSWORD_FILE=/run/secrets/mm_db_password',
        images.postgres,
      ])
    ).trim();
    const login = () =>
      attempt('docker', [
        'exec',
        '-e',
        `PGPASSWORD=${password}`,
        old,
        'psql',
        '-X',
        '-tA',
        '-h',
        '127.0.0.1',
        '-U',
        'mmuser',
        '-d',
        'mattermost',
        '-c',
        'select 1',
      ]);
    await waitFor('the old database to take its password', async () => (await login()).stdout.trim() === '1', {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    t.pass('control: the old volume has mmuser with that password, over TCP');
    // Mattermost's kinds of objects, made by the old mmuser, and the version Mattermost records.
    const made = await attempt('docker', [
      'exec',
      '-e',
      `PGPASSWORD=${password}`,
      old,
      'psql',
      '-X',
      '-v',
      'ON_ERROR_STOP=1',
      '-h',
      '127.0.0.1',
      '-U',
      'mmuser',
      '-d',
      'mattermost',
      '-c',
      `CREATE TYPE channel_type AS ENUM ('O', 'P'); CREATE TABLE "Channels" (id serial PRIMARY KEY, type channel_type); CREATE VIEW channel_view AS SELECT * FROM "Channels";
     CREATE FUNCTION one() RETURNS int LANGUAGE sql AS 'select 1'; CREATE TABLE "Systems" ("Name" text PRIMARY KEY, "Value" text); INSERT INTO "Systems" VALUES ('Version', '11.7.3');`,
    ]);
    t.equal(
      made.exitCode,
      0,
      `the old mmuser made a table, a sequence, an enum, a view and a function (${made.stderr.trim()})`,
    );
    await docker(['rm', '-f', old]);
    rmSync(join(standins, 'old-password'));

    const up = await cli(['up', '--timeout', '240'], { env, cwd: box.root });
    t.equal(up.exitCode, 0, `up succeeds (${String(up.stderr).split('\n').slice(-3).join(' | ')})`);
    t.match(
      String(up.stderr),
      /up: migrated the database of an older stack: mmuser is no longer a superuser and has no password/,
      'up says it migrated the roles',
    );
    t.match(
      String(up.stderr),
      /up: retired mm-db-password: the database takes no password, and the sealed copy is forgotten/,
      'and retired the sealed password',
    );
    t.ok(
      String(up.stderr).indexOf('migrated the database') < String(up.stderr).indexOf('up: docker-compose up -d\n') ||
        String(up.stderr).indexOf('migrated the database') < String(up.stderr).indexOf('up: docker compose up -d\n'),
      'before Mattermost was started',
    );
    t.notMatch(String(up.stderr), /released mm-db-password/, 'the password was never released');
    const status = await cli(['status'], { env, cwd: box.root });
    t.notMatch(`${status.stdout}${status.stderr}`, /mm-db-password/, 'status no longer lists it');
    const postgres = (
      await docker([
        'ps',
        '-q',
        '--filter',
        `label=com.docker.compose.project=${project}`,
        '--filter',
        'label=com.docker.compose.service=postgres',
      ])
    ).trim();
    const asPostgres = (sql: string) =>
      attempt('docker', [
        'exec',
        '-u',
        'postgres',
        postgres,
        'psql',
        '-X',
        '-tA',
        '-U',
        'postgres',
        '-d',
        'mattermost',
        '-c',
        sql,
      ]);
    const roles = await asPostgres(
      "select rolname || ':' || rolsuper || ':' || rolcanlogin || ':' || (rolpassword is null) from pg_authid where rolname in ('mmuser', 'mm_bootstrap', 'postgres') order by 1",
    );
    t.same(
      roles.stdout.trim().split('\n'),
      ['mm_bootstrap:true:false:true', 'mmuser:false:true:true', 'postgres:true:true:true'],
      `mmuser: no superuser, no password; the old role cannot log in; the operator's postgres exists (${roles.stderr.trim()})`,
    );
    const owners = await asPostgres(`select string_agg(distinct owner, ',') from (
      select pg_get_userbyid(relowner) as owner from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public'
      union all select pg_get_userbyid(proowner) from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public'
      union all select pg_get_userbyid(typowner) from pg_type y join pg_namespace n on n.oid = y.typnamespace where n.nspname = 'public'
      union all select pg_get_userbyid(datdba) from pg_database where datname = 'mattermost') o`);
    t.equal(
      owners.stdout.trim(),
      'mmuser',
      `the database and every table, sequence, view, function and type in it belong to mmuser (${owners.stderr.trim()})`,
    );
    const program = await attempt('docker', [
      'exec',
      postgres,
      'psql',
      '-X',
      '-tA',
      '-h',
      '/var/run/postgresql',
      '-U',
      'mmuser',
      '-d',
      'mattermost',
      '-c',
      "COPY (select 1) TO PROGRAM 'id'",
    ]);
    t.match(
      program.stderr,
      /permission denied|must be superuser|pg_execute_server_program/,
      'mmuser can no longer run programs in the postgres container',
    );
    const seen = (await (await fetch(`http://127.0.0.1:${port}/__standin/database`)).json()) as Record<string, unknown>;
    t.match(
      seen,
      { user: 'mmuser', via: '/var/run/postgresql/.s.PGSQL.5432', hadPassword: false, connected: true },
      'Mattermost connects over the socket, as the new mmuser, with no password',
    );
    const ids = (await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]))
      .split('\n')
      .filter(Boolean);
    for (const id of ids) {
      const logs = await attempt('docker', ['logs', id]);
      assertNoSecrets(
        t,
        `inspect and logs of ${id.slice(0, 12)}`,
        `${await docker(['inspect', id])}\n${logs.stdout}\n${logs.stderr}`,
        [password, token],
      );
    }
    assertNoSecrets(t, "up's output", `${up.stdout}\n${up.stderr}`, [password, token]);

    const again = await cli(['up', '--timeout', '240'], { env, cwd: box.root });
    t.equal(again.exitCode, 0, 'a second up succeeds');
    t.notMatch(String(again.stderr), /migrated|retired/, 'and has nothing left to migrate');
    t.equal((await cli(['down'], { env, cwd: box.root })).exitCode, 0, 'down succeeds (the volumes stay)');

    // The database says 10.5; the image's tag says 11.7: the 10.11 ESR would be skipped.
    const tagged = 'copilot-bridge-stack/test-mattermost:11.7.15';
    await docker(['tag', images.mattermost, tagged]);
    const refusedEnv = { ...env, E2E_MATTERMOST_IMAGE: tagged };
    const older = await cli(['up', '--timeout', '240'], { env: refusedEnv, cwd: box.root });
    t.equal(older.exitCode, 0, 'control: from 11.7.3 to an 11.7.15 tag, up goes ahead');
    t.equal((await cli(['down'], { env: refusedEnv, cwd: box.root })).exitCode, 0);
    const start = await cli(['compose', 'up', '-d', 'postgres'], { env: refusedEnv, cwd: box.root });
    t.equal(start.exitCode, 0, 'postgres alone, to set the recorded version back');
    const pg = (
      await docker([
        'ps',
        '-q',
        '--filter',
        `label=com.docker.compose.project=${project}`,
        '--filter',
        'label=com.docker.compose.service=postgres',
      ])
    ).trim();
    await waitFor(
      'postgres',
      async () =>
        (
          await attempt('docker', [
            'exec',
            '-u',
            'postgres',
            pg,
            'psql',
            '-X',
            '-tA',
            '-U',
            'postgres',
            '-d',
            'mattermost',
            '-c',
            'UPDATE "Systems" SET "Value" = \'10.5.0\' WHERE "Name" = \'Version\'',
          ])
        ).exitCode === 0,
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const skip = await cli(['up', '--timeout', '240'], { env: refusedEnv, cwd: box.root });
    t.equal(skip.exitCode, 78, 'up refuses to skip an ESR');
    t.match(
      String(skip.stderr).trim().split('\n').at(-1),
      /the database is Mattermost 10\.5\.0, and MM_IMAGE \(copilot-bridge-stack\/test-mattermost:11\.7\.15\) would skip the 10\.11 Extended Support Release; upgrade through it first/,
      'naming the release to go through',
    );
    t.equal(
      (
        await docker([
          'ps',
          '-q',
          '--filter',
          `label=com.docker.compose.project=${project}`,
          '--filter',
          'label=com.docker.compose.service=mattermost',
        ])
      ).trim(),
      '',
      'Mattermost was not started',
    );
    t.equal((await cli(['down'], { env: refusedEnv, cwd: box.root })).exitCode, 0, 'down succeeds');
    await docker(['rmi', tagged]);
  },
);

t.test(
  'up ends early on a crash loop, with the cause; Ctrl-C under a terminal says what still runs and keeps only the token it runs on',
  async (t) => {
    const { box, token, items, standins, project, env } = await host(t);
    // A token the op stand-in's vault was not made for: op inject fails, the bridge exits 69, Docker restarts it.
    const wrong = fakeServiceAccountToken();
    t.equal(
      (await cli(['seal'], { env, input: wrong, cwd: box.root })).exitCode,
      0,
      'a token the vault does not know is sealed',
    );
    const started = Date.now();
    const looped = await cli(['up', '--timeout', '300'], { env, cwd: box.root });
    const seconds = (Date.now() - started) / 1000;
    t.equal(looped.exitCode, 69, `up fails (${String(looped.stderr).trim().split('\n').at(-1)})`);
    t.match(
      String(looped.stderr),
      /up: copilot-bridge (restarted after exiting with status 69|exited with status 69); its last log lines:\n/,
      'naming the service and its exit status',
    );
    t.match(
      String(looped.stderr),
      /render: op inject exited with status 1/,
      "with the bridge's own last lines, which say why",
    );
    t.ok(seconds < 150, `it ended early (${seconds.toFixed(0)} s of the 300 s timeout), not at the timeout`);
    t.match(
      String(looped.stderr).trim().split('\n').at(-1),
      /copilot-bridge .*; see its log above and with npm run compose -- logs copilot-bridge/,
      'the last line says where to look',
    );
    assertNoSecrets(t, "up's output", `${looped.stdout}${looped.stderr}`, [wrong]);
    t.equal((await cli(['down'], { env, cwd: box.root })).exitCode, 0, 'down cleans up');

    // Ctrl-C in a terminal (util-linux script gives the CLI a pty; ^C typed into it) while up waits for health:
    // the stack's containers run on the released token, so it stays, and up says so.
    t.equal(
      (await cli(['seal', '--force'], { env, input: token, cwd: box.root })).exitCode,
      0,
      'the right token is sealed again',
    );
    // op answers after 8 s, so the bridge is still starting when Compose returns: up has something to wait for.
    writeVault(join(standins, 'vault.json'), token, items, { delayMs: 8000 });
    chmodSync(join(standins, 'vault.json'), 0o600);
    const released = join(box.runtime, 'copilot-bridge-stack');
    const { MAIN } = await import('../support/host-seal/cli.js');
    const child = execa('script', ['-qfec', `${process.execPath} ${MAIN} up --timeout 300`, '/dev/null'], {
      env,
      cwd: box.root,
      reject: false,
      stdin: 'pipe',
      all: true,
    });
    let seen = '';
    child.all?.on('data', (chunk: Buffer) => (seen += chunk.toString()));
    // On a terminal the waiting line is rewritten in place (no newline between two of its updates).
    const liveLine = /\r\x1b\[Kup: waiting \d+s of 300s for [^\n]+\r\x1b\[Kup: waiting \d+s of 300s for /;
    await waitFor('up to show its live line', () => liveLine.test(seen), { timeoutMs: 180_000, intervalMs: 100 });
    t.match(seen, liveLine, 'under a pty, one live line names what up waits for, rewritten in place');
    child.stdin?.write('\u0003');
    const ended = await child;
    t.match(
      seen,
      /up was interrupted \(SIGINT\); see above what still runs/,
      `the interrupted up says so (${seen.trim().split('\n').at(-1)})`,
    );
    t.equal(ended.exitCode, 130, 'and exits 130');
    t.match(
      seen,
      /up: \d+ container\(s\) of the stack still run on the released tokens \(.*\); npm run down stops them and wipes the tokens/,
      'it says what still runs',
    );
    t.ok(existsSync(join(released, 'op-sa-token')), 'and keeps the token they run on');
    t.ok((await docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`])).trim(), 'they do run');
    assertNoSecrets(t, 'the interrupted output', seen, [token, wrong]);
    t.equal((await cli(['down'], { env, cwd: box.root })).exitCode, 0, 'down cleans up after it');
    t.notOk(existsSync(join(released, 'op-sa-token')), 'and wipes the token');
  },
);
