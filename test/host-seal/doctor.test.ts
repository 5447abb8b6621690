// `doctor` on this host, black-box through the built CLI, against real things:
// a real Docker engine, a software TPM (swtpm) with a sealed token, GNOME
// Keyring on a private D-Bus session. A healthy host first (every line ok or
// warn, exit 0, --json), then each failure made real: the engine stopped
// (DOCKER_HOST at a socket nothing listens on), the TPM's socket gone, the
// keyring locked, the agents file invalid, the published port taken. Each
// asserts its line and its fix, the exit status, and that no output holds the
// token.
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import t, { type Test } from 'tap';
import { contextCacheDir } from '../../host-seal/backends/tpm2/cache.js';
import { fakeToken } from '../fixtures/host-seal/fake-token.js';
import { hostVault } from '../fixtures/vault.js';
import { ensureDockerEngine } from '../support/e2e/engine.js';
import { cli, MAIN, sandbox } from '../support/host-seal/cli.js';
import { closedPort } from '../support/host-seal/fake-tpm-socket.js';
import { leaks } from '../support/host-seal/leaks.js';
import { startSwtpm } from '../support/host-seal/swtpm.js';
import { ROOT } from '../support/scenario.js';

const SESSION = fileURLToPath(new URL('../support/host-seal/keyring-session.sh', import.meta.url));
const token = fakeToken();
await ensureDockerEngine();

/** A host with a sealed token on swtpm, the checkout's compose file and a valid agents file, on a free port. */
async function host(t: Test, sealArgs: string[] = []) {
  const box = await sandbox(t);
  const tpm = await startSwtpm(box.root);
  t.teardown(() => tpm.stop());
  const agents = join(box.root, 'agents.json');
  copyFileSync(join(ROOT, 'test', 'fixtures', 'agents.json'), agents);
  const port = await freePort();
  const env = {
    ...box.env,
    TPM2TOOLS_TCTI: tpm.tcti,
    AGENTS_FILE: agents,
    MM_HTTP_PORT: String(port),
    COMPOSE_PROJECT_NAME: `cbs-doctor-${process.pid}`,
    BRIDGE_IMAGE: `cbs-doctor-absent-${process.pid}:none`,
    SECRETS_SOURCE: '1password',
    DOCKER_HOST: process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock',
  };
  const sealed = await cli(['seal', '--backend', 'tpm2', ...sealArgs], { env, input: `${token}\n` });
  t.equal(sealed.exitCode, 0, `seal (${sealed.stderr.trim()})`);
  return { box, env, port, tpm };
}

const doctor = (env: Record<string, string>, args: string[] = []) => cli(['doctor', ...args], { env, cwd: ROOT });

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const lineOf = (stdout: string, check: string) =>
  stdout.split('\n').find((l) => l.slice(6).startsWith(`${check}:`)) ?? '';

