// The entrypoint's root phase, from the side of whoever sets the container's
// environment: every variable that changes what a root process loads is
// refused (exit 77, the variable named, never its value), by the entrypoint
// as by the launcher (the lists are one list); the programs it runs as root
// come from their fixed paths, never from PATH (a directory of traps first on
// PATH catches nothing run as root); op gets an environment from an allow
// list; and the whole chain, launcher then bundle, starts the bridge.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { ROOT_PATH } from '../../entrypoint/root-tools.js';
import {
  isLoaderVariable,
  LOADER_VARIABLE_EXCEPTIONS,
  LOADER_VARIABLES,
} from '../../entrypoint/steps/refuse-loader-variables.js';
import { trustedTool, untrustedReason } from '../../entrypoint/trusted-path.js';
import { assertNoSecrets } from '../support/no-secrets.js';
import {
  BRIDGE_UID,
  CLEAN_ENV,
  ENTRYPOINT_ARGV,
  execa,
  runEntrypoint,
  scenario,
  waitForFile,
} from '../support/scenario.js';
import { TEST_LAUNCHER, TEST_NODE, TEST_OP } from '../support/test-build.js';

const LAUNCHER_SOURCE = resolve(import.meta.dirname, '..', '..', 'entrypoint', 'launcher', 'launcher.c');
const CANARY = 'canary-value-must-not-be-printed';

/** A name for each loader-list entry: the name itself, or one a prefix catches. */
const samples = LOADER_VARIABLES.map((entry) => (entry.endsWith('*') ? `${entry.slice(0, -1)}SAMPLE` : entry));

t.test("the entrypoint's list is the launcher's list", async (t) => {
  const source = readFileSync(LAUNCHER_SOURCE, 'utf8');
  const array = (name: string) =>
    [...(new RegExp(`${name}\\[\\] = \\{([^}]*)\\}`).exec(source)?.[1] ?? '').matchAll(/"([^"]*)"/g)].map((m) => m[1]);
  t.same(array('loader_variables'), [...LOADER_VARIABLES], 'the same loader variables, in the same order');
  t.same(array('loader_variable_exceptions'), [...LOADER_VARIABLE_EXCEPTIONS], 'and the same exceptions');
  t.ok(
    isLoaderVariable('NODE_OPTIONS') &&
      isLoaderVariable('LD_PRELOAD') &&
      isLoaderVariable('GCONV_PATH') &&
      !isLoaderVariable('NODE_ENV') &&
      !isLoaderVariable('PATH'),
  );
});

t.test(
  'as root, each loader variable is refused before anything runs: exit 77, the variable named, no value shown',
  async (t) => {
    const names = [
      ...samples,
      'NODE_OPTIONS',
      'NODE_PATH',
      'LD_PRELOAD',
      'LD_LIBRARY_PATH',
      'LD_AUDIT',
      'NODE_ICU_DATA',
      'NODE_V8_COVERAGE',
      'OPENSSL_CONF',
    ];
    for (const name of names) {
      const s = scenario(t, { behaviour: { reportTo: join(tmpdir(), `cbs-op-report-${process.pid}-${name}`) } });
      // Values Node and the loader accept silently (this is the entrypoint started without its launcher, so they
      // apply to Node itself): the refusal must come from the entrypoint. The launcher's test shows payloads never run.
      // (NODE_V8_COVERAGE and NODE_REDIRECT_WARNINGS make Node itself write there, as root: a scratch directory.)
      const scratch = join(tmpdir(), `cbs-node-variable-${process.pid}`);
      t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
      const value =
        name === 'NODE_OPTIONS'
          ? '--no-warnings'
          : name.startsWith('NODE_')
            ? scratch
            : name.startsWith('LD_')
              ? ''
              : `/nonexistent/${CANARY}`;
      // Set after clean-env, which strips the test runner's own NODE_OPTIONS.
      const run = await execa(CLEAN_ENV, ['/usr/bin/env', `${name}=${value}`, ...ENTRYPOINT_ARGV], {
        env: { ...s.env, STANDIN_EXIT_AFTER_MS: '100' },
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
      });
      t.equal(run.exitCode, 77, `${name}: exit 77 (${run.stderr.trim()})`);
      t.equal(
        run.stderr.trim(),
        `copilot-bridge-entrypoint: environment: ${name} is set, and it changes what a root process loads; remove it from the container's environment`,
        `${name}: one line naming it`,
      );
      t.notMatch(run.stderr + run.stdout, CANARY, `${name}: the value is not shown`);
      t.throws(() => readFileSync(join(tmpdir(), `cbs-op-report-${process.pid}-${name}`)), `${name}: op never ran`);
    }
    const report = join(tmpdir(), `cbs-op-report-${process.pid}-exempt`);
    t.teardown(() => rmSync(report, { force: true }));
    const exempt = scenario(t, { behaviour: { reportTo: report } });
    const run = await runEntrypoint({
      ...exempt.env,
      NODE_ENV: 'production',
      NODE_VERSION: '24',
      STANDIN_EXIT_AFTER_MS: '100',
    });
    t.equal(run.exitCode, 0, `NODE_ENV and NODE_VERSION pass (${run.stderr.trim()})`);
    t.ok(readFileSync(report, 'utf8'), 'control: op writes its report when it runs, so "op never ran" above can fail');
  },
);

