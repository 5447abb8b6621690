// The entrypoint's checks in-process, each made to fail on purpose: a 1Password
// credential or a secret in the environment, a secret in the bridge's argv,
// environment or the entrypoint's own output, and a privilege drop left
// incomplete or reversible, refused by the kernel, or asked of a start that is
// not root; the order of the switches; what a user that is not root can open
// (real modes and owners, under a real seteuid). The expected encodings come from Node's own
// encoders, not from the module under test. The same steps end to end, as the
// launcher runs them: refusals.test.ts, start.test.ts, root-phase.test.ts.
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { checkEnvironment } from '../../entrypoint/steps/check-environment.js';
import { canOpen, dropPrivileges } from '../../entrypoint/steps/drop-privileges.js';
import { proveNoLeak } from '../../entrypoint/steps/prove-no-leak.js';
import { SecretSet } from '../../src/secrets/secret-set.js';
import { fakeServiceAccountToken } from '../fixtures/tokens.js';
import { refusalOf } from '../support/refusal.js';

const token = fakeServiceAccountToken();
const github = `ghp_${'Z'.repeat(12)}k7Q2x9`;
const secrets = new SecretSet([
  { label: 'the service-account token', value: token },
  { label: '$.github.token', value: github },
]);

/** The StackError `run` throws, or undefined. */

/** The forms a secret takes on its way into a log, by Node's and the platform's own encoders. */
const encodings = (value: string): Array<[string, string]> => [
  ['raw', value],
  ['base64', Buffer.from(value).toString('base64')],
  ['base64url', Buffer.from(value).toString('base64url')],
  ['base64 after one byte', Buffer.from(`x${value}`).toString('base64')],
  ['base64 after two bytes', Buffer.from(`xy${value}`).toString('base64')],
  ['url', encodeURIComponent(`${value}&`)],
  ['form', new URLSearchParams({ k: value }).toString()],
  ['json', JSON.stringify({ value })],
];

t.test('checkEnvironment: every 1Password credential variable is refused by name, never by value', async (t) => {
  const credentials = [
    'OP_SERVICE_ACCOUNT_TOKEN',
    'OP_CONNECT_TOKEN',
    'OP_CONNECT_HOST',
    'OP_SESSION_team',
    'OP_SESSION_my_company',
    'OP_SESSION_ABCDEFGHIJKLMNOPQRSTUVWXYZ',
    'OP_SESSION_',
  ];
  for (const name of credentials) {
    const error = refusalOf(() => checkEnvironment({ PATH: '/usr/bin', [name]: 'opaque-value-1234' }, secrets));
    t.equal(error?.code, 'env-credential', `${name}: refused`);
    t.equal(error?.exitCode, 77, `${name}: for safety`);
    t.equal(error?.step, 'environment', `${name}: the environment step`);
    t.match(error?.message ?? '', new RegExp(`^${name} is set in the environment; remove it`), `${name}: named`);
    t.notMatch(error?.message ?? '', /opaque-value/, `${name}: its value is not shown`);
  }
  // The token file's variable is how the token is meant to come; names that only start like a credential's are not one.
  for (const name of [
    'OP_SERVICE_ACCOUNT_TOKEN_FILE',
    'OP_CONNECT_HOSTNAME',
    'OP_CONNECT_TOKEN_FILE',
    'OP_ACCOUNT',
    'OP_FORMAT',
    'OP_CACHE',
    'OP_SESSION',
    'XOP_SESSION_team',
    'op_session_team',
  ]) {
    t.equal(
      refusalOf(() => checkEnvironment({ [name]: 'plain' }, secrets)),
      undefined,
      `${name}: not a credential`,
    );
  }
  t.equal(
    refusalOf(() => checkEnvironment({ PATH: '/usr/bin', HOME: '/home/bridge' }, secrets)),
    undefined,
    'clean',
  );
  t.equal(
    refusalOf(() => checkEnvironment({ PATH: '/usr/bin', UNSET: undefined }, secrets)),
    undefined,
    'a variable without a value (an unset entry of the environment object)',
  );
});