t.test('a healthy host: every check ok or a warning, exit 0, and the same as JSON', async (t) => {
  const { env } = await host(t);
  const run = await doctor(env);
  t.equal(run.exitCode, 0, `exit 0 (${run.stdout}${run.stderr})`);
  t.match(lineOf(run.stdout, 'docker engine'), /^ok {4}docker engine: \d+\.\d+\.\S+ \(API \d+\.\d+\)$/);
  t.match(lineOf(run.stdout, 'compose'), /^ok {4}compose: docker(-| )compose /);
  t.match(lineOf(run.stdout, 'swarm'), /^ok {4}swarm: inactive/);
  t.match(lineOf(run.stdout, 'compose file'), /^ok {4}compose file: docker(-| )compose reads it \(4 services\)$/);
  t.match(
    lineOf(run.stdout, `port 127.0.0.1:${env.MM_HTTP_PORT}`),
    /^ok {4}port \S+: free \(mattermost publishes it\)$/,
  );
  t.match(
    lineOf(run.stdout, 'image'),
    /^warn {2}image: cbs-doctor-absent-\d+:none is not built yet; fix: npm run up builds it/,
  );
  t.match(lineOf(run.stdout, 'agents file'), /^ok {4}agents file: \S+agents\.json: the admin and 2 agent\(s\)$/);
  t.match(lineOf(run.stdout, 'tpm'), /^ok {4}tpm: TPM2TOOLS_TCTI=swtpm:host=127\.0\.0\.1,port=\d+ answers/);
  t.match(lineOf(run.stdout, 'tpm2-tools'), /^ok {4}tpm2-tools: \d+\.\d+/);
  t.match(lineOf(run.stdout, 'pcr banks'), /^ok {4}pcr banks: .*sha256/);
  t.match(
    lineOf(run.stdout, 'sealed op-sa-token'),
    /^ok {4}sealed op-sa-token: tpm2: unseals, fingerprint [0-9a-f]{12} as sealed$/,
  );
  t.match(lineOf(run.stdout, 'release directory'), /^ok {4}release directory: /);
  // A dry run leaves nothing behind: no loaded context cached for the next unseal.
  t.notOk(existsSync(contextCacheDir(env)), 'no TPM context cache written');
  for (const agent of ['lal', 'data'])
    t.equal(
      lineOf(run.stdout, `agent ${agent}`),
      `ok    agent ${agent}: runs on the shared op-sa-token (npm run seal -- --name agent-${agent} gives it its own)`,
    );
  t.notOk(leaks(run.stdout + run.stderr, token), 'no output holds the token');
  const json = await doctor(env, ['--json']);
  t.equal(json.exitCode, 0);
  const parsed = JSON.parse(json.stdout) as { ok: boolean; checks: Array<{ check: string; status: string }> };
  t.equal(parsed.ok, true);
  t.same(
    parsed.checks.map((c) => `${c.status} ${c.check}`),
    run.stdout
      .trim()
      .split('\n')
      .map((l) => `${l.slice(0, 4).trim()} ${l.slice(6).split(': ')[0]}`),
    'the same checks, in the same order',
  );
});

t.test('the engine stopped: the line says so and how to start it; exit 69', async (t) => {
  const { box, env } = await host(t);
  mkdirSync(join(box.root, 'docker'), { recursive: true });
  const run = await doctor({ ...env, DOCKER_HOST: `unix://${join(box.root, 'docker', 'docker.sock')}` });
  t.equal(run.exitCode, 69);
  t.match(
    lineOf(run.stdout, 'docker engine'),
    /^fail {2}docker engine: does not answer \(.+\); fix: start it \(systemctl start docker\) or check DOCKER_HOST$/,
  );
  t.notMatch(run.stdout, /^\w+ +swarm:/m, 'swarm is not asked of an engine that does not answer');
  t.match(run.stderr, /^copilot-bridge-seal: doctor: \d+ check\(s\) failed; the first: docker engine$/m);
  t.notOk(leaks(run.stdout + run.stderr, token));
});

t.test("the TPM's socket gone: the TPM check and the sealed credential fail, naming the fix", async (t) => {
  const { env } = await host(t);
  const gone = `swtpm:host=127.0.0.1,port=${await closedPort()}`;
  const run = await doctor({ ...env, TPM2TOOLS_TCTI: gone });
  t.not(run.exitCode, 0);
  t.match(
    lineOf(run.stdout, 'tpm'),
    new RegExp(
      `^fail {2}tpm: TPM2TOOLS_TCTI=${gone.replace(/[.]/g, '\\.')}: nothing answers at 127\\.0\\.0\\.1:\\d+ \\(ECONNREFUSED\\); fix: start the TPM simulator`,
    ),
  );
  t.match(lineOf(run.stdout, 'sealed op-sa-token'), /^fail {2}sealed op-sa-token: .*TPM/i, 'the dry run fails too');
  t.notOk(leaks(run.stdout + run.stderr, token));
});