t.test(
  'the launcher, then the bundle: the whole chain starts the bridge, and refuses NODE_OPTIONS before Node runs it',
  async (t) => {
    const s = scenario(t);
    const ok = await execa(CLEAN_ENV, [TEST_LAUNCHER], {
      env: { ...s.env, STANDIN_EXIT_AFTER_MS: '200' },
      extendEnv: false,
      reject: false,
      cwd: s.home,
    });
    t.equal(ok.exitCode, 0, `started through the launcher (${ok.stderr.trim().split('\n').at(-1)})`);
    t.match(ok.stderr, /supervise|exec copilot-bridge start/, 'the bridge was launched');
    const marker = join(s.dir, 'payload-ran');
    const payload = `import('node:fs').then((fs) => fs.writeFileSync(${JSON.stringify(marker)}, String(process.getuid())))`;
    const refused = await execa(
      CLEAN_ENV,
      ['/usr/bin/env', `NODE_OPTIONS=--import=data:text/javascript,${encodeURIComponent(payload)}`, TEST_LAUNCHER],
      { env: s.env, extendEnv: false, reject: false },
    );
    t.equal(refused.exitCode, 77, 'NODE_OPTIONS: 77');
    t.throws(() => readFileSync(marker), 'the payload never ran');
    const control = await execa(process.execPath, ['-e', '0'], {
      env: { NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(payload)}` },
      extendEnv: false,
      reject: false,
    });
    t.equal(control.exitCode, 0);
    t.equal(readFileSync(marker, 'utf8'), '0', 'control: the same payload runs in a plain node (as root)');
  },
);

t.test('with a directory of traps first on PATH, the root phase runs none of them', async (t) => {
  const reportTo = join(mkdtempSync(join(tmpdir(), 'cbs-op-report-')), 'op.json');
  t.teardown(() => rmSync(reportTo, { force: true }));
  const s = scenario(t, { behaviour: { reportTo } });
  const traps = join(s.dir, 'traps');
  const caught = join(s.dir, 'caught');
  mkdirSync(traps);
  mkdirSync(caught, { mode: 0o777 });
  chmodSync(caught, 0o777);
  const names = [
    'op',
    'prlimit',
    'tini',
    'node',
    'env',
    'sh',
    'bash',
    'dash',
    'cat',
    'id',
    'getent',
    'setpriv',
    'unshare',
  ];
  for (const name of names) {
    writeFileSync(join(traps, name), `#!/bin/sh\necho "$(/usr/bin/id -u)" > ${caught}/${name}-$$\nexit 0\n`, {
      mode: 0o755,
    });
  }
  chmodSync(traps, 0o755);
  // Core limit unlimited (so prlimit is needed), in a PID namespace (so tini is needed), supervise mode.
  // The traps go first on the entrypoint's PATH only (set after clean-env, whose own `env bash` must not be caught).
  const run = await execa(
    '/usr/bin/prlimit',
    [
      '--core=unlimited',
      '--',
      '/usr/bin/unshare',
      '--pid',
      '--fork',
      '--mount-proc',
      '--kill-child',
      CLEAN_ENV,
      '/usr/bin/env',
      `PATH=${traps}:${s.env.PATH}`,
      ...ENTRYPOINT_ARGV,
    ],
    {
      env: { ...s.env, BRIDGE_SUPERVISE: '1', STANDIN_EXIT_AFTER_MS: '1500' },
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
      timeout: 60_000,
    },
  );
  t.match(run.stderr, /supervise: running copilot-bridge start/, 'it got as far as the bridge');
  t.equal(
    run.exitCode,
    0,
    `the bridge started and ended normally (${run.stderr.trim().split('\n').slice(-2).join(' | ')})`,
  );
  t.equal(
    JSON.parse(readFileSync(reportTo, 'utf8')).uid,
    0,
    'op (the stand-in at its fixed path) rendered the config, as root',
  );
  const ranAsRoot = readdirSync(caught).filter((file) => readFileSync(join(caught, file), 'utf8').trim() === '0');
  t.same(ranAsRoot, [], `no trap ran as root (caught: ${readdirSync(caught).join(', ') || 'none'})`);
});