t.test('checkEnvironment: the credential in any variable, in any common encoding, is refused', async (t) => {
  for (const [form, text] of encodings(token)) {
    const error = refusalOf(() => checkEnvironment({ APP_BLOB: `prefix ${text} suffix` }, secrets));
    t.equal(error?.code, 'env-token', `${form}: refused`);
    t.equal(error?.step, 'environment', `${form}: the environment step`);
    t.equal(error?.exitCode, 77, `${form}: for safety`);
    t.equal(
      error?.message,
      "the environment variable APP_BLOB holds the service-account token; remove it from the container's environment",
      `${form}: names the variable and the secret's label`,
    );
  }
  t.equal(refusalOf(() => checkEnvironment({ [token]: '1' }, secrets))?.code, 'env-token', 'as a variable name too');
});

t.test('proveNoLeak: a secret in argv, the environment or the entrypoint output stops the start', async (t) => {
  const clean = { argv: ['copilot-bridge', 'start'], env: { HOME: '/home/bridge' } };
  t.equal(
    refusalOf(() => proveNoLeak(secrets, clean, 'copilot-bridge-entrypoint: render: ok')),
    undefined,
    'clean',
  );
  for (const [label, value] of [
    ['the service-account token', token],
    ['$.github.token', github],
  ] as const) {
    for (const [form, text] of encodings(value)) {
      const places: Array<[string, () => unknown]> = [
        ['argument 2 of the command', () => proveNoLeak(secrets, { ...clean, argv: [...clean.argv, text] }, '')],
        [
          'the environment variable APP_X',
          () => proveNoLeak(secrets, { ...clean, env: { ...clean.env, APP_X: `a${text}b` } }, ''),
        ],
        ["the entrypoint's own output", () => proveNoLeak(secrets, clean, `line one\nsaid: ${text}\nline three`)],
      ];
      for (const [place, run] of places) {
        const error = refusalOf(run);
        t.equal(error?.code, 'leak', `${label}, ${form}, ${place}: refused`);
        t.equal(error?.exitCode, 77, `${label}, ${form}, ${place}: for safety`);
        t.equal(error?.step, 'leak-check', `${label}, ${form}, ${place}: the leak-check step`);
        t.match(
          error?.message ?? '',
          new RegExp(`^${place.replace(/[$.()]/g, '\\$&')} holds ${label.replace(/[$.]/g, '\\$&')} \\(`),
          `${label}, ${form}, ${place}: where and which, by label`,
        );
        t.notOk(error?.message.includes(value), `${label}, ${form}, ${place}: never the value`);
      }
    }
  }
});

t.test('proveNoLeak: a declared value may stand in its own variable, exactly, and nowhere else', async (t) => {
  const declared = { COPILOT_GITHUB_TOKEN: github };
  const launch = (env: Record<string, string>) => ({ argv: ['copilot-bridge', 'start'], env });
  t.equal(
    refusalOf(() => proveNoLeak(secrets, launch({ COPILOT_GITHUB_TOKEN: github }), '', declared)),
    undefined,
  );
  t.equal(
    refusalOf(() => proveNoLeak(secrets, launch({ OTHER: github }), '', declared))?.message.split(' holds')[0],
    'the environment variable OTHER',
    'in another variable',
  );
  t.equal(
    refusalOf(() => proveNoLeak(secrets, launch({ COPILOT_GITHUB_TOKEN: `${github} ` }), '', declared))?.code,
    'leak',
    'not exactly the declared value',
  );
  t.equal(
    refusalOf(() => proveNoLeak(secrets, launch({ COPILOT_GITHUB_TOKEN: token }), '', declared))?.code,
    'leak',
    'another secret in the declared variable',
  );
  t.equal(
    refusalOf(() => proveNoLeak(secrets, launch({ COPILOT_GITHUB_TOKEN: github }), `said ${github}`, declared))?.code,
    'leak',
    'the declared value in the output',
  );
});

