// The whole stack on a real Docker engine: the real compose.yml and
// Dockerfile, with stand-ins only for what cannot run here (Mattermost, the
// 1Password CLI and copilot-bridge; PostgreSQL is Debian's real one), and
// issue 4's checks, numbered as there. One stack serves every check, in an
// order that keeps the destructive ones last. Run after `npm run build`:
//   npx tap test/e2e/stack.e2e.ts
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { writeVault } from '../fixtures/vault.js';
import { removeStaleProjects } from '../support/e2e/cleanup.js';
import { ensureDockerEngine } from '../support/e2e/engine.js';
import { buildTestImages, type TestImages } from '../support/e2e/images.js';
import { CACHE_DIR, ROOT, TEST_LABEL } from '../support/e2e/paths.js';
import { attempt, docker } from '../support/e2e/run.js';
import { bridgeTree, containerPids, type Finding, SecretScanner } from '../support/e2e/search.js';
import { Stack } from '../support/e2e/stack.js';
import { waitFor } from '../support/e2e/wait.js';
import { assertNoSecrets } from '../support/no-secrets.js';

t.setTimeout(20 * 60_000);

const SERVICES = ['postgres', 'mattermost', 'socket-proxy', 'copilot-bridge'] as const;
const BRIDGE_UID = '61001';
/** Long enough that Mattermost's first healthcheck (5 s after start) fails, so its health gates the bridge visibly. */
const PING_DELAY_MS = 8000;