t.test('the keyring locked: the sealed credential fails with how to unlock it; exit 77', async (t) => {
  const box = await sandbox(t);
  const agents = join(box.root, 'agents.json');
  copyFileSync(join(ROOT, 'test', 'fixtures', 'agents.json'), agents);
  const env = { ...box.env, AGENTS_FILE: agents, MM_HTTP_PORT: String(await freePort()), SECRETS_SOURCE: '1password' };
  const inSession = (args: string[], locked: boolean, input?: string) =>
    execa('dbus-run-session', ['--', 'bash', SESSION, 'node', MAIN, ...args], {
      env: { ...env, ...(locked ? { KEYRING_STATE: 'locked' } : {}) },
      extendEnv: false,
      reject: false,
      cwd: ROOT,
      timeout: 120_000,
      ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
    });
  t.equal(
    (await inSession(['seal', '--backend', 'keychain'], false, `${token}\n`)).exitCode,
    0,
    'sealed in the keyring',
  );
  // No TPM here: the Secret Service is the store, and doctor says whether it answers and whether it is locked.
  const bare = await execa('node', [MAIN, 'doctor'], { env, extendEnv: false, reject: false, cwd: ROOT });
  t.equal(
    lineOf(String(bare.stdout), 'secret service'),
    'fail  secret service: no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset), so no Secret Service and no TPM to seal with; fix: run this from a desktop login session, start a keyring (dbus-run-session, then gnome-keyring-daemon --unlock --components=secrets), or enable the TPM',
  );
  t.equal(bare.exitCode, 69);
  const unlocked = await inSession(['doctor'], false);
  t.equal(
    lineOf(String(unlocked.stdout), 'secret service'),
    'ok    secret service: answers on the session bus; the default keyring is unlocked',
  );
  t.match(
    String(unlocked.stdout),
    /^ok {4}sealed op-sa-token: keychain: unseals, fingerprint [0-9a-f]{12} as sealed$/m,
  );
  const locked = await inSession(['doctor'], true);
  t.equal(
    lineOf(String(locked.stdout), 'secret service'),
    'warn  secret service: the default keyring is locked: an unseal from it fails until it is unlocked; fix: unlock it from your desktop session (or gnome-keyring-daemon --unlock, password on stdin)',
  );
  t.equal(locked.exitCode, 77, String(locked.stderr).split('\n').at(-2) ?? '');
  t.match(
    String(locked.stdout),
    /^fail {2}sealed op-sa-token: the keyring holding op-sa-token is locked and could not be unlocked here; unlock it/m,
  );
  t.notOk(leaks(`${unlocked.stdout}${unlocked.stderr}${locked.stdout}${locked.stderr}`, token));
});

t.test("a fresh clone's agents file, the example: its line says init fills it in; exit 78", async (t) => {
  const { env } = await host(t);
  const run = await doctor({ ...env, AGENTS_FILE: join(ROOT, 'agents.example.json') });
  t.equal(run.exitCode, 78);
  t.equal(
    lineOf(run.stdout, 'agents file'),
    `fail  agents file: ${join(ROOT, 'agents.example.json')} still holds the example's placeholders; fix: npm run init fills it in (or put the real values there: docs/agents-file.md)`,
  );
});

t.test('an invalid agents file: its line names the problem; exit 78', async (t) => {
  const { box, env } = await host(t);
  const bad = join(box.root, 'bad-agents.json');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(bad, JSON.stringify({ agents: [] }));
  const run = await doctor({ ...env, AGENTS_FILE: bad });
  t.equal(run.exitCode, 78);
  t.match(
    lineOf(run.stdout, 'agents file'),
    `fail  agents file: ${bad} has no "admin" entry, which the admin bridge needs; add one (see agents.example.json), or run npm run init`,
  );
});

