// `npm run up` and `npm run down` (the built host-seal CLI) against the real
// stack on a real Docker engine: a fake service-account token sealed in a
// software TPM, released by `up` to the tmpfs release directory root-only,
// handed to compose as OP_SA_TOKEN_FILE, and the stack waited for until
// healthy; `down` stops it and wipes the released file. Images and
// stand-ins as in stack.e2e.ts. Run after `npm run build`:
//   npx tap test/e2e/seal-up-down.e2e.ts
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { backend, contextOf } from '../../host-seal/backends/registry.js';
import { cli, sandbox } from '../fixtures/host-seal/cli.js';
import { startSwtpm } from '../fixtures/host-seal/swtpm.js';
import { fakeServiceAccountToken } from '../fixtures/tokens.js';
import { assertNoSecrets } from '../helpers/no-secrets.js';
import { removeProject, removeStaleProjects } from './harness/cleanup.js';
import { ensureDockerEngine } from './harness/engine.js';
import { buildTestImages } from './harness/images.js';
import { TEST_LABEL } from './harness/paths.js';
import { attempt, docker, run } from './harness/run.js';
import { COMPOSE_FILES, freePort, projectName, stackEnv, stackItems, writeStandinInputs } from './harness/stack.js';
import { waitFor } from './harness/wait.js';

t.setTimeout(15 * 60_000);

/** A sandboxed host (HOME, config directory, tmpfs runtime directory), a software TPM, the stand-ins' inputs and a project name, for one test. */
async function host(t: Test) {
  await ensureDockerEngine();
  await removeStaleProjects();
  const images = await buildTestImages();
  const box = await sandbox(t);
  const tpm = await startSwtpm(box.root);
  t.teardown(() => tpm.stop());
  const token = fakeServiceAccountToken();
  const items = stackItems();
  const standins = mkdtempSync(join(tmpdir(), 'cbs-e2e-standins-'));
  await run('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', standins]);
  t.teardown(async () => {
    await attempt('umount', ['-l', standins]);
    rmSync(standins, { recursive: true, force: true });
  });
  writeStandinInputs(standins, token, items, 2000);
  const project = projectName();
  t.teardown(() => removeProject(project));
  const port = await freePort();
  const env = {
    ...box.env,
    TPM2TOOLS_TCTI: tpm.tcti,
    COMPOSE_FILE: COMPOSE_FILES.join(':'),
    COMPOSE_PROJECT_NAME: project,
    DOCKER_BUILDKIT: '0',
    ...stackEnv(images, standins, port),
  };
  return { images, box, token, items, standins, project, port, env };
}

t.test('up releases the sealed token and brings the stack up healthy; down stops it and wipes the token', async (t) => {
  const { images, box, token, items, project, port, env } = await host(t);

  const sealed = await cli(['seal'], { env, input: token, cwd: box.root });
  t.equal(sealed.exitCode, 0, `seal succeeds (${String(sealed.stderr).trim()})`);

  const up = await cli(['up', '--timeout', '240'], { env, cwd: box.root });
  t.equal(up.exitCode, 0, `up succeeds (${String(up.stderr).split('\n').slice(-3).join(' | ')})`);
  t.match(String(up.stderr), /up: all \d+ services ready/, 'and reports every service ready');
  const released = join(box.runtime, 'copilot-bridge-stack', 'op-sa-token');
  const info = statSync(released);
  t.same([info.uid, info.mode & 0o777], [0, 0o400], 'the released token is root-only 0400 while the stack runs');
  t.notMatch(String(up.stderr), /mm-db-password/, 'no database password is made, sealed or released');
  t.same(readdirSync(join(box.runtime, 'copilot-bridge-stack')), ['op-sa-token'], 'the token is the only released file');
  assertNoSecrets(t, "up's output", `${up.stdout}\n${up.stderr}`, [token, ...Object.values(items)]);

  const bridge = (await docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'label=com.docker.compose.service=copilot-bridge'])).trim();
  const mounts = await docker(['inspect', '--format', '{{range .Mounts}}{{.Source}} {{.Destination}}{{"\\n"}}{{end}}', bridge]);
  t.match(mounts, `${released} /run/secrets/op_sa_token`, 'the bridge gets exactly the released file as its secret');
  const log = (await (await fetch(`http://127.0.0.1:${port}/__standin/auth-log`)).json()) as { events: Array<{ endpoint: string; ok: boolean; tokenSha256: string }> };
  const botHash = createHash('sha256').update(items['op://copilot-bridge/mattermost-admin-bot/token']!).digest('hex');
  t.ok(log.events.some((e) => e.endpoint === 'users/me' && e.ok && e.tokenSha256 === botHash), 'the bridge authenticated with the bot token rendered from the sealed token');
  const verify = await attempt('docker', ['exec', bridge, 'copilot-bridge-entrypoint', 'verify']);
  t.equal(verify.exitCode, 0, 'verify is clean');
  const bridgeEnv = await docker(['inspect', '--format', '{{range .Config.Env}}{{println .}}{{end}}', bridge]);
  t.match(bridgeEnv, /^COPILOT_BRIDGE_RELEASED=op-sa-token$/m, 'up tells the admin which credentials were released');
  // An agent (not a compose service) on mattermost-net, holding a released token: down must remove it first.
  await docker(['run', '-d', '--network', `${project}_mattermost-net`, '--label', 'com.copilot-bridge-stack.agent=lal', '--label', `com.copilot-bridge-stack.project=${project}`,
    '--label', `${TEST_LABEL}=1`, '--mount', `type=bind,source=${released},target=/run/secrets/op_sa_token,readonly`, '--entrypoint', 'sleep', images.bridge, '300']);

  const down = await cli(['down'], { env, cwd: box.root });
  t.equal(down.exitCode, 0, `down succeeds (${String(down.stderr).split('\n').slice(-2).join(' | ')})`);
  t.notOk(existsSync(released), 'the released token is wiped');
  t.match(String(down.stderr), /down: removing 1 agent container\(s\) of /, 'down removed the agent first');
  const left = await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]);
  t.equal(left.trim(), '', 'no container of the stack is left');
  t.equal((await docker(['ps', '-aq', '--filter', `label=com.copilot-bridge-stack.project=${project}`])).trim(), '', 'nor any agent of it');
});