/**
 * Replaces the process's identity calls for one test: `ids` is what the getters report after the switch (before it,
 * `start`: root unless told), `setuid` what a switch does. Returns the calls made to the setters, in order. The real
 * calls would change this test's own process; the real drop runs in start.test.ts and root-phase.test.ts.
 */
function fakeIdentity(
  t: Test,
  ids: { uid: number; euid: number; gid: number; egid: number; groups: number[] },
  setuid: (uid: number) => void,
  options: { start?: { uid: number; gid: number }; setgid?: (gid: number) => void } = {},
): string[] {
  const calls: string[] = [];
  const saved = new Map<string, unknown>();
  const replace = (name: string, value: unknown) => {
    saved.set(name, (process as unknown as Record<string, unknown>)[name]);
    Object.defineProperty(process, name, { value, configurable: true, writable: true });
  };
  const start = options.start ?? { uid: 0, gid: 0 };
  let started = false;
  replace('getuid', () => (started ? ids.uid : start.uid));
  replace('geteuid', () => (started ? ids.euid : start.uid));
  replace('getgid', () => (started ? ids.gid : start.gid));
  replace('getegid', () => (started ? ids.egid : start.gid));
  replace('getgroups', () => ids.groups);
  replace('setgroups', (groups: number[]) => void calls.push(`setgroups ${groups.join(',')}`));
  replace('initgroups', (user: string, gid: number) => void calls.push(`initgroups ${user} ${gid}`));
  replace('setgid', (gid: number) => {
    calls.push(`setgid ${gid}`);
    options.setgid?.(gid);
  });
  replace('setuid', (uid: number) => {
    calls.push(`setuid ${uid}`);
    started = true;
    setuid(uid);
  });
  t.teardown(() => {
    for (const [name, value] of saved)
      Object.defineProperty(process, name, { value, configurable: true, writable: true });
  });
  return calls;
}

const NOBODY = { uid: 65534, euid: 65534, gid: 65534, egid: 65534, groups: [65534] };
const denied = (uid: number) => {
  if (uid === 0) throw Object.assign(new Error('EPERM'), { code: 'EPERM' });
};

t.test('dropPrivileges: a drop left incomplete on purpose is refused', async (t) => {
  const cases: Array<[string, typeof NOBODY]> = [
    ['the real uid still root (only the effective one changed)', { ...NOBODY, uid: 0 }],
    ['the effective uid still root', { ...NOBODY, euid: 0 }],
    ['the gid still root', { ...NOBODY, gid: 0 }],
    ['the effective gid still root', { ...NOBODY, egid: 0 }],
    ['root among the supplementary groups', { ...NOBODY, groups: [65534, 0] }],
    ['another uid than asked', { ...NOBODY, uid: 1000, euid: 1000 }],
  ];
  for (const [label, ids] of cases) {
    t.test(label, async (t) => {
      fakeIdentity(t, ids, denied);
      const error = refusalOf(() => dropPrivileges('nobody', undefined, false));
      t.equal(error?.code, 'drop-incomplete', 'refused');
      t.equal(error?.step, 'privileges', 'the privileges step');
      t.equal(error?.exitCode, 77);
      t.equal(
        error?.message,
        `after switching to nobody the process ids are ${ids.uid},${ids.euid},${ids.gid},${ids.egid}; refusing to continue`,
        'names the ids it found',
      );
    });
  }
});

t.test('dropPrivileges: ids that look right but a process that can become root again is refused', async (t) => {
  fakeIdentity(t, NOBODY, () => undefined);
  const error = refusalOf(() => dropPrivileges('nobody', undefined, false));
  t.equal(error?.code, 'drop-reversible');
  t.equal(error?.exitCode, 77);
  t.equal(error?.message, 'after switching to nobody the process could become root again; refusing to continue');
});

