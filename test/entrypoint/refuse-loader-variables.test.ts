// Step 0 in-process (entrypoint/steps/refuse-loader-variables.ts): as root,
// every variable that changes what a root process loads is refused (77),
// named, its value never shown. The names come from the documented list
// (docs/entrypoint.md, "environment (loaders)"), written out here rather than
// taken from the module; near misses and the three documented exceptions pass;
// a start as another user than root is not this step's business. And Node
// started as root without --disable-sigusr1 is refused, SIGUSR1 being ignored
// either way. That the list is the launcher's: root-phase.test.ts.
import t from 'tap';
import {
  isLoaderVariable,
  refuseLoaderVariables,
  refuseOpenInspector,
} from '../../entrypoint/steps/refuse-loader-variables.js';
import type { StackError } from '../../src/errors.js';
import { refusalOf } from '../support/refusal.js';

const CANARY = 'canary-value-must-not-be-printed';

/** Every documented prefix, with names the loaders and Node really read, and the bare prefix. */
const PREFIXED = {
  LD_: ['LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'LD_BIND_NOW', 'LD_'],
  MALLOC_: ['MALLOC_CHECK_', 'MALLOC_ARENA_MAX', 'MALLOC_TRACE', 'MALLOC_'],
  OPENSSL_: ['OPENSSL_CONF', 'OPENSSL_MODULES', 'OPENSSL_ENGINES', 'OPENSSL_'],
  NODE_: [
    'NODE_OPTIONS',
    'NODE_PATH',
    'NODE_REPL_EXTERNAL_MODULE',
    'NODE_TLS_REJECT_UNAUTHORIZED',
    'NODE_ENVIRONMENT',
    'NODE_',
  ],
};
/** glibc's variables for privileged programs, by their exact names. */
const EXACT = [
  'GCONV_PATH',
  'GETCONF_DIR',
  'GLIBC_TUNABLES',
  'HOSTALIASES',
  'LOCALDOMAIN',
  'LOCPATH',
  'NIS_PATH',
  'NLSPATH',
  'RESOLV_HOST_CONF',
  'RES_OPTIONS',
  'TMPDIR',
  'TZDIR',
];
const EXCEPTIONS = ['NODE_ENV', 'NODE_VERSION', 'NODE_EXTRA_CA_CERTS'];
/** Names that only look like the list's: another letter before or after, another case, a prefix without its '_'. */
const NEAR_MISSES = [
  'PATH',
  'HOME',
  'LANG',
  'LC_ALL',
  'TZ',
  'XLD_PRELOAD',
  'ld_preload',
  'node_options',
  'LD',
  'NODE',
  'MALLOC',
  'OPENSSL',
  'TMPDIRS',
  'TZDIRS',
  'LOCPATHS',
  'NLSPATH2',
  'GCONV_PATH_',
  'RES_OPTIONS_',
  'XTMPDIR',
  'SSL_CERT_FILE',
];

/** The StackError `run` throws, or undefined. */

const clean = { PATH: '/usr/bin:/bin', HOME: '/root', LANG: 'C.UTF-8' };

t.test('as root, every documented loader variable is refused (77), named, its value never shown', async (t) => {
  for (const name of [...Object.values(PREFIXED).flat(), ...EXACT]) {
    t.ok(isLoaderVariable(name), `${name}: a loader variable`);
    const error = refusalOf(() => refuseLoaderVariables({ ...clean, [name]: CANARY }, 0));
    t.equal(error?.code, 'env-loader', `${name}: refused`);
    t.equal(error?.step, 'environment', `${name}: the environment step`);
    t.equal(error?.exitCode, 77, `${name}: for safety`);
    t.equal(
      error?.message,
      `${name} is set, and it changes what a root process loads; remove it from the container's environment`,
      `${name}: named`,
    );
    t.notOk(error?.message.includes(CANARY), `${name}: its value not shown`);
  }
});

t.test('as root, even set to nothing, and among allowed names in any order', async (t) => {
  t.equal(refusalOf(() => refuseLoaderVariables({ NODE_OPTIONS: '' }, 0))?.code, 'env-loader', 'an empty value');
  const env = { ...clean, NODE_ENV: 'production', LD_PRELOAD: CANARY, TZ: 'UTC' };
  t.match(refusalOf(() => refuseLoaderVariables(env, 0))?.message, /^LD_PRELOAD is set/, 'found among others');
});

t.test('the documented exceptions and near misses pass', async (t) => {
  for (const name of [...EXCEPTIONS, ...NEAR_MISSES]) {
    t.notOk(isLoaderVariable(name), `${name}: not a loader variable`);
  }
  const env = Object.fromEntries([...EXCEPTIONS, ...NEAR_MISSES].map((name) => [name, 'x']));
  t.equal(
    refusalOf(() => refuseLoaderVariables(env, 0)),
    undefined,
    'all of them at once, as root',
  );
  t.equal(
    refusalOf(() => refuseLoaderVariables({}, 0)),
    undefined,
    'an empty environment',
  );
});

t.test("started as another user than root, loader variables are not this step's business", async (t) => {
  const env = { ...clean, LD_PRELOAD: CANARY, NODE_OPTIONS: CANARY };
  t.equal(
    refusalOf(() => refuseLoaderVariables(env, 1000)),
    undefined,
    'uid 1000',
  );
  t.equal(
    refusalOf(() => refuseLoaderVariables(env, 65534)),
    undefined,
    'uid 65534',
  );
  t.equal(process.getuid!(), 0, 'the test runs as root, which the next check needs');
  t.equal(refusalOf(() => refuseLoaderVariables(env))?.code, 'env-loader', "the process's own uid by default");
});

/** Runs `run`, and counts the SIGUSR1 listeners it added (removed again: each test leaves the process as it was). */
function sigusr1Added(run: () => unknown): { added: number; error: StackError | undefined } {
  const before = process.listeners('SIGUSR1');
  const error = refusalOf(run);
  const added = process.listeners('SIGUSR1').filter((listener) => !before.includes(listener));
  for (const listener of added) process.removeListener('SIGUSR1', listener);
  return { added: added.length, error };
}

t.test('as root, Node must run with --disable-sigusr1; SIGUSR1 is ignored either way', async (t) => {
  const message =
    "Node was started without --disable-sigusr1, so after the drop the bridge's user could open its inspector and read the token; start the entrypoint through its launcher (the image's ENTRYPOINT), which passes it";
  for (const [label, execArgv, uid, refused] of [
    ['root, with the flag', ['--disable-sigusr1'], 0, false],
    ['root, with the flag among others', ['--import', 'tsx', '--disable-sigusr1'], 0, false],
    ['root, without it', [], 0, true],
    ['root, with --inspect', ['--inspect'], 0, true],
    ['uid 1000, without it', [], 1000, false],
  ] as const) {
    const { added, error } = sigusr1Added(() => refuseOpenInspector(execArgv, uid));
    t.equal(added, 1, `${label}: a SIGUSR1 listener is installed`);
    if (refused) {
      t.equal(error?.code, 'inspector-signal', `${label}: refused`);
      t.equal(error?.step, 'runtime', `${label}: the runtime step`);
      t.equal(error?.exitCode, 77, `${label}: for safety`);
      t.equal(error?.message, message, `${label}: says why and what to do`);
    } else {
      t.equal(error, undefined, `${label}: accepted`);
    }
  }
  t.notOk(process.execArgv.includes('--disable-sigusr1'), 'the test runs without the flag, which the next check needs');
  t.equal(sigusr1Added(() => refuseOpenInspector()).error?.code, 'inspector-signal', "the process's own by default");
});