t.test('the published port taken by another program: its line, and the fix; exit 69', async (t) => {
  const { env, port } = await host(t);
  const squatter: Server = await new Promise((resolve) => {
    const server = createServer().listen(port, '127.0.0.1', () => resolve(server));
  });
  t.teardown(() => squatter.close());
  const run = await doctor(env);
  t.equal(run.exitCode, 69);
  t.equal(
    lineOf(run.stdout, `port 127.0.0.1:${port}`),
    `fail  port 127.0.0.1:${port}: taken by another program, and mattermost publishes it; fix: stop what listens there, or choose another port in .env (MM_HTTP_PORT, MM_BIND_ADDRESS)`,
  );
  // up checks the same before it releases or starts anything: no stack half up.
  const up = await cli(['up'], { env, cwd: ROOT });
  t.equal(up.exitCode, 69);
  t.equal(
    up.stderr.trim().split('\n').at(-1),
    `copilot-bridge-seal: up: port 127.0.0.1:${port}: taken by another program, and mattermost publishes it; stop what listens there, or choose another port in .env (MM_HTTP_PORT, MM_BIND_ADDRESS), then retry`,
  );
  t.notMatch(up.stderr, /released/, 'nothing released');
  // init, the first command that starts containers, checks the same before it starts anything.
  const init = await cli(['init'], { env: { ...env, SECRETS_SOURCE: 'vault' }, cwd: ROOT });
  t.equal(init.exitCode, 69, init.stderr);
  t.equal(
    init.stderr.trim().split('\n').at(-1),
    `copilot-bridge-seal: init: port 127.0.0.1:${port}: taken by another program, and mattermost publishes it; stop what listens there, or choose another port in .env (MM_HTTP_PORT, MM_BIND_ADDRESS), then retry`,
  );
  t.notMatch(init.stderr, /up -d/, 'nothing started');
  // With the engine stopped, a port in use cannot be told to be the stack's own: a warning, not "another program".
  const blind = await doctor({ ...env, DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
  t.equal(
    lineOf(blind.stdout, `port 127.0.0.1:${port}`),
    `warn  port 127.0.0.1:${port}: taken, and the engine does not answer, so whether by this stack's mattermost cannot be told; fix: start the engine, then run doctor again`,
  );
  t.notOk(leaks(up.stdout + up.stderr + blind.stdout, token));
});

t.test(
  '--online: the sealed token, behind an auth value, is unsealed with it and tried against its account',
  async (t) => {
    // op here is the stand-in (test/fixtures/op), which knows the account of each token a fixture vault names.
    const box = await sandbox(t);
    const auth = join(box.root, 'auth');
    writeFileSync(auth, 'a passphrase of mine\n', { mode: 0o600 });
    const { env } = await host(t, ['--auth-file', auth]);
    const online = { ...env, PATH: `${join(ROOT, 'test', 'fixtures', 'op')}:${process.env.PATH}` };
    hostVault(t, token, {});
    const reached = await doctor(online, ['--online', '--auth-file', auth]);
    t.equal(lineOf(reached.stdout, 'op'), 'ok    op: 2.31.0: the sealed token reaches https://fixture.1password.com');
    t.match(
      lineOf(reached.stdout, 'sealed op-sa-token'),
      /^ok {4}sealed op-sa-token: tpm2: unseals, fingerprint [0-9a-f]{12} as sealed$/,
    );

    const wrong = join(box.root, 'wrong');
    writeFileSync(wrong, 'not my passphrase\n', { mode: 0o600 });
    const refusedAuth = await doctor(online, ['--online', '--auth-file', wrong]);
    t.match(
      lineOf(refusedAuth.stdout, 'op'),
      /^fail {2}op: .*auth/i,
      'the wrong auth value: the op check says why it could not try',
    );
    t.not(refusedAuth.exitCode, 0);

    hostVault(t, token, {}, { reject: true });
    const refused = await doctor(online, ['--online', '--auth-file', auth]);
    t.equal(
      lineOf(refused.stdout, 'op').replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/, '<time>'),
      // op's own reason, its first line, picks between the fixes.
      'fail  op: the sealed token does not reach its account (op whoami: [ERROR] <time> invalid service account token); fix: check the network, or seal a valid token',
    );
    t.equal(refused.exitCode, 69);
    // An op whose error quotes the token: quoted masked, and cut only after, so no part of the token is printed.
    hostVault(t, token, {}, { reject: true, echoToken: true });
    const echoed = await doctor(online, ['--online', '--auth-file', auth]);
    t.match(lineOf(echoed.stdout, 'op'), /authentication failed for token <redacted>/);
    t.notOk(echoed.stdout.includes(token.slice(100, 140)), 'not even the part of it the cut would have kept');
    for (const run of [reached, refusedAuth, refused, echoed])
      t.notOk(leaks(run.stdout + run.stderr, token), 'no output holds the token');
  },
);

t.test(
  "the stack's image built: ok when its labels say this checkout's Dockerfile, though they hold spaces",
  async (t) => {
    // The Dockerfile's own description label has spaces; an image of labels only stands for the stack's build here.
    const { box, env } = await host(t);
    const name = `cbs-doctor-labels-${process.pid}:test`;
    const digest = createHash('sha256')
      .update(readFileSync(join(ROOT, 'Dockerfile')))
      .digest('hex');
    const build = join(box.root, 'image');
    mkdirSync(build);
    writeFileSync(
      join(build, 'Dockerfile'),
      [
        'FROM scratch',
        'LABEL org.opencontainers.image.description="copilot-bridge with a config rendered at start, and more words"',
        'LABEL com.copilot-bridge-stack.bridge-package="@chrisromp/copilot-bridge@0.0.0-test"',
        `LABEL com.copilot-bridge-stack.dockerfile-sha256="${digest}"`,
        '',
      ].join('\n'),
    );
    await execa('docker', ['build', '-q', '-t', name, build]);
    t.teardown(() => execa('docker', ['rmi', '-f', name], { reject: false }));
    const run = await doctor({ ...env, BRIDGE_IMAGE: name });
    t.match(
      lineOf(run.stdout, 'image'),
      new RegExp(
        `^ok {4}image: ${name}: @chrisromp/copilot-bridge@0\\.0\\.0-test, built \\S+ from this checkout's Dockerfile$`,
      ),
    );
    t.equal(run.exitCode, 0, run.stdout + run.stderr);
  },
);

t.test('an auth value the TPM refuses is not sent again to another credential, nor to op', async (t) => {
  // Each refusal counts toward the TPM's dictionary-attack lockout: a dry run must not spend several.
  const box = await sandbox(t);
  const auth = join(box.root, 'auth');
  writeFileSync(auth, 'the right one\n', { mode: 0o600 });
  const { env } = await host(t, ['--auth-file', auth]);
  const second = await cli(['seal', '--backend', 'tpm2', '--name', 'agent-lal', '--auth-file', auth], {
    env,
    input: `${fakeToken()}\n`,
  });
  t.equal(second.exitCode, 0, `a second credential behind the same auth value (${second.stderr.trim()})`);
  const wrong = join(box.root, 'wrong');
  writeFileSync(wrong, 'a wrong one\n', { mode: 0o600 });
  const online = { ...env, PATH: `${join(ROOT, 'test', 'fixtures', 'op')}:${process.env.PATH}` };
  const run = await doctor(online, ['--auth-file', wrong, '--online']);
  const lines = ['sealed agent-lal', 'sealed op-sa-token'].map((check) => lineOf(run.stdout, check));
  t.equal(lines.filter((l) => /^fail {2}sealed \S+: the TPM refused the auth value for /.test(l)).length, 1, 'one try');
  t.equal(
    lines.filter((l) =>
      /^warn {2}sealed \S+: tpm2: not tried, the TPM refused this auth value for \S+ \(each refusal counts toward its dictionary-attack lockout\); fix: run doctor --auth-file with this credential's own auth value$/.test(
        l,
      ),
    ).length,
    1,
    'the other not tried',
  );
  t.match(lineOf(run.stdout, 'op'), /^fail {2}op: not tried: the TPM refused the auth value for \S+/);
  t.notOk(leaks(run.stdout + run.stderr, token));
});

