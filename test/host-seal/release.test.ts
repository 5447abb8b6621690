// What `up`, `down` and `forget` do without a Docker daemon: where tokens are
// released, with which owner and mode, that a wipe overwrites before it
// unlinks, and which Compose is chosen from the real binaries on PATH. The
// stack itself is tested with the Docker harness.
import { chmod, chown, mkdir, mkdtemp, open, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import t, { type Test } from 'tap';
import { fakeToken } from '../fixtures/host-seal/fake-token.js';
import { asNobody, NOBODY } from '../support/as-user.js';
import { ensureDockerEngine } from '../support/e2e/engine.js';
import { buildWaiter } from '../support/e2e/waiter.js';
import { cli, MAIN, sandbox } from '../support/host-seal/cli.js';
import { leaks } from '../support/host-seal/leaks.js';
import { startSwtpm } from '../support/host-seal/swtpm.js';
import { ROOT } from '../support/scenario.js';

/** A valid agents file (up refuses to start without one). */
const FILLED_AGENTS = join(import.meta.dirname, '..', 'fixtures', 'agents.json');

// In this process the source itself (what mutation testing changes); in the children, as nobody, the compiled module.
const release = await import('../../host-seal/stack/release.js');
const composeModule = await import('../../host-seal/stack/compose.js');
const token = fakeToken();
/** Runs `command` as uid 0 without any capability: root in a container that dropped them all. */
const asRootWithoutCaps = (command: string[]) =>
  execa('setpriv', ['--inh-caps=-all', '--bounding-set=-all', ...command], { reject: false, stdin: 'ignore' });

t.test(
  "the release directory: XDG_RUNTIME_DIR, else root's own under /run or a per-user name in /dev/shm; macOS: TMPDIR, not indexed",
  async (t) => {
    t.equal(release.releaseDir({ XDG_RUNTIME_DIR: '/run/user/1000' }, 'linux'), '/run/user/1000/copilot-bridge-stack');
    t.equal(release.releaseDir({}, 'linux', 0), '/run/copilot-bridge-stack', 'root: /run, which only root may write');
    t.equal(
      release.releaseDir({}, 'linux', 1000),
      '/dev/shm/copilot-bridge-stack-1000',
      'a user: a name of its own in /dev/shm',
    );
    t.equal(
      release.releaseDir({ TMPDIR: '/var/folders/ab/T/' }, 'darwin'),
      '/var/folders/ab/T/copilot-bridge-stack.noindex',
    );
  },
);

t.test('the release directory is 0700, ours, and in RAM', async (t) => {
  const box = await sandbox(t);
  const dir = release.releaseDir(box.env, 'linux');
  (await release.prepareReleaseDir(dir, 'linux')).close();
  t.equal((await stat(dir)).mode & 0o777, 0o700, 'created 0700');

  const onDisk = join(box.root, 'not-tmpfs', 'copilot-bridge-stack');
  await mkdir(join(box.root, 'not-tmpfs'));
  await t.rejects(release.prepareReleaseDir(onDisk, 'linux'), {
    code: 'not-tmpfs',
    exitCode: 77,
    message: /is not on a tmpfs, so a released token would reach the disk; point XDG_RUNTIME_DIR at a tmpfs/,
  });
  t.same(await readdir(join(box.root, 'not-tmpfs')), [], 'the refused directory is removed again');

  const planted = join(box.runtime, 'planted');
  await mkdir(join(box.runtime, 'elsewhere'));
  await symlink(join(box.runtime, 'elsewhere'), planted);
  await t.rejects(
    release.prepareReleaseDir(planted, 'linux'),
    { code: 'unsafe-dir', exitCode: 77 },
    'a planted symlink is refused',
  );
  const foreign = join(box.runtime, 'foreign');
  await mkdir(foreign, { mode: 0o777 });
  await chown(foreign, NOBODY, NOBODY);
  await t.rejects(
    release.prepareReleaseDir(foreign, 'linux'),
    { code: 'unsafe-dir', message: /belongs to uid 65534, not to you; remove it/ },
    "another user's directory is refused",
  );
  const theirs = join(box.runtime, 'theirs');
  await mkdir(theirs, { mode: 0o755 });
  await chown(theirs, NOBODY, NOBODY);
  await t.rejects(
    release.prepareReleaseDir(join(theirs, 'copilot-bridge-stack'), 'linux'),
    { code: 'unsafe-dir', exitCode: 77, message: /theirs belongs to uid 65534, who could swap the release directory/ },
    "a directory under another user's is refused (they could swap it)",
  );
  const open = join(box.runtime, 'world-writable');
  await mkdir(open);
  await chmod(open, 0o777);
  await t.rejects(
    release.prepareReleaseDir(join(open, 'copilot-bridge-stack'), 'linux'),
    { code: 'unsafe-dir', message: /may be written by other users and is not sticky/ },
    'a directory under a world-writable one without the sticky bit is refused',
  );
  await chmod(open, 0o1777);
  (await release.prepareReleaseDir(join(open, 'copilot-bridge-stack'), 'linux')).close();
  t.pass('with the sticky bit (as /dev/shm has) it is accepted: no one else can move our entry');
});

t.test('as root: root:root 0400, readable by root without capabilities, not by an unprivileged uid', async (t) => {
  const box = await sandbox(t);
  const dir = release.releaseDir(box.env, 'linux');
  const handle = await release.prepareReleaseDir(dir, 'linux');
  const path = await release.releaseToken(handle, 'op-sa-token', token);
  handle.close();
  const info = await stat(path);
  t.equal(info.mode & 0o777, 0o400, 'mode 0400');
  t.same([info.uid, info.gid], [0, 0], 'owned by root:root');
  t.equal(await readFile(path, 'utf8'), token, 'the token, exactly');
  t.same(await readdir(dir), ['op-sa-token'], 'no temporary file left');
  await chmod(dir, 0o711); // a bind mount exposes the file alone, so test the file's own mode
  const bridge = await asNobody(['cat', path]);
  t.not(bridge.exitCode, 0, 'uid 65534 cannot read it');
  t.match(bridge.stderr, /Permission denied/);
  const entrypoint = await asRootWithoutCaps(['cat', path]);
  t.equal(entrypoint.stdout, token, 'root reads it even with every capability dropped');
});

t.test('as a user: mode 0000, so not even a process with the same uid and no capabilities reads it', async (t) => {
  const box = await sandbox(t);
  await chmod(box.runtime, 0o1777); // like /dev/shm: the user creates the release directory itself
  const dir = join(box.runtime, 'copilot-bridge-stack');
  const script = `const m = await import(${JSON.stringify(new URL('../../dist/host-seal/stack/release.js', import.meta.url).href)});
    let text = ''; for await (const c of process.stdin) text += c;
    const d = await m.prepareReleaseDir(process.argv[1], 'linux'); console.log(await m.releaseToken(d, 'op-sa-token', text));`;
  const released = await asNobody(['node', '--input-type=module', '-e', script, dir], { input: token });
  t.equal(released.exitCode, 0, released.stderr);
  const path = released.stdout.trim();
  const info = await stat(path);
  t.equal(info.mode & 0o777, 0o000, 'mode 0000');
  t.equal(info.uid, NOBODY, 'owned by the user');
  const sameUid = await asNobody(['cat', path]);
  t.not(sameUid.exitCode, 0, 'a bridge whose uid equals the user on the host still cannot read it');
  t.equal(await readFile(path, 'utf8'), token, 'root (CAP_DAC_OVERRIDE, as the entrypoint in a rootful container) can');
  const wiped = await asNobody([
    'node',
    '--input-type=module',
    '-e',
    `const m = await import(${JSON.stringify(new URL('../../dist/host-seal/stack/release.js', import.meta.url).href)}); console.log((await m.wipeReleased(process.argv[1], 'linux')).wiped.join(','));`,
    dir,
  ]);
  t.equal(wiped.stdout.trim(), 'op-sa-token', 'the user can wipe it (chmod, overwrite, unlink)');
  await t.rejects(stat(dir), { code: 'ENOENT' }, 'and the directory is gone');
});

/** A release directory with two released tokens, as `up` leaves it; the shared token's path. */
async function twoReleased(t: Test): Promise<{ dir: string; path: string }> {
  const box = await sandbox(t);
  const dir = release.releaseDir(box.env, 'linux');
  const handle = await release.prepareReleaseDir(dir, 'linux');
  const path = await release.releaseToken(handle, 'op-sa-token', token);
  await release.releaseToken(handle, 'agent-lal', token);
  handle.close();
  return { dir, path };
}

t.test('a wipe overwrites the file in place before unlinking it', async (t) => {
  const { dir, path } = await twoReleased(t);
  const held = await open(path, 'r'); // as a container's bind mount holds the same inode
  t.same((await release.wipeReleased(dir)).wiped.sort(), ['agent-lal', 'op-sa-token']);
  const { buffer } = await held.read(Buffer.alloc(token.length), 0, token.length, 0);
  await held.close();
  t.ok(
    buffer.every((byte) => byte === 0),
    'the inode a holder still has open reads as zeros',
  );
  await t.rejects(stat(dir), { code: 'ENOENT' }, 'files and directory removed');
  t.same(await release.wipeReleased(dir), { wiped: [], failed: [] }, 'wiping again is a no-op');
});

t.test('a wipe goes on past an entry it cannot remove, and names it', async (t) => {
  const { dir, path } = await twoReleased(t);
  await mkdir(join(dir, 'a-stray-directory'));
  const result = await release.wipeReleased(dir);
  t.same(result.wiped.sort(), ['agent-lal', 'op-sa-token'], 'both tokens are wiped');
  t.same(
    result.failed,
    ['a-stray-directory: a directory (a release holds files only)'],
    'the stray directory is reported',
  );
  await t.rejects(stat(path), { code: 'ENOENT' });
  t.same(await readdir(dir), ['a-stray-directory'], 'only the stray entry is left');
});

t.test('status shows a released copy; forget wipes it with the seal', async (t) => {
  const box = await sandbox(t);
  const tpm = await startSwtpm(box.root);
  t.teardown(() => tpm.stop());
  const env = { ...box.env, TPM2TOOLS_TCTI: tpm.tcti };
  t.equal((await cli(['seal'], { env, input: token })).exitCode, 0);
  const dir = release.releaseDir(env, 'linux');
  const handle = await release.prepareReleaseDir(dir, 'linux');
  const path = await release.releaseToken(handle, 'op-sa-token', token);
  handle.close();
  t.match((await cli(['status'], { env })).stdout, new RegExp(`op-sa-token .* yes: ${path}$`, 'm'));
  const unnamed = await cli(['forget'], { env });
  t.match(
    { exit: unnamed.exitCode, stderr: unnamed.stderr },
    { exit: 64, stderr: /forget needs --name \(it cannot be undone\); sealed: op-sa-token/ },
    'without --name (and no terminal) nothing is forgotten',
  );
  const forgot = await cli(['forget', '--name', 'op-sa-token'], { env });
  t.match(forgot.stderr, 'forgot op-sa-token: removed the tpm2 seal, wiped the released copy');
  await t.rejects(stat(path), { code: 'ENOENT' });
});

/** A directory holding symlinks to only the named real binaries, to use as PATH. */
async function pathWith(root: string, binaries: string[]): Promise<string> {
  const dir = await mkdtemp(join(root, 'path-'));
  for (const binary of binaries) {
    const real = (await execa('bash', ['-c', `command -v ${binary}`], { reject: false })).stdout.trim();
    if (real) await symlink(real, join(dir, binary));
  }
  return dir;
}

t.test('compose selection with the real binaries: v2 plugin, else v1, else a clear error', async (t) => {
  const box = await sandbox(t);
  const v2 = (await execa('docker', ['compose', 'version'], { reject: false })).exitCode === 0;
  const v1 = (await execa('docker-compose', ['version'], { reject: false })).exitCode === 0;
  // Each branch runs here, whatever is installed: v1 is (scripts/install-test-deps.sh), and where the v2 plugin
  // is not (Debian has no package of it), a docker that answers `docker compose version` stands in for it.
  t.ok(v1, 'docker-compose v1 runs here (scripts/install-test-deps.sh installs it); without it this test cannot run');
  const both = { PATH: await pathWith(box.root, ['docker', 'docker-compose']) };
  if (!v2) {
    const plugin = join(both.PATH, 'docker');
    await rm(plugin);
    await writeFile(
      plugin,
      `#!/bin/sh\n# Stands for docker with the Compose v2 plugin.\n[ "$1" = compose ] && { echo 'Docker Compose version v2.29.7'; exit 0; }\nexec ${(await execa('bash', ['-c', 'command -v docker'])).stdout.trim()} "$@"\n`,
      { mode: 0o755 },
    );
  }
  t.equal((await composeModule.findCompose(both)).label, 'docker compose', 'v2 preferred when its plugin runs');
  t.equal(
    (await composeModule.findCompose({ PATH: await pathWith(box.root, ['docker-compose']) })).label,
    'docker-compose',
    'v1 alone',
  );
  const pluginless = await pathWith(box.root, ['docker-compose']);
  await writeFile(
    join(pluginless, 'docker'),
    '#!/bin/sh\necho "docker: \'compose\' is not a docker command." >&2; exit 1\n',
    {
      mode: 0o755,
    },
  );
  t.equal(
    (await composeModule.findCompose({ PATH: pluginless })).label,
    'docker-compose',
    'docker without the compose plugin: falls back to docker-compose v1',
  );
  const alone = await pathWith(box.root, []);
  await writeFile(
    join(alone, 'docker'),
    '#!/bin/sh\necho "docker: \'compose\' is not a docker command." >&2; exit 1\n',
    {
      mode: 0o755,
    },
  );
  await t.rejects(
    composeModule.findCompose({ PATH: alone }),
    { code: 'compose-missing' },
    'docker without the plugin and no v1',
  );
  await t.rejects(composeModule.findCompose({ PATH: await pathWith(box.root, []) }), {
    code: 'compose-missing',
    exitCode: 69,
    message:
      /neither `docker compose` \(the v2 plugin\) nor `docker-compose` \(v1\) runs here; install the Docker Compose plugin/,
  });
});

t.test(
  'up checks before it releases: nothing sealed, no Compose, no compose file, placeholders, no engine',
  async (t) => {
    const box = await sandbox(t);
    const tpm = await startSwtpm(box.root);
    t.teardown(() => tpm.stop());
    const cwd = await mkdtemp(join(box.root, 'no-compose-file-'));
    const env = { ...box.env, TPM2TOOLS_TCTI: tpm.tcti, SECRETS_SOURCE: '1password', AGENTS_FILE: FILLED_AGENTS };
    const dir = release.releaseDir(env, 'linux');
    await writeFile(join(cwd, 'compose.yml'), 'services: {}\n');

    const empty = await cli(['up'], { env, cwd });
    t.match(
      { exit: empty.exitCode, stderr: empty.stderr },
      {
        exit: 66,
        stderr:
          /nothing is sealed under op-sa-token, the token the stack runs on \(SECRETS_SOURCE=1password\); seal it first/,
      },
      'up with nothing sealed',
    );

    t.equal((await cli(['seal'], { env, input: token })).exitCode, 0);
    await ensureDockerEngine();
    // A value pasted where Compose reads an interpolation: its error quotes the line.
    await writeFile(join(cwd, 'unreadable.yml'), `services:\n  x:\n    image: "\${${token}"\n`);
    const cases: Array<[string, Record<string, string>, string[], string, number, RegExp]> = [
      [
        'no compose on PATH',
        { PATH: await pathWith(box.root, ['node', 'tpm2_createprimary']) },
        [],
        cwd,
        69,
        /neither `docker compose` .* nor `docker-compose`/,
      ],
      [
        'no compose file here',
        {},
        [],
        box.root,
        66,
        /no compose\.yml in .*; run this from the copilot-bridge-stack checkout, or pass --file/,
      ],
      [
        'a --file that does not exist',
        {},
        ['--file', 'nope.yml'],
        cwd,
        66,
        /the compose file nope\.yml does not exist; check --file/,
      ],
      [
        'the example agents file, placeholders and all',
        { AGENTS_FILE: join(import.meta.dirname, '..', '..', 'agents.example.json') },
        [],
        cwd,
        78,
        /agents: admin\.channels\[0\]\.id still holds the example's placeholder \(REPLACE-WITH-\.\.\.\); put the real value there/,
      ],
      [
        'a compose file Compose cannot read, at a line that holds a value',
        {},
        ['--file', 'unreadable.yml'],
        cwd,
        78,
        /cannot read the compose file \(.*<masked>.*\); fix it or the \.env setting it names$/,
      ],
      [
        'no Docker engine',
        { DOCKER_HOST: `unix://${join(box.root, 'no-engine.sock')}` },
        [],
        cwd,
        69,
        /the Docker engine does not answer \(.*\); start it \(systemctl start docker\) or check DOCKER_HOST/,
      ],
    ];
    for (const [what, extra, args, where, exit, message] of cases) {
      const run = await cli(['up', ...args], { env: { ...env, ...extra }, cwd: where });
      t.equal(run.exitCode, exit, `${what}: exit ${exit}`);
      t.match(run.stderr.trim().split('\n').at(-1), message, `${what}: one line that says what to do`);
      t.ok(
        run.stderr.trim().split('\n').length <= 3,
        `${what}: no traceback (${run.stderr.trim().split('\n').length} lines)`,
      );
      await t.rejects(stat(dir), { code: 'ENOENT' }, `${what}: nothing was released`);
      t.notOk(leaks(run.stdout + run.stderr, token), `${what}: no token in the output`);
    }
  },
);

t.test(
  'a failure after the release wipes it again when nothing of the stack runs; down wipes even without a compose file',
  async (t) => {
    await ensureDockerEngine();
    const box = await sandbox(t);
    const tpm = await startSwtpm(box.root);
    t.teardown(() => tpm.stop());
    const cwd = await mkdtemp(join(box.root, 'broken-stack-'));
    const project = `cbs-broken-${process.pid}`;
    const image = `copilot-bridge-stack/test-broken:${process.pid}`;
    const env = {
      ...box.env,
      TPM2TOOLS_TCTI: tpm.tcti,
      COMPOSE_PROJECT_NAME: project,
      DOCKER_BUILDKIT: '0',
      SECRETS_SOURCE: '1password',
      AGENTS_FILE: FILLED_AGENTS,
    };
    t.teardown(async () => {
      await execa('docker-compose', ['down', '-v'], {
        cwd,
        env: { ...env, OP_SA_TOKEN_FILE: '/dev/null' },
        reject: false,
      });
      await execa('docker', ['rmi', '-f', image], { reject: false });
    });
    const dir = release.releaseDir(env, 'linux');
    // A postgres that mounts no released file, as the real one: its running does not keep the token on disk.
    const waiter = `cbs-broken-waiter:${process.pid}`;
    await buildWaiter(box.root, waiter);
    t.teardown(() => execa('docker', ['rmi', '-f', waiter], { reject: false }));
    // An image the stack builds itself (FROM scratch: no registry), whose command cannot start.
    await mkdir(join(cwd, 'broken'));
    await writeFile(
      join(cwd, 'broken', 'Dockerfile'),
      'FROM scratch\nLABEL com.copilot-bridge-stack.test=1\nCMD ["/no/such/program"]\n',
    );
    await writeFile(
      join(cwd, 'compose.yml'),
      `services:\n  broken:\n    build: ./broken\n    image: ${image}\n    labels:\n      com.copilot-bridge-stack.test: "1"\n    secrets: [op_sa_token]\n  postgres:\n    image: ${waiter}\n    labels:\n      com.copilot-bridge-stack.test: "1"\nsecrets:\n  op_sa_token:\n    file: \${OP_SA_TOKEN_FILE:?run npm run up}\n`,
    );
    t.equal((await cli(['seal'], { env, input: token })).exitCode, 0);
    const failed = await cli(['up', '--timeout', '30'], { env, cwd });
    t.equal(failed.exitCode, 69, `up fails (${failed.stderr.trim().split('\n').at(-1)})`);
    t.match(failed.stderr, `up: the image ${image} is not built yet; building it`, 'it built the missing image first');
    t.match(failed.stderr, /up: released op-sa-token \(tpm2\) to .*\/copilot-bridge-stack\/op-sa-token/);
    t.match(
      failed.stderr,
      `up: wiped the 1 released token file(s) again; still running on none of them: ${project}_postgres_1 (npm run down stops them)`,
    );
    await t.rejects(stat(dir), { code: 'ENOENT' }, 'the released token was wiped');
    t.notOk(leaks(failed.stdout + failed.stderr, token), 'no token in the output');

    // An image no registry gives (here none answers at all): up names it and the setting that chooses it.
    await execa('docker-compose', ['down'], { cwd, env: { ...env, OP_SA_TOKEN_FILE: '/dev/null' }, reject: false });
    const nowhere = `localhost:1/cbs-nowhere:${process.pid}`;
    await writeFile(
      join(cwd, 'compose.yml'),
      (await readFile(join(cwd, 'compose.yml'), 'utf8')).replace(`image: ${waiter}`, `image: \${PG_IMAGE:-${nowhere}}`),
    );
    const unpulled = await cli(['up', '--timeout', '30'], { env, cwd });
    t.equal(unpulled.exitCode, 69);
    t.match(unpulled.stderr, `up: ${nowhere} (PG_IMAGE) is not on this host; pulling it for service postgres\n`);
    t.equal(
      unpulled.stderr.trim().split('\n').at(-1),
      `copilot-bridge-seal: up: ${nowhere} (PG_IMAGE) could not be pulled (no registry answered?); docker pull it where a registry answers, or set PG_IMAGE in .env to images this host has (docs/first-run.md), then retry`,
    );
    t.notMatch(unpulled.stderr, /released|up -d/, 'pulled first: nothing released, nothing started');
    await t.rejects(stat(dir), { code: 'ENOENT' }, 'no released token');

    const handle = await release.prepareReleaseDir(dir, 'linux');
    await release.releaseToken(handle, 'op-sa-token', token);
    handle.close();
    const down = await cli(['down'], { env, cwd: box.root });
    t.equal(down.exitCode, 66, 'down reports that there is no compose file...');
    t.match(
      down.stderr,
      /down: overwrote and removed 1 released token file\(s\)/,
      '...after wiping the released files anyway',
    );
    t.equal(
      down.stderr.trim().split('\n').at(-1),
      `copilot-bridge-seal: compose: no compose.yml in ${box.root}; run this from the copilot-bridge-stack checkout, or pass --file (the released files are wiped, but the stack's containers may still run: then run npm run down again)`,
      'and says that what runs may still run',
    );
    await t.rejects(stat(dir), { code: 'ENOENT' });

    // No engine: one line that says so and what to do (not compose's traceback), and the released files wiped.
    const again = await release.prepareReleaseDir(dir, 'linux');
    await release.releaseToken(again, 'op-sa-token', token);
    again.close();
    const noEngine = `unix://${join(box.root, 'no-engine.sock')}`;
    const blind = await cli(['down'], { env: { ...env, DOCKER_HOST: noEngine }, cwd });
    t.equal(blind.exitCode, 69);
    t.equal(
      blind.stderr.trim().split('\n').at(-1),
      `copilot-bridge-seal: down: the Docker engine does not answer at DOCKER_HOST=${noEngine}, so nothing was stopped; the released files are wiped, but the stack's containers may still run: start the engine (systemctl start docker) and run npm run down again`,
    );
    t.ok(blind.stderr.trim().split('\n').length <= 3, `no traceback (${blind.stderr})`);
    await t.rejects(stat(dir), { code: 'ENOENT' }, 'wiped');
    t.notOk(leaks(blind.stdout + blind.stderr, token));
  },
);

t.test('the stack project: the environment, then .env, then the default', async (t) => {
  const { stackProject, stackSettings } = await import('../../host-seal/stack/stack.js');
  const box = await sandbox(t);
  const cwd = await mkdtemp(join(box.root, 'dotenv-'));
  await writeFile(join(cwd, '.env'), '# settings\nCOMPOSE_PROJECT_NAME = from-file\nOTHER="x y"\n');
  t.equal(stackProject(stackSettings({ COMPOSE_PROJECT_NAME: 'from-env' }, cwd)), 'from-env');
  t.equal(stackProject(stackSettings({}, cwd)), 'from-file');
  t.equal(stackSettings({}, cwd).OTHER, 'x y', '.env is read as Compose reads it (quotes)');
  t.equal(stackProject(stackSettings({}, box.root)), 'copilot-bridge-stack');
  // A name Compose would change (upper case, dots) labels the stack one way and reaches the bridges another.
  for (const [name, becomes] of [
    ['CopilotBridge', 'copilotbridge'],
    ['copilot.bridge', 'copilotbridge'],
    ['-stack', 'stack'],
  ])
    t.throws(() => stackProject(stackSettings({ COMPOSE_PROJECT_NAME: name! }, box.root)), {
      exitCode: 78,
      message: `COMPOSE_PROJECT_NAME=${name} is not a name Compose keeps as it is (it would label the stack ${becomes}); use lower-case letters, digits, - and _, starting with a letter or digit`,
    });
  // An empty COMPOSE_PROJECT_NAME is the default for this CLI, and Compose is told so (it would take the directory's).
  const { openStack } = await import('../../host-seal/stack/stack.js');
  const io = { env: { ...box.env, COMPOSE_PROJECT_NAME: '' }, platform: 'linux' as const } as unknown as Parameters<
    typeof openStack
  >[1];
  const opened = await openStack({}, io, ROOT);
  t.equal(opened.project, 'copilot-bridge-stack');
  t.equal(opened.env.COMPOSE_PROJECT_NAME, 'copilot-bridge-stack', 'what Compose is given');
  const up = await cli(['up'], { env: { ...box.env, COMPOSE_PROJECT_NAME: 'CopilotBridge' }, cwd: ROOT });
  t.equal(up.exitCode, 78, 'up refuses it in one line');
  t.match(up.stderr, /^copilot-bridge-seal: settings: COMPOSE_PROJECT_NAME=CopilotBridge is not a name/m);
});

t.test(
  "compose learns the released names, for per-agent credentials (an older stack's database password is never one)",
  async (t) => {
    const { composeEnv } = await import('../../host-seal/stack/stack.js');
    t.same(composeEnv('/dev/shm/copilot-bridge-stack', ['op-sa-token', 'agent-lal', 'mm-db-password']), {
      COPILOT_BRIDGE_SECRETS_DIR: '/dev/shm/copilot-bridge-stack',
      COPILOT_BRIDGE_RELEASED: 'op-sa-token,agent-lal',
      OP_SA_TOKEN_FILE: '/dev/shm/copilot-bridge-stack/op-sa-token',
    });
    t.same(
      composeEnv('/run/copilot-bridge-stack', []),
      {
        COPILOT_BRIDGE_SECRETS_DIR: '/run/copilot-bridge-stack',
        COPILOT_BRIDGE_RELEASED: 'op-sa-token',
        OP_SA_TOKEN_FILE: '/dev/null',
      },
      'with nothing released yet, compose still gets its variables (for ps, logs and exec): the token file is /dev/null, on which a bridge stops at once',
    );
  },
);

t.test(
  "a user who cannot enter the release directory (another's): one line that says whose, not an internal error",
  { skip: process.getuid?.() !== 0 && 'needs root to make the directory and to become nobody' },
  async (t) => {
    const dir = await mkdtemp('/dev/shm/cbs-others-');
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await chmod(dir, 0o700);
    const home = await mkdtemp('/tmp/cbs-nobody-home-');
    t.teardown(() => rm(home, { recursive: true, force: true }));
    await chown(home, NOBODY, NOBODY);
    const env = { PATH: process.env.PATH!, HOME: home, XDG_RUNTIME_DIR: dir, AGENTS_FILE: FILLED_AGENTS };
    const down = await asNobody([process.execPath, MAIN, 'down'], { env, cwd: ROOT });
    t.equal(down.exitCode, 77, String(down.stderr));
    t.match(
      String(down.stderr).trim().split('\n').at(-1),
      `${dir}/copilot-bridge-stack cannot be entered by you (uid 65534): it is another user's; point XDG_RUNTIME_DIR at a directory of yours (normally /run/user/65534)`,
    );
    t.notMatch(String(down.stderr), /internal error/);
    // doctor, for the same user: the engine's socket is not theirs, nor the release directory.
    const doctor = await asNobody([process.execPath, MAIN, 'doctor'], { env, cwd: ROOT });
    t.equal(doctor.exitCode, 77);
    t.match(
      String(doctor.stdout),
      /^fail {2}docker engine: it runs, but you may not use its socket \(permission denied\); fix: run this as root, or add yourself to the docker group \(then log in again\)$/m,
    );
    t.match(
      String(doctor.stdout),
      `release directory: ${dir}/copilot-bridge-stack cannot be entered by you (uid 65534)`,
    );
    t.notMatch(String(doctor.stdout), /unexpected error/);
    // And a HOME it cannot write: one line that says so, not an internal error either.
    const homeless = await asNobody([process.execPath, MAIN, 'down'], {
      env: { ...env, HOME: '/nonexistent' },
      cwd: ROOT,
    });
    t.equal(homeless.exitCode, 73);
    t.match(
      String(homeless.stderr).trim().split('\n').at(-1),
      'cannot create /nonexistent/.config/copilot-bridge-stack (EACCES); set HOME (or XDG_CONFIG_HOME) to a directory of yours',
    );
  },
);