t.test('dropPrivileges: a complete drop after which the token file still opens is refused', async (t) => {
  fakeIdentity(t, NOBODY, denied);
  const error = refusalOf(() => dropPrivileges('nobody', '/etc/hostname', false));
  t.equal(error?.code, 'token-readable');
  t.match(error?.message ?? '', /uid 65534 can still read \/etc\/hostname; release it readable by root only/);
});

t.test('dropPrivileges: a complete, irreversible drop returns the identity', async (t) => {
  fakeIdentity(t, NOBODY, denied);
  const identity = dropPrivileges('nobody', '/nonexistent/op_sa_token', false);
  t.same(identity, { uid: 65534, gid: 65534, name: 'nobody', home: '/nonexistent', dropped: true });
});

t.test('dropPrivileges: never to root, never to a user that does not exist', async (t) => {
  fakeIdentity(t, NOBODY, denied);
  for (const spec of ['root', '0:65534', '65534:0']) {
    const error = refusalOf(() => dropPrivileges(spec, undefined, false));
    t.equal(error?.code, 'run-as-root', `${spec}: refused`);
    t.equal(error?.exitCode, 78, `${spec}: a configuration error`);
    t.equal(
      error?.message,
      `BRIDGE_RUN_AS=${spec} is root; the bridge must run as an unprivileged user`,
      `${spec}: says what to do`,
    );
  }
  const unknown = refusalOf(() => dropPrivileges('no-such-user-here', undefined, false));
  t.equal(unknown?.code, 'run-as-unknown');
  t.equal(unknown?.exitCode, 78);
  t.equal(
    unknown?.message,
    'BRIDGE_RUN_AS=no-such-user-here is not a user in /etc/passwd; give an existing user name or uid:gid',
  );
});

t.test('dropPrivileges: groups, then gid, then uid; a named user gets its groups from /etc/group', async (t) => {
  t.test('by name', async (t) => {
    const calls = fakeIdentity(t, NOBODY, denied);
    t.same(dropPrivileges('nobody', undefined, false), {
      uid: 65534,
      gid: 65534,
      name: 'nobody',
      home: '/nonexistent',
      dropped: true,
    });
    t.same(calls, ['initgroups nobody 65534', 'setgid 65534', 'setuid 65534', 'setuid 0'], 'then tries root again');
  });
  t.test('by uid:gid, the gid its only group', async (t) => {
    const calls = fakeIdentity(t, NOBODY, denied);
    t.same(dropPrivileges('65534:65534', undefined, false), {
      uid: 65534,
      gid: 65534,
      name: undefined,
      home: undefined,
      dropped: true,
    });
    t.same(calls, ['setgroups 65534', 'setgid 65534', 'setuid 65534', 'setuid 0']);
  });
  t.test('the default user when BRIDGE_RUN_AS is not set', async (t) => {
    // The documented default (docs/entrypoint.md), a user of the image that this machine does not have.
    t.notOk(/^bridge:/m.test(readFileSync('/etc/passwd', 'utf8')), 'no user bridge here, which the test needs');
    fakeIdentity(t, NOBODY, denied);
    t.equal(
      refusalOf(() => dropPrivileges(undefined, undefined, false))?.message,
      'BRIDGE_RUN_AS=bridge is not a user in /etc/passwd; give an existing user name or uid:gid',
    );
  });
});

t.test('dropPrivileges: a switch the kernel refuses is drop-failed (77), and nothing after it runs', async (t) => {
  const calls = fakeIdentity(t, NOBODY, denied, {
    setgid: () => {
      throw Object.assign(new Error('EPERM, Operation not permitted'), { code: 'EPERM' });
    },
  });
  const error = refusalOf(() => dropPrivileges('nobody', '/nonexistent/op_sa_token', false));
  t.equal(error?.code, 'drop-failed');
  t.equal(error?.step, 'privileges');
  t.equal(error?.exitCode, 77);
  t.equal(
    error?.message,
    'could not switch to nobody (EPERM, Operation not permitted); the container needs the SETUID and SETGID capabilities',
  );
  t.match(error?.cause, { code: 'EPERM' }, 'the cause kept');
  t.same(calls, ['initgroups nobody 65534', 'setgid 65534'], 'no setuid after a failed setgid');
});