t.test(
  'a value doctor unsealed is masked wherever a check quotes it (a token in the image label of a package URL)',
  async (t) => {
    const { box, env } = await host(t);
    const github = `ghp_${randomBytes(27).toString('base64url')}`;
    t.equal((await cli(['vault', 'set', 'github-admin/token'], { env, input: github })).exitCode, 0, 'a vault item');
    const name = `cbs-doctor-url-${process.pid}:test`;
    const build = join(box.root, 'image');
    mkdirSync(build);
    writeFileSync(
      join(build, 'Dockerfile'),
      `FROM scratch\nLABEL com.copilot-bridge-stack.bridge-package="git+https://x-access-token:${github}@github.com/chrisromp/copilot-bridge.git"\n`,
    );
    await execa('docker', ['build', '-q', '-t', name, build]);
    t.teardown(() => execa('docker', ['rmi', '-f', name], { reject: false }));
    for (const args of [[], ['--json']]) {
      const run = await doctor({ ...env, BRIDGE_IMAGE: name }, args);
      t.match(run.stdout, /x-access-token:<redacted>@github\.com/, `masked (${args.join(' ') || 'lines'})`);
      t.notOk(leaks(run.stdout + run.stderr, github), 'the vault item is in no output');
    }
    // A value with separators (a password) that a compose error quotes: masked whole, though the shape mask alone
    // would leave its parts; masked first, then cut.
    const password = `pw+${randomBytes(12).toString('hex')}/x=${randomBytes(6).toString('base64url')}!`;
    t.equal((await cli(['vault', 'set', 'db/password'], { env, input: password })).exitCode, 0);
    const bad = join(box.root, 'quotes.yml');
    writeFileSync(bad, `services:\n  x:\n    image: "\${${password}"\n`);
    const quoted = await doctor({ ...env, BRIDGE_IMAGE: name }, ['--file', bad]);
    t.match(lineOf(quoted.stdout, 'compose file'), /<redacted>/, 'the compose error is quoted, masked');
    for (const piece of password.split(/[+/=!]/).filter((p) => p.length >= 4))
      t.notOk(quoted.stdout.includes(piece), 'no piece of the value printed');
    // With 1Password as the source doctor unseals no GitHub token: the label's token is masked by its shape.
    t.equal((await cli(['forget', '--name', 'vault'], { env })).exitCode, 0, 'the vault forgotten');
    const unknown = await doctor({ ...env, BRIDGE_IMAGE: name });
    t.match(unknown.stdout, /x-access-token:<redacted>@github\.com/, 'masked though never unsealed');
    t.notOk(leaks(unknown.stdout + unknown.stderr, github));
  },
);

