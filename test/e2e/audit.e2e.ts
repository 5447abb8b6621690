// `audit` on a real engine: containers and a volume labelled as one stack's,
// from a tiny image built here (FROM scratch, a static program that prints its
// argument and waits), with a token sealed on swtpm. Clean first; then a value
// planted in each place, one test each: an image layer, a container's
// environment, a log, a volume file, a process's command line (base64). Each
// finding names its place; no output holds the value.
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import t, { type Test } from 'tap';
import { contextCacheDir } from '../../host-seal/backends/tpm2/cache.js';
import { AGENT_LABEL, PROJECT_LABEL } from '../../src/contract.js';
import { fakeToken } from '../fixtures/host-seal/fake-token.js';
import { asNobody } from '../support/as-user.js';
import { ensureDockerEngine } from '../support/e2e/engine.js';
import { buildTestImages } from '../support/e2e/images.js';
import { TEST_LABEL } from '../support/e2e/paths.js';
import { attempt, docker } from '../support/e2e/run.js';
import { buildWaiter } from '../support/e2e/waiter.js';
import { cli, MAIN, sandbox } from '../support/host-seal/cli.js';
import { leaks } from '../support/host-seal/leaks.js';
import { startSwtpm } from '../support/host-seal/swtpm.js';
import { ROOT } from '../support/scenario.js';

// Some twenty audits of a few seconds each, and image builds: more than tap's default two minutes on a busy host.
t.setTimeout(10 * 60_000);
const token = fakeToken();
const project = `cbs-audit-${process.pid}`;
const image = `cbs-audit-waiter:${process.pid}`;
const leakyImage = `cbs-audit-leaky:${process.pid}`;
let env: Record<string, string> = {};