t.test(
  'op runs by its fixed path, with the fixed PATH, in its private directory, and sees only allow-listed variables',
  async (t) => {
    const reportTo = join(mkdtempSync(join(tmpdir(), 'cbs-op-report-')), 'op.json');
    t.teardown(() => rmSync(reportTo, { force: true }));
    const template = '{ "vault": "{{ op://${BRIDGE_OP_VAULT}/mattermost-admin/token }}" }';
    const s = scenario(t, {
      behaviour: { reportTo },
      template,
      items: { 'op://stack/mattermost-admin/token': 'admin-token-value-123' },
    });
    const extra = {
      BRIDGE_OP_VAULT: 'stack',
      TZ: 'UTC',
      HTTPS_PROXY: 'http://proxy:3128',
      SOME_APP_SETTING: 'x',
      DOCKER_HOST: 'tcp://socket-proxy:2375',
      GH_TOKEN: 'not-for-op',
    };
    const run = await runEntrypoint({ ...s.env, ...extra, STANDIN_EXIT_AFTER_MS: '100' });
    t.equal(run.exitCode, 0, run.stderr);
    const seen = JSON.parse(readFileSync(reportTo, 'utf8')) as {
      names: string[];
      PATH: string;
      cwd: string;
      uid: number;
    };
    t.same(
      seen.names,
      ['BRIDGE_OP_VAULT', 'HOME', 'HTTPS_PROXY', 'LANG', 'OP_CONFIG_DIR', 'OP_SERVICE_ACCOUNT_TOKEN', 'PATH', 'TZ'],
      "the allow list, the template's variable, and what the entrypoint sets; nothing else of the container's",
    );
    t.equal(seen.PATH, ROOT_PATH, "the fixed PATH, not the container's");
    t.match(seen.cwd, /\/\.op-config-[^/]+$/, 'its private config directory as working directory');
    t.equal(seen.uid, 0, 'as root');
    assertNoSecrets(t, 'stderr', run.stderr, s.secrets());
  },
);