t.test("an older stack's database password: the next up retires it, and Mattermost connects without one", async (t) => {
  const { images, box, token, standins, project, port, env } = await host(t);
  t.equal((await cli(['seal'], { env, input: token, cwd: box.root })).exitCode, 0, 'the token is sealed');
  // What an older stack's first up left: the password sealed as mm-db-password, and a database volume
  // PostgreSQL made with POSTGRES_USER=mmuser and that password (as the older compose.yml had it).
  const password = randomBytes(24).toString('hex');
  // Sealed as the older up did it: through the backend itself (seal checks for a service-account token's shape).
  await backend('tpm2', contextOf({ env, platform: 'linux' })).seal('mm-db-password', password, { pcrs: [], auth: undefined });
  t.match(String((await cli(['status'], { env, cwd: box.root })).stdout), /mm-db-password/, 'status lists the old password as sealed');
  const volume = `${project}_postgres-data`;
  await docker(['volume', 'create', '--label', `com.docker.compose.project=${project}`, '--label', 'com.docker.compose.volume=postgres-data', '--label', `${TEST_LABEL}=1`, volume]);
  writeFileSync(join(standins, 'old-password'), password, { mode: 0o444 });
  const old = (await docker(['run', '-d', '--label', `${TEST_LABEL}=1`, '-v', `${volume}:/var/lib/postgresql/data`, '-v', `${join(standins, 'old-password')}:/run/secrets/mm_db_password:ro`,
    '-e', 'POSTGRES_USER=mmuser', '-e', 'POSTGRES_DB=mattermost', '-e', 'POSTGRES_PASSWORD_FILE=/run/secrets/mm_db_password', images.postgres])).trim();
  const login = () => attempt('docker', ['exec', '-e', `PGPASSWORD=${password}`, old, 'psql', '-X', '-tA', '-h', '127.0.0.1', '-U', 'mmuser', '-d', 'mattermost', '-c', 'select 1']);
  await waitFor('the old database to take its password', async () => (await login()).stdout.trim() === '1', { timeoutMs: 60_000, intervalMs: 500 });
  t.pass('control: the old volume has mmuser with that password, over TCP');
  await docker(['rm', '-f', old]);
  rmSync(join(standins, 'old-password'));

  const up = await cli(['up', '--timeout', '240'], { env, cwd: box.root });
  t.equal(up.exitCode, 0, `up succeeds (${String(up.stderr).split('\n').slice(-3).join(' | ')})`);
  t.match(String(up.stderr), /up: retired mm-db-password: mmuser has no password any more and the sealed copy is forgotten/, 'up says it retired the password');
  t.notMatch(String(up.stderr), /released mm-db-password/, 'it was never released');
  const status = await cli(['status'], { env, cwd: box.root });
  t.notMatch(`${status.stdout}${status.stderr}`, /mm-db-password/, 'status no longer lists it');
  t.same(readdirSync(join(box.env.XDG_CONFIG_HOME!, 'copilot-bridge-stack')).filter((name) => name.startsWith('mm-db-password')), [], 'its sealed blob is gone');
  const postgres = (await docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'label=com.docker.compose.service=postgres'])).trim();
  const role = await attempt('docker', ['exec', postgres, 'psql', '-X', '-tA', '-U', 'mmuser', '-d', 'mattermost', '-c', "select (rolpassword is null) from pg_authid where rolname = 'mmuser'"]);
  t.equal(role.stdout.trim(), 't', `mmuser's stored password is gone (${role.stderr.trim()})`);
  const seen = (await (await fetch(`http://127.0.0.1:${port}/__standin/database`)).json()) as Record<string, unknown>;
  t.match(seen, { user: 'mmuser', via: '/var/run/postgresql/.s.PGSQL.5432', hadPassword: false, connected: true }, 'Mattermost connects over the socket, with no password');
  const ids = (await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`])).split('\n').filter(Boolean);
  for (const id of ids) {
    const logs = await attempt('docker', ['logs', id]);
    assertNoSecrets(t, `inspect and logs of ${id.slice(0, 12)}`, `${await docker(['inspect', id])}\n${logs.stdout}\n${logs.stderr}`, [password, token]);
  }
  assertNoSecrets(t, "up's output", `${up.stdout}\n${up.stderr}`, [password, token]);

  const again = await cli(['up', '--timeout', '240'], { env, cwd: box.root });
  t.equal(again.exitCode, 0, 'a second up succeeds');
  t.notMatch(String(again.stderr), /retired/, 'and has nothing left to retire');
  t.equal((await cli(['down'], { env, cwd: box.root })).exitCode, 0, 'down succeeds');
});
