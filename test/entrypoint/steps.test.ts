// The entrypoint's checks in-process, each made to fail on purpose: a 1Password
// credential or a secret in the environment, a secret in the bridge's argv,
// environment or the entrypoint's own output, and a privilege drop left
// incomplete or reversible. The expected encodings come from Node's own
// encoders, not from the module under test. The same steps end to end, as the
// launcher runs them: refusals.test.ts, start.test.ts, root-phase.test.ts.
import t, { type Test } from 'tap';
import { checkEnvironment } from '../../entrypoint/steps/check-environment.js';
import { dropPrivileges } from '../../entrypoint/steps/drop-privileges.js';
import { proveNoLeak } from '../../entrypoint/steps/prove-no-leak.js';
import { StackError } from '../../src/errors.js';
import { SecretSet } from '../../src/secrets/secret-set.js';
import { fakeServiceAccountToken } from '../fixtures/tokens.js';

const token = fakeServiceAccountToken();
const github = `ghp_${'Z'.repeat(12)}k7Q2x9`;
const secrets = new SecretSet([
  { label: 'the service-account token', value: token },
  { label: '$.github.token', value: github },
]);

/** The StackError `run` throws, or undefined. */
function refusal(run: () => unknown): StackError | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof StackError) return error;
    throw error;
  }
  return undefined;
}

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
    const error = refusal(() => checkEnvironment({ PATH: '/usr/bin', [name]: 'opaque-value-1234' }, secrets));
    t.equal(error?.code, 'env-credential', `${name}: refused`);
    t.equal(error?.exitCode, 77, `${name}: for safety`);
    t.match(error?.message ?? '', new RegExp(`^${name} is set in the environment; remove it`), `${name}: named`);
    t.notMatch(error?.message ?? '', /opaque-value/, `${name}: its value is not shown`);
  }
  for (const name of ['OP_ACCOUNT', 'OP_FORMAT', 'OP_CACHE', 'OP_SESSION', 'XOP_SESSION_team', 'op_session_team']) {
    t.equal(
      refusal(() => checkEnvironment({ [name]: 'plain' }, secrets)),
      undefined,
      `${name}: not a credential`,
    );
  }
  t.equal(
    refusal(() => checkEnvironment({ PATH: '/usr/bin', HOME: '/home/bridge' }, secrets)),
    undefined,
    'clean',
  );
});

t.test('checkEnvironment: the credential in any variable, in any common encoding, is refused', async (t) => {
  for (const [form, text] of encodings(token)) {
    const error = refusal(() => checkEnvironment({ APP_BLOB: `prefix ${text} suffix` }, secrets));
    t.equal(error?.code, 'env-token', `${form}: refused`);
    t.equal(
      error?.message,
      "the environment variable APP_BLOB holds the service-account token; remove it from the container's environment",
      `${form}: names the variable and the secret's label`,
    );
  }
  t.equal(refusal(() => checkEnvironment({ [token]: '1' }, secrets))?.code, 'env-token', 'as a variable name too');
});

t.test('proveNoLeak: a secret in argv, the environment or the entrypoint output stops the start', async (t) => {
  const clean = { argv: ['copilot-bridge', 'start'], env: { HOME: '/home/bridge' } };
  t.equal(
    refusal(() => proveNoLeak(secrets, clean, 'copilot-bridge-entrypoint: render: ok')),
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
        const error = refusal(run);
        t.equal(error?.code, 'leak', `${label}, ${form}, ${place}: refused`);
        t.equal(error?.exitCode, 77, `${label}, ${form}, ${place}: for safety`);
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
    refusal(() => proveNoLeak(secrets, launch({ COPILOT_GITHUB_TOKEN: github }), '', declared)),
    undefined,
  );
  t.equal(
    refusal(() => proveNoLeak(secrets, launch({ OTHER: github }), '', declared))?.message.split(' holds')[0],
    'the environment variable OTHER',
    'in another variable',
  );
  t.equal(
    refusal(() => proveNoLeak(secrets, launch({ COPILOT_GITHUB_TOKEN: `${github} ` }), '', declared))?.code,
    'leak',
    'not exactly the declared value',
  );
  t.equal(
    refusal(() => proveNoLeak(secrets, launch({ COPILOT_GITHUB_TOKEN: token }), '', declared))?.code,
    'leak',
    'another secret in the declared variable',
  );
  t.equal(
    refusal(() => proveNoLeak(secrets, launch({ COPILOT_GITHUB_TOKEN: github }), `said ${github}`, declared))?.code,
    'leak',
    'the declared value in the output',
  );
});

/**
 * Replaces the process's identity calls for one test: `ids` is what the getters report, `setuid`
 * what a switch does. The real calls would change this test's own process; the real drop runs in
 * start.test.ts and root-phase.test.ts.
 */
function fakeIdentity(
  t: Test,
  ids: { uid: number; euid: number; gid: number; egid: number; groups: number[] },
  setuid: (uid: number) => void,
) {
  const saved = new Map<string, unknown>();
  const replace = (name: string, value: unknown) => {
    saved.set(name, (process as unknown as Record<string, unknown>)[name]);
    Object.defineProperty(process, name, { value, configurable: true, writable: true });
  };
  let started = false;
  replace('getuid', () => (started ? ids.uid : 0));
  replace('geteuid', () => (started ? ids.euid : 0));
  replace('getgid', () => (started ? ids.gid : 0));
  replace('getegid', () => (started ? ids.egid : 0));
  replace('getgroups', () => ids.groups);
  replace('setgroups', () => undefined);
  replace('initgroups', () => undefined);
  replace('setgid', () => undefined);
  replace('setuid', (uid: number) => {
    started = true;
    setuid(uid);
  });
  t.teardown(() => {
    for (const [name, value] of saved)
      Object.defineProperty(process, name, { value, configurable: true, writable: true });
  });
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
      const error = refusal(() => dropPrivileges('nobody', undefined, false));
      t.equal(error?.code, 'drop-incomplete', 'refused');
      t.equal(error?.exitCode, 77);
    });
  }
});

t.test('dropPrivileges: ids that look right but a process that can become root again is refused', async (t) => {
  fakeIdentity(t, NOBODY, () => undefined);
  const error = refusal(() => dropPrivileges('nobody', undefined, false));
  t.equal(error?.code, 'drop-reversible');
  t.equal(error?.exitCode, 77);
});

t.test('dropPrivileges: a complete drop after which the token file still opens is refused', async (t) => {
  fakeIdentity(t, NOBODY, denied);
  const error = refusal(() => dropPrivileges('nobody', '/etc/hostname', false));
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
  t.equal(refusal(() => dropPrivileges('root', undefined, false))?.code, 'run-as-root');
  t.equal(refusal(() => dropPrivileges('0:65534', undefined, false))?.code, 'run-as-root');
  t.equal(refusal(() => dropPrivileges('65534:0', undefined, false))?.code, 'run-as-root');
  t.equal(refusal(() => dropPrivileges('no-such-user-here', undefined, false))?.code, 'run-as-unknown');
});