t.test('trusted paths: only files that only root can change', async (t) => {
  t.equal(untrustedReason(TEST_OP), undefined, "the test build's op");
  t.equal(untrustedReason('/usr/bin/prlimit'), undefined, 'prlimit');
  const dir = mkdtempSync(join('/usr/local/lib', 'cbs-trust-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  const file = (name: string, mode = 0o755) => {
    writeFileSync(join(dir, name), '#!/bin/sh\n', { mode });
    chmodSync(join(dir, name), mode);
    return join(dir, name);
  };
  t.equal(untrustedReason(file('fine')), undefined, 'a root-owned 0755 file in a root-owned 0755 directory');
  t.equal(untrustedReason(file('group-writable', 0o775)), `${dir}/group-writable is writable by group or others`);
  const theirs = file('theirs');
  (await import('node:fs')).chownSync(theirs, 65534, 65534);
  t.equal(untrustedReason(theirs), `${theirs} is owned by uid 65534`);
  mkdirSync(join(dir, 'open'), { mode: 0o777 });
  chmodSync(join(dir, 'open'), 0o777);
  writeFileSync(join(dir, 'open', 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  t.equal(
    untrustedReason(join(dir, 'open', 'tool')),
    `${dir}/open is writable by group or others`,
    'a world-writable directory',
  );
  mkdirSync(join(dir, 'sticky'));
  chmodSync(join(dir, 'sticky'), 0o1777);
  writeFileSync(join(dir, 'sticky', 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  t.equal(
    untrustedReason(join(dir, 'sticky', 'tool')),
    undefined,
    'a root-owned sticky directory, like /tmp, with a root-owned file',
  );
  symlinkSync(join(dir, 'open', 'tool'), join(dir, 'link'));
  t.equal(
    untrustedReason(join(dir, 'link')),
    `${dir}/open is writable by group or others`,
    'a link into a writable directory',
  );
  t.match(untrustedReason(join(dir, 'missing')), /is missing$/);
  t.throws(
    () => trustedTool(join(dir, 'missing'), 'op', 'render'),
    { exitCode: 69, message: new RegExp(`op is not installed at ${dir}/missing; the image installs it there`) },
    'missing: 69',
  );
  t.throws(
    () => trustedTool(join(dir, 'open', 'tool'), 'op', 'render'),
    {
      exitCode: 77,
      message:
        /op at .* is not trusted \(.* is writable by group or others\); the root phase runs only files that only root can change/,
    },
    'untrusted: 77',
  );
});

/** Whether anything listens on TCP port `port` in this network namespace (IPv4 or IPv6). */
function listening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/net/tcp', '/proc/net/tcp6'].some((file) => {
    try {
      return readFileSync(file, 'utf8')
        .split('\n')
        .some((line) => {
          const fields = line.trim().split(/\s+/);
          return fields[1]?.endsWith(`:${hex}`) && fields[3] === '0A';
        });
    } catch {
      return false;
    }
  });
}

t.test(
  "SIGUSR1 from the bridge's user does not open Node's inspector in the supervisor (its memory holds the token)",
  async (t) => {
    const s = scenario(t);
    const asBridge = ['setpriv', `--reuid=${BRIDGE_UID}`, `--regid=${BRIDGE_UID}`, '--clear-groups', '--'];
    // The control first: a Node 24 of the bridge's user without --disable-sigusr1 opens its inspector on SIGUSR1.
    const plain = execa(TEST_NODE, ['-e', 'setTimeout(() => {}, 20000)'], {
      uid: BRIDGE_UID,
      gid: BRIDGE_UID,
      env: { PATH: '/usr/bin:/bin' },
      extendEnv: false,
      reject: false,
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.notOk(listening(9229), 'nothing listens on 9229 before');
    await execa(asBridge[0]!, [...asBridge.slice(1), 'kill', '-USR1', String(plain.pid)]);
    const opened = await waitUntil(() => listening(9229), 5000);
    plain.kill('SIGKILL');
    await plain;
    t.ok(opened, 'control: SIGUSR1 opens the inspector of a Node started without the flag');
    await waitUntil(() => !listening(9229), 5000);
    // The entrypoint through its launcher, supervising the bridge, after the drop (same uid as the bridge).
    const child = execa(CLEAN_ENV, [TEST_LAUNCHER], {
      env: { ...s.env, BRIDGE_SUPERVISE: '1' },
      extendEnv: false,
      reject: false,
    });
    t.teardown(() => {
      child.kill('SIGKILL');
    });
    await waitForFile(join(s.home, '.copilot-bridge', 'ready'));
    t.equal(
      readFileSync(`/proc/${child.pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)?.[1],
      String(BRIDGE_UID),
      "the supervisor runs as the bridge's user",
    );
    const sent = await execa(asBridge[0]!, [...asBridge.slice(1), 'kill', '-USR1', String(child.pid)], {
      reject: false,
    });
    t.equal(sent.exitCode, 0, "the bridge's user can signal it (same uid)");
    t.notOk(await waitUntil(() => listening(9229), 2000), 'but no inspector opens');
    t.ok(existsSync(`/proc/${child.pid}`), 'and the supervisor goes on (SIGUSR1 is ignored, not fatal)');
    child.kill('SIGTERM');
    const run = await child;
    t.equal(run.exitCode, 143, 'it still stops cleanly');
  },
);

t.test('as root, a Node without --disable-sigusr1 is refused (start it through the launcher)', async (t) => {
  const s = scenario(t);
  const run = await execa(CLEAN_ENV, [TEST_NODE, ENTRYPOINT_ARGV.at(-1)!], {
    env: { ...s.env, STANDIN_EXIT_AFTER_MS: '100' },
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
  });
  t.equal(run.exitCode, 77);
  t.equal(
    run.stderr.trim(),
    "copilot-bridge-entrypoint: runtime: Node was started without --disable-sigusr1, so after the drop the bridge's user could open its inspector and read the token; start the entrypoint through its launcher (the image's ENTRYPOINT), which passes it",
  );
});

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}