t.test('dropPrivileges: started as another user than root', async (t) => {
  const dir = mkdtempSync('/dev/shm/cbs-steps-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const readable = join(dir, 'op_sa_token');
  writeFileSync(readable, token, { mode: 0o600 });
  const unreadable = join(dir, 'missing');
  const USER = { uid: 1000, euid: 1000, gid: 1001, egid: 1001, groups: [1001] };
  const asUser = (t: Test) => fakeIdentity(t, USER, denied, { start: { uid: 1000, gid: 1001 } });
  const stayed = { uid: 1000, gid: 1001, name: undefined, home: undefined, dropped: false };
  t.test('stays that user when the token file is out of its reach', async (t) => {
    const calls = asUser(t);
    t.same(dropPrivileges(undefined, unreadable, false), stayed);
    t.same(dropPrivileges(undefined, undefined, false), stayed, 'or there is none');
    t.same(dropPrivileges('1000:1001', unreadable, false), stayed, 'BRIDGE_RUN_AS naming that same user');
    t.same(calls, [], 'nothing switched');
  });
  t.test('refuses when BRIDGE_RUN_AS names another user', async (t) => {
    const calls = asUser(t);
    for (const runAs of ['nobody', '65534:65534', 'no-such-user-here']) {
      const error = refusalOf(() => dropPrivileges(runAs, unreadable, false));
      t.equal(error?.code, 'not-root', `${runAs}: refused`);
      t.equal(error?.exitCode, 77, `${runAs}: for safety`);
      t.equal(
        error?.message,
        `started as uid 1000, not root, so cannot switch to BRIDGE_RUN_AS=${runAs}; start the container as root (the default)`,
        `${runAs}: says what to do`,
      );
    }
    t.same(calls, [], 'nothing switched');
  });
  t.test('refuses when it can read the token file, unless BRIDGE_ALLOW_NO_DROP=1', async (t) => {
    const calls = asUser(t);
    const error = refusalOf(() => dropPrivileges(undefined, readable, false));
    t.equal(error?.code, 'not-root');
    t.equal(error?.exitCode, 77);
    t.equal(
      error?.message,
      `started as uid 1000, not root: the bridge would be able to read ${readable}; start as root so privileges can be dropped (BRIDGE_ALLOW_NO_DROP=1 accepts this for development)`,
    );
    t.same(dropPrivileges(undefined, readable, true), stayed, 'accepted for development');
    t.same(calls, [], 'nothing switched');
  });
});

t.test('canOpen: what a user that is not root can open, by real modes and owners', async (t) => {
  const dir = mkdtempSync('/dev/shm/cbs-steps-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  const file = (name: string, mode: number, owner: number) => {
    writeFileSync(join(dir, name), token, { mode });
    chmodSync(join(dir, name), mode);
    chownSync(join(dir, name), owner, owner);
    return join(dir, name);
  };
  const cases: Array<[string, string, boolean]> = [
    ['root 0600', file('root-0600', 0o600, 0), false],
    ['root 0400', file('root-0400', 0o400, 0), false],
    ['root 0640, group root', file('root-0640', 0o640, 0), false],
    ['root 0644', file('root-0644', 0o644, 0), true],
    ['root 0604', file('root-0604', 0o604, 0), true],
    ['nobody 0600', file('nobody-0600', 0o600, 65534), true],
    ['missing', join(dir, 'missing'), false],
  ];
  const seen: Array<[string, boolean]> = [];
  process.setegid!(65534);
  process.seteuid!(65534);
  try {
    for (const [label, path] of cases) seen.push([label, canOpen(path)]);
  } finally {
    process.seteuid!(0);
    process.setegid!(0);
  }
  for (const [i, [label, , expected]] of cases.entries()) t.equal(seen[i]?.[1], expected, `uid 65534, ${label}`);
  t.equal(canOpen(join(dir, 'root-0600')), true, 'root opens any of them');
});
