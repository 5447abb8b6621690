// `npm run up` and `npm run down` (the built host-seal CLI) against the real
// stack on a real Docker engine: a fake service-account token sealed in a
// software TPM, released by `up` to the tmpfs release directory root-only,
// handed to compose as OP_SA_TOKEN_FILE, and the stack waited for until
// healthy; `down` stops it and wipes the released file. Images and
// stand-ins as in stack.e2e.ts. Run after `npm run build`:
//   npx tap test/e2e/seal-up-down.e2e.ts
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
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

t.setTimeout(15 * 60_000);

t.test('up releases the sealed token and brings the stack up healthy; down stops it and wipes the token', async (t) => {
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

  const sealed = await cli(['seal'], { env, input: token, cwd: box.root });
  t.equal(sealed.exitCode, 0, `seal succeeds (${String(sealed.stderr).trim()})`);

  const up = await cli(['up', '--timeout', '240'], { env, cwd: box.root });
  t.equal(up.exitCode, 0, `up succeeds (${String(up.stderr).split('\n').slice(-3).join(' | ')})`);
  t.match(String(up.stderr), /up: all \d+ services ready/, 'and reports every service ready');
  const released = join(box.runtime, 'copilot-bridge-stack', 'op-sa-token');
  const info = statSync(released);
  t.same([info.uid, info.mode & 0o777], [0, 0o400], 'the released token is root-only 0400 while the stack runs');
  t.match(String(up.stderr), /up: generated and sealed mm-db-password with tpm2/, "the first up makes Mattermost's database password and seals it");
  const releasedPassword = join(box.runtime, 'copilot-bridge-stack', 'mm-db-password');
  t.equal(statSync(releasedPassword).mode & 0o777, 0o444, 'it is released 0444, for the database containers\' own users');
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
  t.notOk(existsSync(releasedPassword), 'and so is the database password');
  t.match(String(down.stderr), /down: removing 1 agent container\(s\) of /, 'down removed the agent first');
  const left = await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]);
  t.equal(left.trim(), '', 'no container of the stack is left');
  t.equal((await docker(['ps', '-aq', '--filter', `label=com.copilot-bridge-stack.project=${project}`])).trim(), '', 'nor any agent of it');
});