let images: TestImages;
let stack: Stack;
let scanner: SecretScanner;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const botToken = () => stack.items['op://copilot-bridge/mattermost-admin-bot/token']!;
const describe = (findings: Finding[]) =>
  findings.map((f) => `${f.secret < 0 ? 'a token-shaped string' : `secret #${f.secret}`} in ${f.where}`);

const authLog = () => stack.authLog();

t.before(async () => {
  const started = Date.now();
  t.comment(`Docker engine ${await ensureDockerEngine()}`);
  const stale = await removeStaleProjects();
  if (stale.length > 0) t.comment(`removed leftovers of dead runs: ${stale.join(', ')}`);
  images = await buildTestImages();
  t.comment(`images ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  stack = await Stack.up(t, images, { pingDelayMs: PING_DELAY_MS });
  scanner = new SecretScanner(stack.secrets());
  await stack.waitHealthy('copilot-bridge', 180_000);
  t.comment(`${stack.project} (${stack.composeLabel}) healthy after ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

t.test(
  '1. the admin bridge starts only after Mattermost is healthy, authenticates, and verify reports clean',
  async (t) => {
    const mattermost = await stack.inspect('mattermost');
    const bridge = await stack.inspect('copilot-bridge');
    const postgres = await stack.inspect('postgres');
    const checks = mattermost.State.Health?.Log ?? [];
    const firstPass = checks.find((check) => check.ExitCode === 0);
    t.ok(firstPass, 'Mattermost has passed a healthcheck');
    t.ok(
      checks.some((check) => check.ExitCode !== 0 && Date.parse(check.End) < Date.parse(firstPass!.End)),
      'Mattermost failed a healthcheck first (its ping answers late), so the gate was real',
    );
    t.ok(
      Date.parse(bridge.State.StartedAt) >= Date.parse(firstPass!.End),
      `the bridge started (${bridge.State.StartedAt}) after Mattermost's first healthy check (${firstPass!.End})`,
    );
    // The engine keeps only a container's last five checks: its event history says when PostgreSQL first turned healthy.
    const healthEvents = await docker([
      'events',
      '--since',
      postgres.Created,
      '--until',
      String(Math.ceil(Date.now() / 1000)),
      '--filter',
      `container=${postgres.Id}`,
      '--filter',
      'event=health_status',
      '--format',
      '{{.TimeNano}} {{.Status}}',
    ]);
    const healthyNanos = healthEvents
      .split('\n')
      .find((line) => line.endsWith('health_status: healthy'))
      ?.split(' ')[0];
    t.ok(healthyNanos, 'the engine recorded PostgreSQL turning healthy');
    t.ok(
      Date.parse(mattermost.State.StartedAt) >= Number(BigInt(healthyNanos ?? '0') / 1_000_000n),
      'Mattermost started after PostgreSQL was healthy',
    );

    const events = await authLog();
    const mine = sha256(botToken());
    t.ok(
      events.some((e) => e.endpoint === 'users/me' && e.ok && e.tokenSha256 === mine),
      'the bridge authenticated to users/me with the bot token from 1Password',
    );
    t.ok(
      events.some((e) => e.endpoint === 'users/channels' && e.ok && e.tokenSha256 === mine),
      'and listed its channels',
    );
    t.same(
      events.filter((e) => !e.ok),
      [],
      'no authentication attempt failed',
    );

    const log = await stack.exec('copilot-bridge', ['cat', '/home/bridge/.copilot-bridge/copilot-bridge.log'], {
      user: 'bridge',
    });
    t.match(log.stdout, /bot admin authenticated as admin-bot/, 'the bridge logged its authentication');
    t.match(log.stdout, /ready/, 'and reached ready');
    const channel = (
      JSON.parse(readFileSync(join(stack.dir, 'agents.json'), 'utf8')) as { admin: { channels: Array<{ id: string }> } }
    ).admin.channels[0]!.id;
    t.match(
      log.stdout,
      `Creating new session for channel ${channel}...`,
      'it logs its channel id, as upstream does: a plain setting, so no leak',
    );

    const verify = await stack.exec('copilot-bridge', ['copilot-bridge-entrypoint', 'verify']);
    t.equal(verify.exitCode, 0, `verify exits 0 (${verify.stderr.trim()})`);
    t.equal(verify.stdout.trim(), '', 'verify reports no finding');
    t.match(
      verify.stderr,
      /clean: checked [1-9]\d* process\(es\) and [1-9]\d* log file\(s\)/,
      'verify looked at processes and the log',
    );
    t.equal(await stack.health('copilot-bridge'), 'healthy', 'the HEALTHCHECK (verify) passes');
  },
);

t.test(
  "1b. a bridge given a wrong bot token fails visibly (the stand-in accepts only the vault's tokens)",
  async (t) => {
    const items = { ...stack.items, 'op://copilot-bridge/mattermost-admin-bot/token': randomBytes(13).toString('hex') };
    writeVault(join(stack.dir, 'wrong-vault.json'), stack.token, items);
    chmodSync(join(stack.dir, 'wrong-vault.json'), 0o600);
    const authBefore = (await authLog()).length;
    // The bridge's home on the host, to read the log it writes (all its output goes there, as upstream's does).
    const home = mkdtempSync(join(tmpdir(), 'cbs-e2e-home-'));
    chownSync(home, 61001, 61001);
    t.teardown(() => rmSync(home, { recursive: true, force: true }));
    const run = await attempt(
      'docker',
      [
        'run',
        '--rm',
        '--label',
        `${TEST_LABEL}=1`,
        '--label',
        `com.copilot-bridge-stack.test.pid=${process.pid}`,
        '--network',
        `${stack.project}_mattermost-net`,
        '--init',
        '--read-only',
        '--tmpfs',
        '/tmp:size=16m,mode=1777',
        '-v',
        `${home}:/home/bridge`,
        '--cap-drop',
        'ALL',
        '--cap-add',
        'SETUID',
        '--cap-add',
        'SETGID',
        '--security-opt',
        'no-new-privileges:true',
        '--ulimit',
        'core=0',
        '-u',
        '0:0',
        '-v',
        `${join(stack.dir, 'op-sa-token')}:/run/secrets/op_sa_token:ro`,
        '-v',
        `${join(stack.dir, 'wrong-vault.json')}:/run/op-fixture/vault.json:ro`,
        '-v',
        `${join(stack.dir, 'agents.json')}:/etc/copilot-bridge/agents.json:ro`,
        '-e',
        'BRIDGE_AGENTS_FILE=/etc/copilot-bridge/agents.json',
        '-e',
        'BRIDGE_AGENT=admin',
        '-e',
        'BRIDGE_SUPERVISE=1',
        '-e',
        'BRIDGE_WAIT_FOR=http://mattermost:8065/api/v4/system/ping',
        images.bridge,
      ],
      { timeoutMs: 60_000 },
    );
    t.equal(run.exitCode, 1, `the bridge exits 1 (${run.stderr.trim().split('\n').at(-1)})`);
    const log = readFileSync(join(home, '.copilot-bridge', 'copilot-bridge.log'), 'utf8');
    t.match(
      log,
      /Fatal error: bot admin: users\/me answered 401/,
      'saying in its log that Mattermost refused its token',
    );
    const events = (await authLog()).slice(authBefore);
    t.ok(
      events.some((e) => e.endpoint === 'users/me' && !e.ok),
      'the stand-in recorded the refused token',
    );
    assertNoSecrets(t, 'the failed bridge output', `${run.stdout}\n${run.stderr}`, [
      ...stack.secrets(),
      ...Object.values(items),
    ]);
    assertNoSecrets(t, 'its log', log, [...stack.secrets(), ...Object.values(items)]);
  },
);

t.test('the bridge container has the hardened shape of compose.yml', async (t) => {
  const bridge = (await stack.inspect('copilot-bridge')) as unknown as {
    HostConfig: Record<string, any>;
    Config: { User: string };
  };
  const host = bridge.HostConfig;
  t.equal(host.ReadonlyRootfs, true, 'read-only root filesystem');
  t.match(host.Tmpfs?.['/tmp'] ?? '', /size=64m/, '/tmp is a size-limited tmpfs');
  t.same(host.CapDrop, ['ALL'], 'every capability dropped');
  t.same(
    [...(host.CapAdd ?? [])].sort(),
    ['KILL', 'SETGID', 'SETUID'],
    'only SETUID, SETGID (the drop) and KILL (tini forwarding SIGTERM) added back',
  );
  t.ok((host.SecurityOpt ?? []).includes('no-new-privileges:true'), 'no-new-privileges');
  t.equal(host.Init, true, 'init: true');
  t.equal(host.RestartPolicy?.Name, 'unless-stopped', 'restart unless-stopped');
  t.same(
    (host.Ulimits ?? []).filter((u: { Name: string }) => u.Name === 'core'),
    [{ Name: 'core', Soft: 0, Hard: 0 }],
    'core dumps off',
  );
  t.equal(
    bridge.Config.User,
    '0:0',
    "starts as root, asked for explicitly (the image's user is bridge; the entrypoint drops to it itself)",
  );
  t.ok(host.Memory > 0 && host.MemorySwap === host.Memory, `memory limited, no swap (${host.Memory})`);
  t.equal(host.PidsLimit, 1024, 'processes limited');
  t.equal(host.NanoCpus, 1e9, 'one CPU');
  const guard = (await stack.inspect('socket-proxy')) as unknown as { HostConfig: Record<string, any> };
  t.match(guard.HostConfig, { Memory: 256 * 1024 * 1024, PidsLimit: 64, NanoCpus: 5e8 }, 'the guard is limited too');
});

t.test('2. threat model: no secret where it must not be', async (t) => {
  const secrets = stack.secrets();

  t.test('not in any image layer or its history (docker save, docker history)', async (t) => {
    const list = [images.base, images.op, images.mattermost, images.postgres, images.bridge];
    const saved = await scanner.scanCommand('docker', ['save', ...list], 'docker save');
    t.ok(saved.bytes > 100_000_000, `searched ${(saved.bytes / 1e6).toFixed(0)} MB of docker save output`);
    t.same(describe(saved.findings), [], 'no secret and no token-shaped string in any layer');
    for (const image of list) {
      const history = await docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', image]);
      t.same(describe(scanner.scan(Buffer.from(history), `history of ${image}`)), [], `not in the history of ${image}`);
    }
    for (const service of SERVICES) {
      const layer = (await stack.inspect(service)) as unknown as { GraphDriver: { Data?: { UpperDir?: string } } };
      const upper = layer.GraphDriver.Data?.UpperDir;
      if (!upper) continue;
      const { findings, files } = scanner.scanTree(upper);
      t.same(describe(findings), [], `not in the writable layer of ${service} (${files} files)`);
    }
  });

  t.test('not in docker inspect of any container', async (t) => {
    for (const service of SERVICES) {
      const text = await docker(['inspect', await stack.container(service)]);
      assertNoSecrets(t, `docker inspect ${service}`, text, secrets);
    }
  });

  t.test('not in docker logs', async (t) => {
    for (const service of SERVICES) {
      const logs = await attempt('docker', ['logs', await stack.container(service)]);
      assertNoSecrets(t, `docker logs ${service}`, `${logs.stdout}\n${logs.stderr}`, secrets);
    }
  });

  t.test(`not in the compose config output`, async (t) => {
    assertNoSecrets(t, 'compose config', await stack.compose(['config']), secrets);
  });

  t.test(
    'not in any file on the host outside the tmpfs release (Docker data, the repository cache, the temporary directory)',
    async (t) => {
      const roots = ['/var/lib/docker/containers', '/var/lib/docker/volumes', CACHE_DIR, join(ROOT, '.tap'), tmpdir()];
      for (const root of roots) {
        const { findings, files } = scanner.scanTree(root, [stack.dir, '/var/lib/docker/overlay2']);
        t.same(describe(findings), [], `nothing in ${root} (${files} files)`);
      }
    },
  );

  t.test(
    'not in /proc/*/environ or cmdline of any process in any container (read from the host, so nothing is hidden)',
    async (t) => {
      // The one exception, by design: the Copilot CLI takes its GitHub token only from its environment, so the
      // admin bridge's own process tree holds it as COPILOT_GITHUB_TOKEN. Nothing else anywhere holds it. (Mattermost's
      // connection string, in its server's environment, holds no secret: its database has no password.)
      const github = stack.items['op://copilot-bridge/github-admin/token']!;
      const tree = await bridgeTree(await stack.container('copilot-bridge'));
      t.ok(tree.size >= 3, `the admin bridge's tree: ${tree.size} processes (launcher, worker, Copilot CLI)`);
      const githubHolders: string[] = [];
      for (const service of SERVICES) {
        const pids = await containerPids(await stack.container(service));
        t.ok(pids.length > 0, `${service} has ${pids.length} process(es)`);
        for (const pid of pids) {
          for (const file of ['environ', 'cmdline']) {
            let text = '';
            try {
              text = readFileSync(`/proc/${pid}/${file}`, 'latin1');
            } catch {
              continue; // the process ended meanwhile
            }
            if (file === 'environ' && tree.has(pid) && `\0${text}`.includes(`\0COPILOT_GITHUB_TOKEN=${github}\0`)) {
              githubHolders.push(
                (
                  readFileSync(`/proc/${pid}/cmdline`, 'latin1')
                    .split('\0')
                    .find((arg) => /copilot-cli|worker|copilot-bridge|tini/.test(arg)) ?? String(pid)
                )
                  .split('/')
                  .pop()!,
              );
              text = `\0${text}`.replace(`\0COPILOT_GITHUB_TOKEN=${github}\0`, '\0').slice(1);
            }
            assertNoSecrets(t, `/proc/${pid}/${file} of ${service}`, text, secrets);
          }
        }
      }
      t.ok(
        githubHolders.includes('copilot-cli.js'),
        `the Copilot CLI stand-in holds its GitHub token (the holders: ${githubHolders.join(', ')})`,
      );
    },
  );

  t.test('the bridge runs as its user and that user cannot read /run/secrets/op_sa_token', async (t) => {
    const read = await stack.exec('copilot-bridge', ['cat', '/run/secrets/op_sa_token'], { user: 'bridge' });
    t.not(read.exitCode, 0, 'cat as bridge fails');
    t.match(read.stderr, /Permission denied/, 'with permission denied');
    t.equal(read.stdout, '', 'and prints nothing');
    const top = await docker(['top', await stack.container('copilot-bridge'), '-eo', 'pid,uid,args']);
    const worker = top.split('\n').find((line) => line.includes('worker.js'));
    t.ok(worker, 'the bridge worker runs');
    t.equal(worker?.trim().split(/\s+/)[1], BRIDGE_UID, `the worker runs as uid ${BRIDGE_UID}`);
    const status = readFileSync(`/proc/${worker?.trim().split(/\s+/)[0]}/status`, 'utf8');
    t.match(status, /^CapPrm:\s+0+$/m, 'with no permitted capability');
    t.match(status, /^CapEff:\s+0+$/m, 'no effective capability');
    t.match(status, /^NoNewPrivs:\s+1$/m, 'and no way to gain privileges (no-new-privileges)');
  });

  t.test('Mattermost runs as its distroless image ships it: no shell, its own command and healthcheck', async (t) => {
    const id = await stack.container('mattermost');
    const info = (await stack.inspect('mattermost')) as unknown as {
      Config: { Healthcheck?: { Test?: string[] }; Entrypoint: unknown; Cmd: string[]; User: string };
      State: { Health?: { Log: Array<{ ExitCode: number; Output: string }> } };
    };
    const image = JSON.parse(await docker(['image', 'inspect', images.mattermost]))[0] as {
      Config: { Healthcheck: { Test: string[] }; Cmd: string[] };
    };
    t.same(info.Config.Healthcheck?.Test, image.Config.Healthcheck.Test, "the healthcheck is the image's own");
    t.same(
      image.Config.Healthcheck.Test,
      ['CMD', '/mattermost/bin/mmctl', 'system', 'status', '--local'],
      'which is mmctl in local mode, as in the real image',
    );
    t.ok(
      info.State.Health?.Log.some((check) => check.ExitCode === 0 && /Server status: OK/.test(check.Output)),
      'and it passed, through the local-mode socket',
    );
    t.same(
      [info.Config.Entrypoint, info.Config.Cmd, info.Config.User],
      [null, image.Config.Cmd, 'mattermost'],
      "the image's command and user, no entrypoint of ours",
    );
    const shell = await stack.exec('mattermost', ['/bin/sh', '-c', 'true']);
    t.not(shell.exitCode, 0, `there is no shell to run (${shell.stderr.trim().split('\n')[0]})`);
    const files = await attempt('bash', ['-o', 'pipefail', '-c', `docker export ${id} | tar -t`], {
      timeoutMs: 120_000,
    });
    t.equal(files.exitCode, 0, files.stderr);
    const names = files.stdout.split('\n').map((line) => line.replace(/\/$/, '').split('/').pop());
    t.ok(names.includes('node') && names.includes('mmctl'), 'control: the listing holds what the stand-in runs');
    t.same(
      names.filter((name) => ['sh', 'bash', 'dash', 'cat', 'curl', 'wget', 'busybox'].includes(name!)),
      [],
      'no shell, cat or curl anywhere in its file system',
    );
    const socket = await stack.exec('mattermost', ['/mattermost/bin/mmctl', 'system', 'status', '--local'], {
      user: '4242',
    });
    t.match(
      { exit: socket.exitCode, stderr: socket.stderr },
      { exit: 2, stderr: /unknown userid 4242/ },
      "another uid cannot use the local-mode socket (mmctl's own check: why compose leaves `user:` unset)",
    );
  });

  t.test('PostgreSQL has no network and listens on no TCP address; the bridge cannot find it', async (t) => {
    const postgres = (await stack.inspect('postgres')) as unknown as {
      HostConfig: { NetworkMode: string };
      NetworkSettings: { Networks: Record<string, unknown> };
    };
    t.equal(postgres.HostConfig.NetworkMode, 'none', 'network mode none');
    t.same(Object.keys(postgres.NetworkSettings.Networks), ['none'], 'no network attached');
    const [pid] = await containerPids(await stack.container('postgres'));
    const listening = ['tcp', 'tcp6'].flatMap((file) =>
      readFileSync(`/proc/${pid}/net/${file}`, 'utf8')
        .split('\n')
        .slice(1)
        .filter((line) => line.trim().split(/\s+/)[3] === '0A'),
    );
    t.same(listening, [], 'no TCP socket listens in its network namespace');
    const probe = `const s=require('net').connect({host:'postgres',port:5432,timeout:3000});s.on('connect',()=>{console.log('connected');process.exit(0)});s.on('timeout',()=>{console.log('timeout');process.exit(2)});s.on('error',e=>{console.log(e.code);process.exit(2)})`;
    const byName = await stack.exec('copilot-bridge', ['node', '-e', probe], { user: 'bridge' });
    t.match(
      { exit: byName.exitCode, said: byName.stdout.trim() },
      { exit: 2, said: /ENOTFOUND|EAI_AGAIN/ },
      `the name postgres does not resolve from the bridge (${byName.stdout.trim()})`,
    );
    const seen = (await stack.mattermost('/__standin/database')) as Record<string, unknown>;
    t.match(
      seen,
      {
        user: 'mmuser',
        database: 'mattermost',
        via: '/var/run/postgresql/.s.PGSQL.5432',
        hadPassword: false,
        connected: true,
      },
      'Mattermost is connected over the socket, with no password',
    );
  });

  t.test(
    "the socket is the only way in, and only postgres and mattermost have it: a stolen copy of Mattermost's environment is worth nothing",
    async (t) => {
      const volume = `${stack.project}_postgres-socket`;
      const ids = (await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${stack.project}`]))
        .split('\n')
        .filter(Boolean);
      const holders: string[] = [];
      for (const id of ids) {
        const info = JSON.parse(await docker(['inspect', id]))[0] as {
          Config: { Labels: Record<string, string> };
          Mounts: Array<{ Name?: string; RW: boolean }>;
        };
        for (const mount of info.Mounts.filter((m) => m.Name === volume))
          holders.push(`${info.Config.Labels['com.docker.compose.service']}:${mount.RW ? 'rw' : 'ro'}`);
      }
      t.same(
        holders.sort(),
        ['mattermost:ro', 'postgres:rw'],
        `the socket volume is mounted by postgres and, read-only, by mattermost; nobody else (${holders.join(', ')})`,
      );
      // Everything Mattermost's container is configured with, as a thief would copy it out of docker inspect.
      const env = ((await stack.inspect('mattermost')) as unknown as { Config: { Env: string[] } }).Config.Env;
      const dataSource = env
        .find((entry) => entry.startsWith('MM_SQLSETTINGS_DATASOURCE='))!
        .slice('MM_SQLSETTINGS_DATASOURCE='.length);
      const psql = (mount: boolean, ...args: string[]) =>
        attempt(
          'docker',
          [
            'run',
            '--rm',
            '--label',
            `${TEST_LABEL}=1`,
            '--network',
            stack.agentNetwork,
            '--user',
            '2000:2000',
            ...env.filter((entry) => !entry.startsWith('PATH=')).flatMap((entry) => ['-e', entry]),
            ...(mount ? ['-v', `${volume}:/var/run/postgresql:ro`] : []),
            '--entrypoint',
            'psql',
            images.postgres,
            '-X',
            '-tA',
            ...args,
          ],
          { timeoutMs: 60_000 },
        );
      const stolen = await psql(false, dataSource, '-c', 'select 1');
      t.match(
        { exit: stolen.exitCode, stderr: stolen.stderr },
        { exit: 2, stderr: /socket "\/var\/run\/postgresql\/\.s\.PGSQL\.5432" failed: No such file or directory/ },
        `with the environment on mattermost-net, the data source leads nowhere (${stolen.stderr.trim().split('\n')[0]})`,
      );
      const overTcp = await psql(false, '-h', 'postgres', '-U', 'mmuser', '-d', 'mattermost', '-c', 'select 1');
      t.match(
        { exit: overTcp.exitCode, stderr: overTcp.stderr },
        { exit: 2, stderr: /could not translate host name "postgres"/ },
        'nor does the name postgres',
      );
      const control = await psql(true, dataSource, '-c', 'select current_user');
      t.equal(
        control.stdout.trim(),
        'mmuser',
        `control: with the socket volume mounted, the same data source logs in (${control.stderr.trim()}), which is why nothing else may mount it`,
      );
      const superuser = await psql(
        true,
        '-h',
        '/var/run/postgresql',
        '-U',
        'postgres',
        '-d',
        'postgres',
        '-c',
        'select 1',
      );
      t.match(
        superuser.stderr,
        /Peer authentication failed for user "postgres"/,
        "on the socket, the superuser is refused to anyone but the postgres container's own postgres user",
      );
      const otherDatabase = await psql(
        true,
        '-h',
        '/var/run/postgresql',
        '-U',
        'mmuser',
        '-d',
        'postgres',
        '-c',
        'select 1',
      );
      t.match(
        otherDatabase.stderr,
        /no pg_hba\.conf entry for host "\[local\]", user "mmuser", database "postgres"/,
        'mmuser reaches its own database only',
      );
      const escalate = await psql(true, dataSource, '-c', 'ALTER ROLE mmuser SUPERUSER');
      t.match(
        escalate.stderr,
        /must be superuser to alter superuser roles|permission denied to alter role/,
        'and mmuser cannot make itself superuser',
      );
      // What the old design put there: a password in a variable, a secret file, the data source, the role.
      const roles = await stack.exec(
        'postgres',
        [
          'psql',
          '-X',
          '-tA',
          '-U',
          'postgres',
          '-d',
          'postgres',
          '-c',
          "select rolname || ':' || rolsuper || ':' || (rolpassword is null) from pg_authid where rolcanlogin order by 1",
        ],
        { user: 'postgres' },
      );
      t.same(
        roles.stdout.trim().split('\n'),
        ['mmuser:false:true', 'postgres:true:true'],
        `no role that can log in has a password, and mmuser is no superuser (${roles.stderr.trim()})`,
      );
      const tables = await stack.exec(
        'postgres',
        [
          'psql',
          '-X',
          '-tA',
          '-U',
          'postgres',
          '-d',
          'mattermost',
          '-c',
          "select tableowner from pg_tables where tablename = 'standin_systems'",
        ],
        { user: 'postgres' },
      );
      t.equal(tables.stdout.trim(), 'mmuser', 'Mattermost created its tables as mmuser, the owner of its database');
      for (const id of ids) {
        const info = JSON.parse(await docker(['inspect', id]))[0] as {
          Name: string;
          Config: { Env: string[] };
          Mounts: Array<{ Destination: string }>;
        };
        t.same(
          info.Config.Env.filter((entry) => /PASSWORD|PASSWD/i.test(entry.split('=')[0]!)),
          [],
          `${info.Name}: no password variable`,
        );
        t.notOk(
          info.Mounts.some((m) => /mm_db_password|mm-db-password/.test(m.Destination)),
          `${info.Name}: no password file mounted`,
        );
      }
      t.notOk(
        new URL(dataSource).password || new URL(dataSource).searchParams.has('password'),
        'the data source holds no password',
      );
      t.same(
        readdirSync(stack.dir).filter((name) => /password/i.test(name)),
        [],
        'nothing password-like is released',
      );
    },
  );

  t.test('the Docker socket is mounted in the socket guard only', async (t) => {
    for (const service of SERVICES) {
      const mounts = (
        (await stack.inspect(service)) as unknown as { Mounts: Array<{ Source: string; Destination: string }> }
      ).Mounts;
      const socket = mounts.some((m) => m.Destination === '/var/run/docker.sock' || m.Source.endsWith('docker.sock'));
      t.equal(
        socket,
        service === 'socket-proxy',
        `${service} ${service === 'socket-proxy' ? 'mounts' : 'does not mount'} the socket`,
      );
    }
  });

  t.test(
    'from the bridge, the socket guard passes ping and version and refuses the rest with a 403 and a JSON reason',
    async (t) => {
      const call = async (method: string, path: string, body?: unknown) => {
        const script =
          `fetch('http://socket-proxy:2375${path}',{method:'${method}',headers:{'content-type':'application/json'}${body ? `,body:${JSON.stringify(JSON.stringify(body))}` : ''}})` +
          `.then(async r=>{console.log(JSON.stringify({status:r.status,body:await r.text()}))},e=>{console.log(JSON.stringify({status:0,body:String(e.cause?.code??e)}))})`;
        const result = await stack.exec('copilot-bridge', ['node', '-e', script], { user: 'bridge' });
        return JSON.parse(result.stdout.trim() || '{"status":-1,"body":""}') as { status: number; body: string };
      };
      const ping = await call('GET', '/_ping');
      t.same([ping.status, ping.body], [200, 'OK'], 'GET /_ping reaches the engine');
      const version = await call('GET', '/version');
      t.equal(version.status, 200, 'GET /version reaches the engine');
      t.match(JSON.parse(version.body || '{}'), { ApiVersion: String }, 'and answers with its version');
      const probeId = randomBytes(8).toString('hex');
      const refusals: Array<[string, string, unknown]> = [
        // Listing containers passes now (the agents' policy filters it to agents); inspecting one of the stack's own
        // does not.
        ['GET', `/containers/${await stack.container('postgres')}/json`, undefined],
        [
          'POST',
          '/containers/create',
          {
            Image: images.base,
            Labels: { 'com.copilot-bridge-stack.test.guard-probe': probeId },
            HostConfig: { Privileged: true, Binds: ['/:/host'] },
          },
        ],
        ['GET', '/images/json', undefined],
        ['POST', '/v1.41/exec/x/start', {}],
      ];
      for (const [method, path, body] of refusals) {
        const answer = await call(method, path, body);
        t.equal(answer.status, 403, `${method} ${path} is refused`);
        t.match(
          JSON.parse(answer.body || '{}'),
          { message: /docker-socket-guard/, rule: String },
          'with a JSON reason naming the rule',
        );
      }
      const created = await docker([
        'ps',
        '-a',
        '-q',
        '--filter',
        `label=com.copilot-bridge-stack.test.guard-probe=${probeId}`,
      ]);
      t.equal(created.trim(), '', 'and no container was created through it');
    },
  );

  t.test('from an agent-like container on mattermost-net, the socket guard is unreachable', async (t) => {
    const guard = await stack.inspect('socket-proxy');
    const ip = Object.entries(guard.NetworkSettings.Networks).find(([name]) => name.endsWith('_socket-proxy-net'))?.[1]
      .IPAddress;
    t.ok(ip, `the guard has an address on socket-proxy-net (${ip})`);
    const probe = (host: string) =>
      `const s=require('net').connect({host:${JSON.stringify(host)},port:2375,timeout:3000});` +
      `s.on('connect',()=>{console.log('connected');process.exit(0)});` +
      `s.on('timeout',()=>{console.log('timeout');process.exit(2)});s.on('error',e=>{console.log(e.code);process.exit(2)})`;
    for (const host of ['socket-proxy', ip!]) {
      const agent = await attempt(
        'docker',
        [
          'run',
          '--rm',
          '--label',
          `${TEST_LABEL}=1`,
          '--label',
          `com.copilot-bridge-stack.test.pid=${process.pid}`,
          '--network',
          `${stack.project}_mattermost-net`,
          '--user',
          '61002',
          '--cap-drop',
          'ALL',
          images.base,
          'node',
          '-e',
          probe(host),
        ],
        { timeoutMs: 60_000 },
      );
      t.equal(agent.exitCode, 2, `${host}:2375 does not answer an agent on mattermost-net (${agent.stdout.trim()})`);
    }
    const control = await stack.exec('copilot-bridge', ['node', '-e', probe('socket-proxy')], { user: 'bridge' });
    t.equal(control.exitCode, 0, 'control: the admin bridge reaches it');
  });
});

t.test('4. killing the bridge makes Docker restart it, and it comes back healthy', async (t) => {
  const before = await stack.inspect('copilot-bridge');
  const authBefore = (await authLog()).length;
  const top = await docker(['top', before.Id, '-eo', 'pid,args']);
  const worker = top.split('\n').find((line) => line.includes('worker.js'));
  const pid = Number(worker?.trim().split(/\s+/)[0]);
  t.ok(pid > 0, `found the worker's host pid ${pid}`);
  process.kill(pid, 'SIGKILL');
  await waitFor(
    'Docker to restart the bridge after its worker was killed',
    async () => (await stack.inspect('copilot-bridge')).RestartCount > before.RestartCount,
    {
      timeoutMs: 30_000,
      intervalMs: 250,
    },
  );
  await stack.waitHealthy('copilot-bridge', 90_000);
  const after = await stack.inspect('copilot-bridge');
  t.equal(after.RestartCount, before.RestartCount + 1, 'restarted once');
  t.equal(after.State.Status, 'running', 'running');
  const events = (await authLog()).slice(authBefore);
  t.ok(
    events.some((e) => e.endpoint === 'users/me' && e.ok && e.tokenSha256 === sha256(botToken())),
    'and authenticated again',
  );
});

t.test('5. Mattermost restarting while the bridge runs is survived', async (t) => {
  const before = await stack.inspect('copilot-bridge');
  await docker(['restart', '-t', '10', await stack.container('mattermost')], { timeoutMs: 60_000 });
  await stack.waitHealthy('mattermost', 90_000);
  await stack.waitHealthy('copilot-bridge', 60_000);
  const after = await stack.inspect('copilot-bridge');
  t.equal(after.State.Status, 'running', 'the bridge is running');
  t.ok(after.RestartCount >= before.RestartCount, `restart count ${before.RestartCount} -> ${after.RestartCount}`);
  const verify = await stack.exec('copilot-bridge', ['copilot-bridge-entrypoint', 'verify']);
  t.equal(verify.exitCode, 0, 'verify is clean afterwards');
  const events = await waitFor(
    'the bridge to open its websocket to the restarted Mattermost',
    async () => {
      const log = await authLog();
      return log.some((e) => e.endpoint === 'websocket' && e.ok && e.tokenSha256 === sha256(botToken())) && log;
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );
  t.ok(events.length > 0, 'the bridge logged in again over the websocket of the new Mattermost process');
});

t.test(
  '6. PostgreSQL restarting is survived: Mattermost connects again over the socket, which stays where it was',
  async (t) => {
    await docker(['restart', '-t', '10', await stack.container('postgres')], { timeoutMs: 60_000 });
    await stack.waitHealthy('postgres', 60_000);
    const seen = await waitFor(
      'Mattermost to connect again',
      async () => {
        const state = (await stack.mattermost('/__standin/database')) as { connected: boolean; via: string };
        return state.connected && state;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    t.equal(seen.via, '/var/run/postgresql/.s.PGSQL.5432', 'over the socket');
    await stack.waitHealthy('mattermost', 60_000);
    t.pass('and Mattermost is healthy');
  },
);

t.test('a leak planted while the bridge runs turns it unhealthy within two healthcheck intervals', async (t) => {
  await stack.waitHealthy('copilot-bridge', 60_000);
  const id = await stack.container('copilot-bridge');
  const log = '/home/bridge/.copilot-bridge/copilot-bridge.log';
  // Written through stdin, so that no command line holds the value.
  const planted = Date.now();
  await docker(['exec', '-i', '-u', 'bridge', id, 'sh', '-c', `cat >> ${log}`], {
    input: `debug ${Buffer.from(botToken()).toString('base64')}\n`,
    timeoutMs: 30_000,
  });
  await waitFor('the bridge to turn unhealthy', async () => (await stack.health('copilot-bridge')) === 'unhealthy', {
    timeoutMs: 30_000,
    intervalMs: 100,
  });
  const took = Date.now() - planted;
  t.comment(`unhealthy ${took} ms after the leak was written (interval 1 s, one failure enough)`);
  // Two intervals, plus what docker exec and inspect take on a busy machine.
  t.ok(took <= 2_000 + 2_000, `within two intervals and the engine's own delays (${took} ms)`);
  const state = await stack.inspect('copilot-bridge');
  const last = state.State.Health?.Log.at(-1)?.Output ?? '';
  t.match(last, /leak: \S+copilot-bridge\.log holds \$\.\S+ \(base64\)/, 'the healthcheck output names the place');
  t.notMatch(last, botToken(), 'and not the value');
  t.notMatch(last, Buffer.from(botToken()).toString('base64').slice(0, 20), 'in no form');
  await docker(['exec', '-u', 'bridge', id, 'sh', '-c', `: > ${log}`], { timeoutMs: 30_000 });
  await stack.waitHealthy('copilot-bridge', 30_000);
  t.pass('healthy again once the log holds no secret');
});

t.test('3. compose stop shuts the bridge down cleanly within 10 s', async (t) => {
  const home = '/home/bridge/.copilot-bridge';
  await stack.exec('copilot-bridge', ['rm', '-f', `${home}/shutdown-clean`], { user: 'bridge' });
  const started = Date.now();
  await stack.compose(['stop', '-t', '10', 'copilot-bridge'], 60_000);
  const seconds = (Date.now() - started) / 1000;
  t.ok(seconds < 10, `stopped in ${seconds.toFixed(1)} s`);
  const state = (await stack.inspect('copilot-bridge')).State;
  t.equal(state.Status, 'exited', 'the container exited');
  t.equal(
    state.ExitCode,
    143,
    'the entrypoint reports the bridge ended by SIGTERM (128 + 15), not SIGKILL at the deadline (137) nor an init failure (1)',
  );
  const volume = `${stack.project}_bridge-home`;
  const read = await docker(
    [
      'run',
      '--rm',
      '--label',
      `${TEST_LABEL}=1`,
      '--label',
      `com.copilot-bridge-stack.test.pid=${process.pid}`,
      '--network',
      'none',
      '-v',
      `${volume}:/h:ro`,
      '--entrypoint',
      'sh',
      images.base,
      '-c',
      'cat /h/.copilot-bridge/shutdown-clean; echo; tail -n 5 /h/.copilot-bridge/copilot-bridge.log',
    ],
    { timeoutMs: 60_000 },
  );
  t.match(
    read,
    /^SIGTERM\n/,
    'the worker wrote its clean-shutdown marker (it got SIGTERM although the launcher does not forward it)',
  );
  t.match(read, /Shutting down\.\.\. \(SIGTERM\)/, 'and logged its shutdown');
  t.match(
    await stack.logsTail('copilot-bridge', 5),
    /ended by SIGTERM; exiting 143/,
    'the supervisor waited for it and said so',
  );
});

t.test('7. the whole stack stops cleanly, its socket volume goes with it, and it comes back', async (t) => {
  await stack.compose(['stop', '-t', '10'], 120_000);
  const codes: Record<string, number> = {};
  for (const service of SERVICES) {
    const state = (await stack.inspect(service)).State;
    codes[service] = state.Status === 'exited' ? state.ExitCode : -1;
  }
  t.same(
    { postgres: codes.postgres, mattermost: codes.mattermost },
    { postgres: 0, mattermost: 0 },
    `postgres and Mattermost exit 0 on SIGTERM (${JSON.stringify(codes)})`,
  );
  t.notMatch(
    readFileSync('/proc/self/mountinfo', 'utf8'),
    `${stack.project}_postgres-socket/_data`,
    'the socket tmpfs is unmounted once neither container runs: no stale socket or lock file survives',
  );
  await stack.compose(['up', '-d', '--no-build'], 300_000);
  await stack.waitHealthy('copilot-bridge', 180_000);
  const database = (await stack.mattermost('/__standin/database')) as { connected: boolean };
  t.equal(database.connected, true, 'Mattermost is connected to its database again');
  const events = await authLog();
  t.ok(
    events.some((e) => e.endpoint === 'users/me' && e.ok && e.tokenSha256 === sha256(botToken())),
    'and the bridge logged in to it',
  );
});