t.test(
  'each agent: its own sealed token, or with the local vault its items; one that cannot start is named',
  async (t) => {
    const { env } = await host(t);
    const own = await cli(['seal', '--backend', 'tpm2', '--name', 'agent-lal'], { env, input: `${fakeToken()}\n` });
    t.equal(own.exitCode, 0, own.stderr);
    const run = await doctor(env);
    t.equal(lineOf(run.stdout, 'agent lal'), 'ok    agent lal: runs on its own sealed token, agent-lal');
    t.match(lineOf(run.stdout, 'agent data'), /^ok {4}agent data: runs on the shared op-sa-token/);

    // The local vault holding the admin's items and lal's, not data's: data cannot start, and doctor says what to set.
    const vault = { ...env, SECRETS_SOURCE: 'vault' };
    const items: Record<string, string> = {};
    for (const item of ['mattermost-admin-bot', 'github-admin', 'mattermost-lal', 'github-lal'])
      items[`${item}/token`] = `value-${randomBytes(12).toString('hex')}`;
    for (const [item, value] of Object.entries(items))
      t.equal((await cli(['vault', 'set', item], { env: vault, input: value })).exitCode, 0, `vault set ${item}`);
    const partial = await doctor(vault);
    t.equal(lineOf(partial.stdout, 'admin bridge'), 'ok    admin bridge: its items are in the local vault');
    t.equal(lineOf(partial.stdout, 'agent lal'), 'ok    agent lal: its items are in the local vault');
    t.equal(
      lineOf(partial.stdout, 'agent data'),
      'warn  agent data: the local vault holds no mattermost-data/token (for op://copilot-bridge/mattermost-data/token), github-data/token (for op://copilot-bridge/github-data/token): it cannot start; fix: npm run vault -- set mattermost-data/token',
    );
    for (const value of Object.values(items))
      t.notOk(leaks(partial.stdout + partial.stderr, value), 'no item in the output');
  },
);

t.test('an auth file that cannot be read: named at once, whether or not a credential needs it; exit 66', async (t) => {
  const { box, env } = await host(t);
  const missing = join(box.root, 'no-such-auth-file');
  const run = await doctor(env, ['--auth-file', missing]);
  t.equal(run.exitCode, 66);
  t.match(lineOf(run.stdout, 'auth file'), `fail  auth file: cannot use the auth file ${missing}: check the path`);
  for (const command of [['up'], ['audit'], ['unseal']]) {
    const other = await cli([...command, '--auth-file', missing], { env, cwd: ROOT });
    t.equal(other.exitCode, command[0] === 'audit' && process.getuid?.() !== 0 ? 77 : 66, `${command[0]}: 66`);
    t.match(other.stderr, `cannot use the auth file ${missing}`, `${command[0]} names it`);
    t.notMatch(other.stderr, /released/, `${command[0]}: nothing released`);
  }
});