t.before(async () => {
  await ensureDockerEngine();
  const box = await sandbox(t);
  const tpm = await startSwtpm(box.root);
  t.teardown(() => tpm.stop());
  env = {
    ...box.env,
    TPM2TOOLS_TCTI: tpm.tcti,
    COMPOSE_PROJECT_NAME: project,
    SECRETS_SOURCE: '1password',
    AGENTS_FILE: join(ROOT, 'test', 'fixtures', 'agents.json'),
  };
  t.equal((await cli(['seal', '--backend', 'tpm2'], { env, input: `${token}\n` })).exitCode, 0, 'a token is sealed');
  const build = await buildWaiter(box.root, image);
  writeFileSync(join(build, 'leak.txt'), `config=${Buffer.from(token).toString('base64')}\n`);
  writeFileSync(join(build, 'Dockerfile.leaky'), `FROM ${image}\nCOPY leak.txt /etc/leak.txt\n`);
  await docker(['build', '-q', '-f', join(build, 'Dockerfile.leaky'), '-t', leakyImage, build], { timeoutMs: 120_000 });
  // The build context held it: audit would find it there, in /tmp (it did).
  rmSync(join(build, 'leak.txt'));
});
t.teardown(async () => {
  const ids = (
    await attempt('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`])
  ).stdout.trim();
  if (ids) await attempt('docker', ['rm', '-f', ...ids.split('\n')]);
  await attempt('docker', ['volume', 'rm', '-f', `${project}_data`]);
  await attempt('docker', ['rmi', '-f', leakyImage, image]);
});

/** A directory of this test's own beside the runtime directory (not under /tmp, which audit searches anyway). */
function scratch(t: Test, name: string): string {
  const dir = join(env.XDG_RUNTIME_DIR!, '..', `${project}-${name}`);
  mkdirSync(dir, { recursive: true });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A container of the test bridge image running `script` with node as its first process (a bridge stand-in), with
 * the test's label and `labels`, and `args` before the image (mounts, tmpfs, environment); removed afterwards.
 */
async function nodeContainer(t: Test, name: string, labels: string[], args: string[], script: string): Promise<string> {
  const { bridge: bridgeImage } = await buildTestImages();
  const id = (
    await docker([
      'run',
      '-d',
      '--name',
      name,
      ...[`${TEST_LABEL}=1`, ...labels].flatMap((l) => ['--label', l]),
      ...args,
      '--entrypoint',
      'node',
      bridgeImage,
      '-e',
      script,
    ])
  ).trim();
  t.teardown(() => attempt('docker', ['rm', '-f', id]));
  return id;
}

/** Items put in the local vault (made-up values standing for bridges' tokens). */
async function vaultItems(t: Test, items: Record<string, string>): Promise<void> {
  for (const [item, value] of Object.entries(items))
    t.equal((await cli(['vault', 'set', item], { env, input: value })).exitCode, 0, `${item} in the vault`);
}

async function start(t: Test, args: string[], from = image): Promise<string> {
  const id = (
    await docker([
      'run',
      '-d',
      '--label',
      `com.docker.compose.project=${project}`,
      '--label',
      `${TEST_LABEL}=1`,
      ...args.slice(0, -1),
      from,
      ...args.slice(-1).filter(Boolean),
    ])
  ).trim();
  t.teardown(() => attempt('docker', ['rm', '-f', id]));
  return id;
}

const audit = () => cli(['audit'], { env, cwd: ROOT });

function noValue(t: Test, run: { stdout: string; stderr: string }, more: string[] = []) {
  for (const value of [token, ...more])
    t.notOk(leaks(run.stdout + run.stderr, value), 'no output holds the value, in any form');
}

t.test('a deployment without a leak: clean, exit 0, and it says where it looked', async (t) => {
  await start(t, ['--name', `${project}-clean`, 'hello']);
  const run = await audit();
  t.equal(run.exitCode, 0, run.stdout + run.stderr);
  t.equal(run.stdout, '', 'no finding');
  t.match(
    run.stderr,
    /^audit: searched \d+ place\(s\): container \S+-clean: inspect, logs, writable layer; image cbs-audit-waiter:\d+: configuration, history, layers;.*processes' environment and command line;.*\/tmp/m,
  );
  t.match(run.stderr, /^audit: clean$/m);
  t.notOk(existsSync(contextCacheDir(env)), 'read-only: not even a TPM context cache left behind');
  noValue(t, run);
});

t.test("a container named with the value: every line that would name it withholds it, stderr's too", async (t) => {
  // A container's name is this host's choice, and the fake token is made of the characters a name may hold.
  await start(t, ['--name', `${project}-${token}`, 'hello']);
  const run = await audit();
  t.equal(run.exitCode, 1);
  t.match(run.stdout, /^finding: \(withheld: its place names a value\)$/m);
  t.match(run.stderr, /^audit: searched \d+ place\(s\): .*\(withheld: a place whose name holds a value\)/m);
  noValue(t, run);
});

t.test('a value in an image layer: found in that layer, by file', async (t) => {
  await start(t, ['--name', `${project}-layer`, ''], leakyImage);
  const run = await audit();
  t.equal(run.exitCode, 1);
  t.match(
    run.stdout,
    /^finding: image cbs-audit-leaky:\d+ layer \S+ \/etc\/leak\.txt holds the sealed op-sa-token \(base64\)$/m,
  );
  t.match(run.stderr, /copilot-bridge-seal: audit: \d+ finding\(s\): a value of the stack is where it must not be/);
  noValue(t, run);
});

t.test(
  "an image a build of the stack left behind, untagged and run by nothing (its project's label): searched",
  async (t) => {
    // As a stage of the stack's Dockerfile (or an earlier build) leaves it: the label the Dockerfile sets, no tag.
    const build = scratch(t, 'stage');
    writeFileSync(join(build, 'stage.txt'), `${token.slice(0, 40)}\n${token.slice(40)}`);
    writeFileSync(
      join(build, 'Dockerfile'),
      `FROM ${image}\nCOPY stage.txt /opt/stage.txt\nLABEL com.copilot-bridge-stack.build-project="${project}"\n`,
    );
    const id = (await docker(['build', '-q', build], { timeoutMs: 120_000 })).trim();
    t.teardown(() => attempt('docker', ['rmi', '-f', id]));
    rmSync(join(build, 'stage.txt'));
    const run = await audit();
    t.equal(run.exitCode, 1);
    t.match(
      run.stdout,
      new RegExp(`^finding: image ${id.slice(0, 19)} layer \\S+ /opt/stage\\.txt holds the sealed op-sa-token`, 'm'),
      'found in the untagged image, by file (the value folded over two lines)',
    );
    noValue(t, run);
  },
);

t.test('an image of no stack, run by nothing, with a value in its configuration: found there', async (t) => {
  const build = scratch(t, 'other');
  writeFileSync(join(build, 'Dockerfile'), `FROM ${image}\nENV LEAK=${token}\n`);
  const tag = `cbs-audit-other:${process.pid}`;
  await docker(['build', '-q', '-t', tag, build], { timeoutMs: 120_000 });
  t.teardown(() => attempt('docker', ['rmi', '-f', tag]));
  rmSync(join(build, 'Dockerfile'));
  const run = await audit();
  t.equal(run.exitCode, 1);
  t.match(
    run.stdout,
    new RegExp(
      `^finding: image ${tag} \\(docker image inspect\\) \\$\\.Config\\.Env\\[\\d+\\] holds the sealed op-sa-token \\(raw\\)$`,
      'm',
    ),
  );
  t.match(run.stderr, /\d+ other image\(s\): configuration/);
  noValue(t, run);
});

t.test("a value in a container's environment: found by its JSON path", async (t) => {
  await start(t, ['--name', `${project}-env`, '-e', `LEAK=${token}`, 'hello']);
  const run = await audit();
  t.equal(run.exitCode, 1);
  t.match(
    run.stdout,
    new RegExp(
      `^finding: container ${project}-env \\(docker inspect\\) \\$\\.Config\\.Env\\[\\d+\\] holds the sealed op-sa-token \\(raw\\)$`,
      'm',
    ),
  );
  t.match(
    run.stdout,
    new RegExp(
      `^finding: process \\d+ \\(waiter\\) in ${project}-env environment LEAK holds the sealed op-sa-token \\(raw\\)$`,
      'm',
    ),
  );
  noValue(t, run);
});

t.test('a value in a log, and base64 in a command line', async (t) => {
  await start(t, ['--name', `${project}-log`, Buffer.from(token).toString('base64')]);
  const run = await audit();
  t.equal(run.exitCode, 1);
  t.match(
    run.stdout,
    new RegExp(`^finding: container ${project}-log \\(docker logs\\) holds the sealed op-sa-token \\(base64\\)$`, 'm'),
  );
  t.match(
    run.stdout,
    new RegExp(
      `^finding: process \\d+ \\(waiter\\) in ${project}-log command line holds the sealed op-sa-token \\(base64\\)$`,
      'm',
    ),
  );
  noValue(t, run);
});

t.test("a value in a file of one of the stack's volumes", async (t) => {
  await docker(['volume', 'create', '--label', `com.docker.compose.project=${project}`, `${project}_data`]);
  const mountpoint = (await docker(['volume', 'inspect', '--format', '{{.Mountpoint}}', `${project}_data`])).trim();
  mkdirSync(join(mountpoint, 'logs'), { recursive: true });
  writeFileSync(join(mountpoint, 'logs', 'bridge.log'), `token=${encodeURIComponent(`${token}&`)}\n`);
  const run = await audit();
  t.equal(run.exitCode, 1);
  t.match(
    run.stdout,
    new RegExp(`^finding: volume ${project}_data /logs/bridge\\.log holds the sealed op-sa-token \\(\\w+\\)$`, 'm'),
  );
  noValue(t, run);
  await docker(['volume', 'rm', '-f', `${project}_data`]);
});

t.test("a value in an agent's home volume, which the admin bridge labels with the project's own label", async (t) => {
  const volume = `${project}-agent-data-home`;
  await docker(['volume', 'create', '--label', `${PROJECT_LABEL}=${project}`, volume]);
  t.teardown(() => attempt('docker', ['volume', 'rm', '-f', volume]));
  const mountpoint = (await docker(['volume', 'inspect', '--format', '{{.Mountpoint}}', volume])).trim();
  mkdirSync(join(mountpoint, '.copilot-bridge'), { recursive: true });
  writeFileSync(join(mountpoint, '.copilot-bridge', 'copilot-bridge.log'), `auth ${token}\n`);
  const run = await audit();
  t.equal(run.exitCode, 1);
  t.match(
    run.stdout,
    new RegExp(
      `^finding: volume ${volume} /\\.copilot-bridge/copilot-bridge\\.log holds the sealed op-sa-token \\(raw\\)$`,
      'm',
    ),
  );
  noValue(t, run);
});

t.test(
  "a bridge's own GitHub token in a process its bridge started is declared; another's, or a docker exec's, is a finding",
  async (t) => {
    // Vault items stand for the bridges' GitHub tokens (test/fixtures/agents.json names github-admin and github-lal).
    const tokens = {
      admin: `ghp_${randomBytes(27).toString('base64url')}`,
      lal: `ghp_${randomBytes(27).toString('base64url')}`,
    };
    await vaultItems(t, { 'github-admin/token': tokens.admin, 'github-lal/token': tokens.lal });
    // A bridge stand-in: node as the container's first process (the supervisor's place), which starts a child with
    // the token in its environment, as the entrypoint starts the bridge. The first process holds it reversed only.
    // It writes the bridge's pid beside the config, as the entrypoint does: only that process's tree is the bridge's.
    const supervise =
      "const c = require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { env: { COPILOT_GITHUB_TOKEN: [...process.env.SEED].reverse().join('') }, stdio: 'ignore' }); require('fs').writeFileSync('/tmp/.copilot-bridge.pid', c.pid + '\\n'); setInterval(() => {}, 1e9)";
    const bridge = (name: string, labels: string[], value: string) =>
      nodeContainer(t, name, labels, ['--user', '61001', '-e', `SEED=${[...value].reverse().join('')}`], supervise);
    const admin = await bridge(
      `${project}-admin`,
      [`com.docker.compose.project=${project}`, 'com.docker.compose.service=copilot-bridge'],
      tokens.admin,
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const own = await audit();
    t.equal(own.exitCode, 0, `its own token in its bridge's child: declared, not a finding (${own.stdout})`);
    t.match(
      own.stdout,
      new RegExp(
        `^declared: process \\d+ \\(\\S+\\) in ${project}-admin environment COPILOT_GITHUB_TOKEN holds the local vault's github-admin/token \\(raw\\): its bridge's own GitHub token`,
        'm',
      ),
    );
    noValue(t, own, Object.values(tokens));

    // The admin's token in agent lal's bridge.
    await bridge(`${project}-agent-lal`, [`${PROJECT_LABEL}=${project}`, `${AGENT_LABEL}=lal`], tokens.admin);
    // In the admin container, a process docker exec starts, and one that left its docker exec parent (a daemon).
    for (const script of [
      'setInterval(() => {}, 1e9)',
      "require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { detached: true, stdio: 'ignore' }).unref()",
    ])
      await docker(['exec', '-d', '-e', `COPILOT_GITHUB_TOKEN=${tokens.admin}`, admin, 'node', '-e', script]);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const other = await audit();
    t.equal(other.exitCode, 1);
    const findings = other.stdout.split('\n').filter((l) => l.startsWith('finding: '));
    for (const where of [`${project}-admin`, `${project}-agent-lal`]) {
      const line = new RegExp(
        `^finding: process \\d+ \\(\\S+\\) in ${where} environment COPILOT_GITHUB_TOKEN holds the local vault's github-admin/token \\(raw\\)$`,
      );
      t.equal(
        findings.filter((l) => line.test(l)).length,
        where === `${project}-admin` ? 2 : 1,
        `in ${where}: another bridge's token; what docker exec started, and what it left behind`,
      );
    }
    t.equal(findings.length, 3, `no other finding (${findings.join(' | ')})`);
    t.equal(
      other.stdout.split('\n').filter((l) => l.startsWith('declared: ')).length,
      1,
      'the bridge child alone is declared',
    );
    noValue(t, other, Object.values(tokens));
  },
);

t.test(
  "a bridge's tmpfs: its own values in the config rendered there are declared; elsewhere there, or another's, found",
  async (t) => {
    // Vault items stand for the bots' tokens (test/fixtures/agents.json names mattermost-admin-bot and -lal).
    const bots = {
      admin: `bot${randomBytes(16).toString('hex')}`,
      lal: `bot${randomBytes(16).toString('hex')}`,
    };
    await vaultItems(t, { 'mattermost-admin-bot/token': bots.admin, 'mattermost-lal/token': bots.lal });
    // An admin bridge stand-in with the stack's tmpfs at /tmp: the rendered config there holds its own bot token
    // (declared) and lal's (a finding), and a log file beside it holds its own (a finding: not the config).
    const write =
      "const fs = require('fs'); const [own, other] = JSON.parse(process.env.SEED); fs.writeFileSync('/tmp/config.json', JSON.stringify({ own, other: [...other].reverse().join('') })); fs.writeFileSync('/tmp/debug.log', 'token ' + own); fs.writeFileSync('/dev/shm/scratch.txt', own); setInterval(() => {}, 1e9)";
    await nodeContainer(
      t,
      `${project}-tmpfs`,
      [`com.docker.compose.project=${project}`, 'com.docker.compose.service=copilot-bridge'],
      ['--tmpfs', '/tmp:size=1m', '-e', `SEED=${JSON.stringify([bots.admin, [...bots.lal].reverse().join('')])}`],
      write,
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const run = await audit();
    t.equal(run.exitCode, 1);
    const lines = run.stdout.split('\n').filter((l) => l.includes(`${project}-tmpfs (tmpfs /tmp)`));
    t.same(
      lines.sort(),
      [
        `declared: container ${project}-tmpfs (tmpfs /tmp) /config.json holds the local vault's mattermost-admin-bot/token (raw): its bridge's own value, in the config the entrypoint rendered for it (on its tmpfs)`,
        `finding: container ${project}-tmpfs (tmpfs /tmp) /config.json holds the local vault's mattermost-lal/token (raw)`,
        `finding: container ${project}-tmpfs (tmpfs /tmp) /debug.log holds the local vault's mattermost-admin-bot/token (raw)`,
      ],
      "its own value in its config declared; the other bridge's, and a log beside it, found",
    );
    t.match(run.stderr, new RegExp(`container ${project}-tmpfs \\(tmpfs /tmp\\)`), 'named among the places');
    // Its /dev/shm, the tmpfs every container has, writable even when read_only.
    t.match(
      run.stdout,
      `finding: container ${project}-tmpfs (tmpfs /dev/shm) /scratch.txt holds the local vault's mattermost-admin-bot/token (raw)`,
    );
    noValue(t, run, Object.values(bots));
  },
);

t.test(
  'the release directory: the released token in its own file is no finding; in any other file it is',
  async (t) => {
    // With 1Password the stack releases op-sa-token (and agent-NAME for agents that have one), nothing else.
    const dir = join(env.XDG_RUNTIME_DIR!, 'copilot-bridge-stack');
    mkdirSync(dir, { mode: 0o700, recursive: true });
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'op-sa-token'), token, { mode: 0o400 });
    const released = await audit();
    t.equal(released.exitCode, 0, `its own file: clean (${released.stdout})`);
    writeFileSync(join(dir, 'zz-extra'), token, { mode: 0o600 });
    writeFileSync(join(dir, 'agent-lal'), `${token}\n`, { mode: 0o600 });
    const extra = await audit();
    t.equal(extra.exitCode, 1);
    t.same(
      extra.stdout.split('\n').filter(Boolean).sort(),
      [
        `finding: ${join(dir, 'agent-lal')} holds the sealed op-sa-token (raw)`,
        `finding: ${join(dir, 'zz-extra')} holds the sealed op-sa-token (raw)`,
      ],
      "a file up never releases, and another credential's file: findings",
    );
    noValue(t, extra);
  },
);

t.test("the checkout's .env, agents file and compose files an operator edits", async (t) => {
  const checkout = scratch(t, 'checkout');
  copyFileSync(join(ROOT, 'compose.yml'), join(checkout, 'compose.yml'));
  const agents = join(checkout, 'agents.json');
  copyFileSync(join(ROOT, 'test', 'fixtures', 'agents.json'), agents);
  writeFileSync(join(checkout, '.env'), `# pasted by mistake\nOP_SERVICE_ACCOUNT_TOKEN=${token}\n`);
  const run = await cli(['audit'], { env: { ...env, AGENTS_FILE: agents }, cwd: checkout });
  t.equal(run.exitCode, 1);
  t.match(run.stdout, new RegExp(`^finding: ${join(checkout, '.env')} holds the sealed op-sa-token \\(raw\\)$`, 'm'));
  t.match(run.stderr, /the checkout's \.env, agents file and compose files/);
  noValue(t, run);
});

t.test(
  'no agents file: one line that names it, before anything is searched (it says what is expected where)',
  async (t) => {
    const missing = join(env.XDG_RUNTIME_DIR!, 'no-agents.json');
    const run = await cli(['audit'], { env: { ...env, AGENTS_FILE: missing }, cwd: ROOT });
    t.equal(run.exitCode, 66);
    t.equal(
      run.stderr.trim(),
      `copilot-bridge-seal: agents: ${missing} does not exist; create it from agents.example.json or set AGENTS_FILE`,
    );
    t.equal(run.stdout, '', 'no finding printed');
  },
);

t.test(
  'a credential behind an auth value, and no --auth-file nor terminal: named as not searched for (74)',
  async (t) => {
    const auth = join(scratch(t, 'auth'), 'auth');
    writeFileSync(auth, 'an auth value\n', { mode: 0o600 });
    const other = fakeToken();
    t.equal(
      (
        await cli(['seal', '--backend', 'tpm2', '--name', 'agent-zz', '--auth-file', auth], {
          env,
          input: `${other}\n`,
        })
      ).exitCode,
      0,
    );
    t.teardown(() => cli(['forget', '--name', 'agent-zz'], { env }));
    const run = await audit();
    t.equal(run.exitCode, 74, run.stderr);
    t.match(
      run.stderr,
      /^audit: could not search: the values of agent-zz \(sealed behind an auth value: pass --auth-file FILE to look for them\)$/m,
    );
    noValue(t, run, [other]);
  },
);

t.test('as a user who is not root: refused before anything is unsealed, not a partial "clean"', async (t) => {
  const run = await asNobody(['node', MAIN, 'audit'], { env: { ...env, HOME: '/nonexistent' } });
  t.equal(run.exitCode, 77);
  t.equal(
    run.stderr.trim(),
    "copilot-bridge-seal: audit: audit reads Docker's volumes and layers (/var/lib/docker) and every process's environment, which only root can; run it as root, who runs the stack: sudo npm run audit (a stack run as another user cannot be audited yet)",
  );
  noValue(t, run);
});

t.test('a file too big to read (sparse, 2 GiB) is named as not searched: exit 74, not clean', async (t) => {
  const volume = `${project}_sparse`;
  await docker(['volume', 'create', '--label', `com.docker.compose.project=${project}`, volume]);
  t.teardown(() => attempt('docker', ['volume', 'rm', '-f', volume]));
  const mountpoint = (await docker(['volume', 'inspect', '--format', '{{.Mountpoint}}', volume])).trim();
  await execa('truncate', ['-s', '2G', join(mountpoint, 'huge')]);
  const run = await audit();
  t.equal(run.exitCode, 74, run.stderr);
  t.match(
    run.stderr,
    new RegExp(
      `^audit: could not search: volume ${volume} /huge \\(2147483648 bytes: larger than the 1 GiB searched\\)$`,
      'm',
    ),
  );
  t.match(run.stderr, /audit: no finding, but 1 place\(s\) could not be searched \(see above\): not proven clean/);
  noValue(t, run);
});

t.test(
  "the database volume declares only the bots' tokens: the service-account token there is a finding",
  async (t) => {
    const volume = `${project}_pgdata`;
    await docker(['volume', 'create', '--label', `com.docker.compose.project=${project}`, volume]);
    t.teardown(() => attempt('docker', ['volume', 'rm', '-f', volume]));
    await start(t, [
      '--name',
      `${project}-postgres`,
      '--label',
      'com.docker.compose.service=postgres',
      '-v',
      `${volume}:/var/lib/postgresql/data`,
      'hello',
    ]);
    const mountpoint = (await docker(['volume', 'inspect', '--format', '{{.Mountpoint}}', volume])).trim();
    writeFileSync(join(mountpoint, 'posts-heap'), `a post that quotes ${token}\n`);
    const run = await audit();
    t.equal(run.exitCode, 1);
    t.match(
      run.stdout,
      new RegExp(`^finding: volume ${volume} /posts-heap holds the sealed op-sa-token \\(raw\\)$`, 'm'),
    );
    t.notMatch(run.stdout, /^declared: /m);
    noValue(t, run);
  },
);

t.test("a container's anonymous volume and bind mount are searched too", async (t) => {
  const bound = scratch(t, 'bound');
  writeFileSync(join(bound, 'notes.txt'), `${token}\n`);
  const id = await start(t, ['--name', `${project}-mounts`, '-v', '/data', '-v', `${bound}:/bound`, 'hello']);
  const anonymous = (
    await docker([
      'inspect',
      '--format',
      '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{.Source}}{{end}}{{end}}',
      id,
    ])
  )
    .trim()
    .split(' ');
  t.teardown(() => attempt('docker', ['volume', 'rm', '-f', anonymous[0]!]));
  writeFileSync(join(anonymous[1]!, 'anon.txt'), Buffer.from(token).toString('base64'));
  const run = await audit();
  t.equal(run.exitCode, 1);
  t.match(
    run.stdout,
    new RegExp(`^finding: volume ${anonymous[0]} /anon\\.txt holds the sealed op-sa-token \\(base64\\)$`, 'm'),
  );
  t.match(
    run.stdout,
    new RegExp(
      `^finding: bind mount \\S+ \\(as ${project}-mounts sees it at /bound\\) /notes\\.txt holds the sealed op-sa-token \\(raw\\)$`,
      'm',
    ),
  );
  noValue(t, run);
});

t.test(
  'links an operator or a host user makes: a linked .env, a bind source swapped for a link, a volume bound to a directory',
  async (t) => {
    const base = join(env.XDG_RUNTIME_DIR!, '..', `${project}-links`);
    const kept = join(base, 'kept');
    mkdirSync(kept, { recursive: true });
    t.teardown(() => rmSync(base, { recursive: true, force: true }));
    // The checkout's .env, a dotfile manager's link to where it keeps it.
    const checkout = join(base, 'checkout');
    mkdirSync(checkout);
    copyFileSync(join(ROOT, 'compose.yml'), join(checkout, 'compose.yml'));
    writeFileSync(join(kept, 'env'), `GH_TOKEN=${token}\n`);
    symlinkSync(join(kept, 'env'), join(checkout, '.env'));
    // A bind mount's source moved away after the start, a link left in its place: the container still sees the old.
    const source = join(base, 'work');
    mkdirSync(source);
    await start(t, ['--name', `${project}-swapped`, '-v', `${source}:/work`, 'hello']);
    renameSync(source, join(base, 'moved'));
    mkdirSync(join(base, 'decoy'));
    symlinkSync(join(base, 'decoy'), source);
    writeFileSync(join(base, 'moved', 'leak.txt'), token);
    // A volume of the project bound to a directory, which no container mounts now (as after down).
    const disk = join(base, 'disk');
    mkdirSync(disk);
    writeFileSync(join(disk, 'data.bin'), Buffer.from(token).toString('base64'));
    const volume = `${project}_disk`;
    await docker([
      'volume',
      'create',
      '--label',
      `com.docker.compose.project=${project}`,
      '--opt',
      'type=none',
      '--opt',
      'o=bind',
      '--opt',
      `device=${disk}`,
      volume,
    ]);
    t.teardown(() => attempt('docker', ['volume', 'rm', '-f', volume]));
    const run = await cli(['audit'], {
      env: { ...env, AGENTS_FILE: join(ROOT, 'test', 'fixtures', 'agents.json') },
      cwd: checkout,
    });
    t.equal(run.exitCode, 1);
    const real = (p: string) => realpathSync(p);
    for (const line of [
      `finding: ${join(checkout, '.env')} (a link to ${real(join(kept, 'env'))}) holds the sealed op-sa-token (raw)`,
      `finding: bind mount ${source} (as ${project}-swapped sees it at /work) /leak.txt holds the sealed op-sa-token (raw)`,
      `finding: ${real(disk)}/data.bin holds the sealed op-sa-token (base64)`,
    ])
      t.ok(run.stdout.split('\n').includes(line), line.split(' holds')[0]!);
    t.match(run.stderr, `volume ${volume} (bound to ${disk})`);
    noValue(t, run);
  },
);

t.test(
  "a stopped container of no stack, a volume's options and labels, a volume on a network file system: searched or named",
  async (t) => {
    // A container a failed build leaves: no label, stopped, the value in its command (a build argument).
    const stopped = (
      await docker(['create', '--label', `${TEST_LABEL}=1`, '--name', `${project}-leftover`, image, `ARG=${token}`])
    ).trim();
    t.teardown(() => attempt('docker', ['rm', '-f', stopped]));
    const labelled = `${project}_noted`;
    await docker([
      'volume',
      'create',
      '--label',
      `com.docker.compose.project=${project}`,
      '--label',
      `note=${token}`,
      labelled,
    ]);
    t.teardown(() => attempt('docker', ['volume', 'rm', '-f', labelled]));
    const remote = `${project}_remote`;
    await docker([
      'volume',
      'create',
      '--label',
      `com.docker.compose.project=${project}`,
      '--opt',
      'type=nfs',
      '--opt',
      'o=addr=127.0.0.1',
      '--opt',
      'device=:/export',
      remote,
    ]);
    t.teardown(() => attempt('docker', ['volume', 'rm', '-f', remote]));
    const run = await audit();
    t.equal(run.exitCode, 1);
    t.match(
      run.stdout,
      new RegExp(
        `^finding: container ${project}-leftover \\(docker inspect\\) \\$\\.Args\\[0\\] holds the sealed op-sa-token \\(raw\\)$`,
        'm',
      ),
    );
    t.match(
      run.stdout,
      new RegExp(
        `^finding: volume ${labelled} \\(docker volume inspect\\) \\$\\.Labels\\.note holds the sealed op-sa-token \\(raw\\)$`,
        'm',
      ),
    );
    t.match(
      run.stderr,
      `audit: could not search: volume ${remote}: a nfs file system, mounted only while a container uses it`,
    );
    noValue(t, run);
  },
);

t.test(
  "a bind mount behind a link of the container's own (/var/run): found; one whose path a user of it renamed: named",
  async (t) => {
    const data = scratch(t, 'run-data');
    writeFileSync(join(data, 'notes.txt'), token);
    const moved = scratch(t, 'moved-data');
    writeFileSync(join(moved, 'notes.txt'), token);
    const run = (name: string, mount: string) =>
      nodeContainer(
        t,
        `${project}-${name}`,
        [`com.docker.compose.project=${project}`],
        ['-v', mount],
        'setInterval(() => {}, 1e9)',
      );
    await run('varrun', `${data}:/var/run/data`);
    await run('renamed', `${moved}:/home/bridge/work/data`);
    // Inside, the mount's parent renamed and a link left in its place, leading elsewhere.
    await docker([
      'exec',
      '-u',
      '0',
      `${project}-renamed`,
      'sh',
      '-c',
      'mv /home/bridge/work /home/bridge/old && ln -s /etc /home/bridge/work',
    ]);
    const audited = await audit();
    t.match(
      audited.stdout,
      new RegExp(
        `^finding: bind mount \\S+ \\(as ${project}-varrun sees it at /var/run/data\\) /notes\\.txt holds the sealed op-sa-token \\(raw\\)$`,
        'm',
      ),
      'through /var/run, a link to /run in the container: found',
    );
    t.match(
      audited.stderr,
      new RegExp(
        `audit: could not search: bind mount \\S+ \\(as ${project}-renamed sees it at /home/bridge/work/data\\): the container's path to it does not lead to a mount`,
      ),
      'renamed: named as not searched, not passed over',
    );
    noValue(t, audited);
  },
);

t.test('a value spread over the parts of a path: the line naming it is withheld', async (t) => {
  const root = join('/tmp', `${project}-spread`);
  let dir = root;
  for (let i = 0; i < token.length; i += 200) dir = join(dir, token.slice(i, i + 200));
  mkdirSync(dir, { recursive: true });
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(dir, 'f'), token);
  const run = await audit();
  t.equal(run.exitCode, 1);
  t.match(run.stdout, /^finding: \(withheld: its place names a value\)$/m);
  const joined = (run.stdout + run.stderr).replace(/\//g, '');
  t.notOk(joined.includes(token.slice(0, 200)), 'no output holds the value with its separators taken out');
  noValue(t, run);
});