t.test('a failure no check catches: the lines gathered before it are printed, then the failure; exit 70', async (t) => {
  const { box, env } = await host(t);
  // The store of sealed credentials a file, not a directory: listing it fails in a way no check expects.
  const config = join(box.root, 'config-as-file');
  writeFileSync(config, '');
  mkdirSync(join(box.root, 'xdg'), { recursive: true });
  const run = await doctor({ ...env, XDG_CONFIG_HOME: config });
  t.equal(run.exitCode, 70, run.stderr);
  t.match(lineOf(run.stdout, 'docker engine'), /^ok {4}docker engine: /, 'the lines before it');
  t.match(lineOf(run.stdout, 'agents file'), /^ok {4}agents file: /);
  t.match(run.stdout.trim().split('\n').at(-1), /^fail {2}doctor: unexpected error \(Error\); fix: report this$/);
});

t.test(
  'images this host lacks: each named with what needs it and the setting that chooses it; a warning',
  async (t) => {
    const { env } = await host(t);
    const mm = `cbs-doctor-nowhere-mm-${process.pid}:none`;
    const node = `cbs-doctor-nowhere-node-${process.pid}:none`;
    const run = await doctor({ ...env, MM_IMAGE: mm, NODE_IMAGE: node });
    t.equal(run.exitCode, 0, 'warnings only: a registry may give them');
    t.equal(
      lineOf(run.stdout, `image ${mm}`),
      `warn  image ${mm}: not on this host: up pulls it for service mattermost (a registry must answer); fix: docker pull ${mm}, or set MM_IMAGE in .env to an image this host has (docs/first-run.md)`,
    );
    t.equal(
      lineOf(run.stdout, `image ${node}`),
      `warn  image ${node}: not on this host: up pulls it for the build of ${env.BRIDGE_IMAGE} (a registry must answer); fix: docker pull ${node}, or set NODE_IMAGE in .env to an image this host has (docs/first-run.md)`,
    );
    t.notOk(leaks(run.stdout + run.stderr, token));
  },
);

t.test('a credential behind an auth value that the stack does not use: not unsealed, so no try is spent', async (t) => {
  const { box, env } = await host(t);
  const auth = join(box.root, 'auth');
  writeFileSync(auth, 'the right one\n', { mode: 0o600 });
  const other = await cli(['seal', '--backend', 'tpm2', '--name', 'agent-zed', '--auth-file', auth], {
    env,
    input: `${fakeToken()}\n`,
  });
  t.equal(other.exitCode, 0, other.stderr);
  const wrong = join(box.root, 'wrong');
  writeFileSync(wrong, 'a wrong one\n', { mode: 0o600 });
  const run = await doctor(env, ['--auth-file', wrong]);
  t.match(
    lineOf(run.stdout, 'sealed agent-zed'),
    /^ok {4}sealed agent-zed: tpm2, fingerprint [0-9a-f]{12} \(this stack does not use it: not unsealed\)$/,
  );
  t.notMatch(run.stdout, /refused/, 'the wrong value reached no credential');
  t.equal(run.exitCode, 0, run.stdout);
  // An agents file that cannot be read: which credentials the stack uses is unknown, so none behind an auth value is
  // tried (that is when doctor is run again and again).
  const broken = join(box.root, 'broken.json');
  writeFileSync(broken, '{');
  const blind = await doctor({ ...env, AGENTS_FILE: broken }, ['--auth-file', wrong]);
  t.match(
    lineOf(blind.stdout, 'sealed agent-zed'),
    /^warn {2}sealed agent-zed: tpm2, needs an auth value: not unsealed, as which credentials the stack uses cannot be told/,
  );
  t.notMatch(blind.stdout, /refused/, 'no try spent');
});

t.test('a release directory on disk: a failure, as root too (up mounts a tmpfs only at its own default)', async (t) => {
  const { env } = await host(t);
  const disk = mkdtempSync(join('/var/tmp', 'cbs-doctor-disk-'));
  t.teardown(() => rmSync(disk, { recursive: true, force: true }));
  const run = await doctor({ ...env, XDG_RUNTIME_DIR: disk });
  t.equal(
    lineOf(run.stdout, 'release directory'),
    `fail  release directory: ${disk} is not in RAM (not a tmpfs); fix: set XDG_RUNTIME_DIR to a tmpfs directory`,
  );
  t.equal(run.exitCode, 77);
});
