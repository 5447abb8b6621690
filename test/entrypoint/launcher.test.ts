// The image's ENTRYPOINT, the static C launcher (entrypoint/launcher/launcher.c),
// black-box: as root it refuses every variable that changes what a root process
// loads, and a Node or an entrypoint that anyone but root can change; then it
// runs Node with the entrypoint from /, arguments and environment unchanged. The
// proof that matters runs a real LD_PRELOAD library and a real NODE_OPTIONS
// payload, each first shown to work without the launcher.
import { randomUUID } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { execa, ROOT } from '../support/scenario.js';
import { requireTestBuild, TEST_NODE } from '../support/test-build.js';

const BUILD = join(ROOT, 'scripts', 'build-launcher.sh');
const NOBODY = 65534;
const AS_NOBODY = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'];
const PATH = '/usr/local/bin:/usr/bin:/bin';

// The same list as `loader_variables` and `loader_variable_exceptions` in launcher.c.
const LOADER_PREFIXES = ['LD_', 'MALLOC_', 'OPENSSL_', 'NODE_'];
const LOADER_NAMES = [
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
const NODE_EXCEPTIONS = ['NODE_ENV', 'NODE_VERSION', 'NODE_EXTRA_CA_CERTS'];

interface Run {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

interface Probe {
  argv: string[];
  execArgv: string[];
  env: Record<string, string>;
  cwd: string;
  uid: number;
}

// Work files (the launchers, the library, markers) under /tmp; the entrypoints
// under a fresh root-owned 0755 directory of /usr/local/lib, a trusted place.
const work = mkdtempSync(join(tmpdir(), 'cbs-launcher-'));
chmodSync(work, 0o755);
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const trusted = mkdtempSync('/usr/local/lib/cbs-launcher-test-');
chmodSync(trusted, 0o755);
t.teardown(() => rmSync(trusted, { recursive: true, force: true }));

const PROBE_SOURCE = `process.stdout.write(JSON.stringify({ argv: process.argv, execArgv: process.execArgv, env: process.env, cwd: process.cwd(), uid: process.getuid() }));\n`;
const probe = join(trusted, 'probe.mjs');
writeFileSync(probe, PROBE_SOURCE, { mode: 0o644 });
// The Node the image runs (24: --disable-sigusr1 needs 22.14 or later), where only root can change it.
requireTestBuild();
const NODE = TEST_NODE;
const launcher = await build('launcher', NODE, probe);

async function build(name: string, node: string, entrypoint: string): Promise<string> {
  const out = join(work, name);
  await execa('bash', [BUILD, out, node, entrypoint]);
  return out;
}

/** Runs a program with exactly `env`: `env -i`, because tap adds NODE_OPTIONS to what it spawns and some cases set it themselves. */
async function run(program: string, args: string[], env: Record<string, string>, prefix: string[] = []): Promise<Run> {
  const argv = [
    ...prefix,
    'env',
    '-i',
    ...Object.entries(env).map(([name, value]) => `${name}=${value}`),
    program,
    ...args,
  ];
  const result = await execa(argv[0]!, argv.slice(1), {
    cwd: work,
    reject: false,
    stdin: 'ignore',
    stripFinalNewline: false,
    timeout: 30_000,
  });
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}

interface Asserter {
  equal(found: unknown, wanted: unknown, message: string): unknown;
  notOk(value: unknown, message: string): unknown;
}

/** A refusal: its status, exactly this one line on stderr, nothing on stdout (the probe did not run), no canary anywhere. */
function assertRefused(t: Asserter, result: Run, exitCode: number, line: string, canaries: string[] = []): void {
  t.equal(result.exitCode, exitCode, 'exit status');
  t.equal(result.stderr, `${line}\n`, 'exactly one line on stderr');
  t.equal(result.stdout, '', 'nothing on stdout: the entrypoint did not run');
  for (const canary of canaries)
    t.notOk(`${result.stdout}${result.stderr}`.includes(canary), 'the value appears in no output');
}

function probed(t: Asserter, result: Run): Probe {
  t.equal(result.exitCode, 0, `the entrypoint ran: ${result.stderr}`);
  t.equal(result.stderr, '', 'nothing on stderr');
  return JSON.parse(result.stdout) as Probe;
}

const environmentLine = (name: string) =>
  `copilot-bridge-entrypoint: environment: ${name} is set, and it changes what a root process loads; remove it from the container's environment`;
const untrustedLine = (path: string, why: string) =>
  `copilot-bridge-entrypoint: launcher: ${path} is not trusted (${why}); the root phase runs only files that only root can change`;

t.test('the binary is static: no PT_INTERP, so no dynamic loader runs before it looks', async (t) => {
  const elf = readFileSync(launcher);
  t.equal(elf.subarray(0, 4).toString('latin1'), '\x7fELF', 'an ELF file');
  t.equal(elf[4], 2, '64-bit');
  t.equal(elf[5], 1, 'little-endian');
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  const types = Array.from({ length: phnum }, (_, i) => elf.readUInt32LE(phoff + i * phentsize));
  t.ok(types.includes(1), 'has a PT_LOAD segment (the headers were read right)');
  t.notOk(types.includes(3), 'has no PT_INTERP segment');
});

t.test('as root, each loader variable is refused by name, its value never shown', async (t) => {
  const names = [
    ...LOADER_PREFIXES.map((prefix) => `${prefix}CBS_SAMPLE`),
    'LD_PRELOAD',
    'LD_LIBRARY_PATH',
    'LD_AUDIT',
    'MALLOC_CHECK_',
    'OPENSSL_CONF',
    'OPENSSL_MODULES',
    'NODE_OPTIONS',
    'NODE_PATH',
    'NODE_REPL_EXTERNAL_MODULE',
    ...LOADER_NAMES,
  ];
  for (const name of names) {
    await t.test(name, async (t) => {
      const canary = `canary-${randomUUID()}`;
      const result = await run(launcher, ['start'], { PATH, HOME: '/root', [name]: canary, LANG: 'C.UTF-8' });
      assertRefused(t, result, 77, environmentLine(name), [canary]);
    });
  }
});

t.test('a name with a line break is shown escaped, still on one line', async (t) => {
  const canary = `canary-${randomUUID()}`;
  assertRefused(t, await run(launcher, [], { PATH, 'LD_\nPRELOAD': canary }), 77, environmentLine('LD_\\x0aPRELOAD'), [
    canary,
  ]);
});

t.test('an environment entry without "=" is refused as root', async (t) => {
  const source = join(work, 'exec-no-equals.c');
  const helper = join(work, 'exec-no-equals');
  writeFileSync(
    source,
    '#include <unistd.h>\nint main(int argc, char **argv) { (void)argc; char *envp[] = { "PATH=/usr/bin:/bin", "CBS_NO_EQUALS_CANARY", 0 }; execve(argv[1], argv + 1, envp); return 127; }\n',
  );
  await execa('gcc', ['-o', helper, source]);
  const { exitCode, stdout, stderr } = await execa(helper, [launcher], {
    reject: false,
    stdin: 'ignore',
    stripFinalNewline: false,
  });
  assertRefused(
    t,
    { exitCode, stdout, stderr },
    77,
    "copilot-bridge-entrypoint: environment: an entry without '=' is in the environment; remove it from the container's environment",
    ['CBS_NO_EQUALS_CANARY'],
  );
});

t.test('the proof: a real LD_PRELOAD library and a real NODE_OPTIONS payload do not run as root', async (t) => {
  const markers = mkdtempSync(join(work, 'markers-'));
  const libraryMarker = join(markers, 'library-ran');
  const nodeMarker = join(markers, 'node-options-ran');
  const library = join(work, 'evil.so');
  writeFileSync(
    `${library}.c`,
    [
      '#include <fcntl.h>',
      '#include <unistd.h>',
      `__attribute__((constructor)) static void mark(void) { int fd = open(${JSON.stringify(libraryMarker)}, O_WRONLY | O_CREAT, 0644); if (fd >= 0) close(fd); }`,
      '',
    ].join('\n'),
  );
  await execa('gcc', ['-shared', '-fPIC', '-o', library, `${library}.c`]);
  const payload = `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(nodeMarker)}, 'ran');`;
  const nodeOptions = `--import=data:text/javascript;base64,${Buffer.from(payload).toString('base64')}`;

  await run('/bin/true', [], { PATH, LD_PRELOAD: library });
  t.ok(existsSync(libraryMarker), 'control: the library runs inside a dynamically linked program as root');
  rmSync(libraryMarker, { force: true });
  await run(process.execPath, ['-e', '0'], { PATH, NODE_OPTIONS: nodeOptions });
  t.ok(existsSync(nodeMarker), 'control: the NODE_OPTIONS payload runs in plain node as root');
  rmSync(nodeMarker, { force: true });

  assertRefused(t, await run(launcher, [], { PATH, LD_PRELOAD: library }), 77, environmentLine('LD_PRELOAD'), [
    library,
  ]);
  t.notOk(existsSync(libraryMarker), 'the library did not run');
  assertRefused(t, await run(launcher, [], { PATH, NODE_OPTIONS: nodeOptions }), 77, environmentLine('NODE_OPTIONS'), [
    nodeOptions,
  ]);
  t.notOk(existsSync(nodeMarker), 'the NODE_OPTIONS payload did not run');
});

t.test(
  'as root, the allowed NODE_ variables and ordinary variables pass unchanged; argv in order; cwd is /',
  async (t) => {
    const env: Record<string, string> = {
      PATH,
      HOME: '/root',
      LANG: 'C.UTF-8',
      NODE_ENV: 'production',
      NODE_VERSION: '24.11.0',
      NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt',
      CBS_SPACES: ' a  b ',
      CBS_EMPTY: '',
      CBS_EQUALS: 'a=b==c',
      CBS_LINES: 'one\ntwo',
      CBS_UNICODE: 'ünïcødé ✓',
      NODE: 'no underscore, so not NODE_*',
      XLD_PRELOAD: 'starts with X',
      ld_preload: 'names are case-sensitive',
      TMPDIRS: 'not exactly TMPDIR',
    };
    t.same(
      NODE_EXCEPTIONS.filter((name) => !(name in env)),
      [],
      'every NODE_ exception is in this environment',
    );
    const args = ['start', 'with space', '', '--import=x', '--', '-e', 'process.exit(3)', '--inspect', 'ünï'];
    const seen = probed(t, await run(launcher, args, env));
    t.same(seen.env, env, 'the environment arrives exactly');
    t.same(seen.argv, [NODE, probe, ...args], 'node, the entrypoint, then every argument as a script argument');
    t.same(seen.execArgv, ['--disable-sigusr1'], "Node's one flag: SIGUSR1 cannot open its inspector");
    t.equal(seen.cwd, '/', 'cwd is / although started in another directory');
    t.equal(seen.uid, 0, 'ran as root');
  },
);

t.test('as root by real or by effective uid alone, loader variables are still refused', async (t) => {
  for (const prefix of [
    ['setpriv', `--ruid=${NOBODY}`, '--'],
    ['setpriv', `--euid=${NOBODY}`, '--'],
  ]) {
    await t.test(prefix[1]!, async (t) => {
      const canary = `canary-${randomUUID()}`;
      assertRefused(
        t,
        await run(launcher, [], { PATH, LD_PRELOAD: canary }, prefix),
        77,
        environmentLine('LD_PRELOAD'),
        [canary],
      );
    });
  }
});

t.test('a non-root start refuses nothing: there is no privilege to protect', async (t) => {
  const env = { PATH, NODE_PATH: '/nonexistent/node_modules', LD_LIBRARY_PATH: '/nonexistent', TMPDIR: '/tmp' };
  const seen = probed(t, await run(launcher, ['healthcheck'], env, AS_NOBODY));
  t.equal(seen.uid, NOBODY, 'ran as the unprivileged user');
  t.same(seen.env, env, 'the loader variables reached the entrypoint');
  t.same(seen.argv.slice(1), [probe, 'healthcheck']);
  t.equal(seen.cwd, '/');
});

t.test('trust: only files that only root can change run as root', async (t) => {
  const open = join(trusted, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  writeFileSync(join(open, 'probe.mjs'), PROBE_SOURCE, { mode: 0o644 });
  symlinkSync(probe, join(open, 'hop.mjs'));
  const foreignDir = join(trusted, 'foreign-dir');
  mkdirSync(foreignDir, { mode: 0o755 });
  writeFileSync(join(foreignDir, 'probe.mjs'), PROBE_SOURCE, { mode: 0o644 });
  chownSync(foreignDir, NOBODY, NOBODY);
  writeFileSync(join(trusted, 'foreign.mjs'), PROBE_SOURCE, { mode: 0o644 });
  chownSync(join(trusted, 'foreign.mjs'), NOBODY, NOBODY);
  writeFileSync(join(trusted, 'group-writable.mjs'), PROBE_SOURCE);
  chmodSync(join(trusted, 'group-writable.mjs'), 0o664);
  symlinkSync(join(open, 'probe.mjs'), join(trusted, 'link.mjs'));
  symlinkSync('open/hop.mjs', join(trusted, 'chain.mjs'));
  mkdirSync(join(trusted, 'dir.mjs'));
  const refusals: Array<[string, string, string]> = [
    ['a directory writable by others', join(open, 'probe.mjs'), `${open} is writable by group or others`],
    ['a directory owned by uid 65534', join(foreignDir, 'probe.mjs'), `${foreignDir} is owned by uid 65534`],
    [
      'a file owned by uid 65534',
      join(trusted, 'foreign.mjs'),
      `${join(trusted, 'foreign.mjs')} is owned by uid 65534`,
    ],
    [
      'a group-writable file',
      join(trusted, 'group-writable.mjs'),
      `${join(trusted, 'group-writable.mjs')} is writable by group or others`,
    ],
    [
      'a symlink whose target is in an untrusted directory',
      join(trusted, 'link.mjs'),
      `${open} is writable by group or others`,
    ],
    [
      'a symlink to a symlink in an untrusted directory, though realpath ends somewhere trusted',
      join(trusted, 'chain.mjs'),
      `${open} is writable by group or others`,
    ],
    ['a missing entrypoint', join(trusted, 'missing.mjs'), `${join(trusted, 'missing.mjs')} is missing`],
    ['a directory', join(trusted, 'dir.mjs'), `${join(trusted, 'dir.mjs')} is not a regular file`],
  ];
  for (const [name, entrypoint, why] of refusals) {
    await t.test(name, async (t) => {
      const built = await build(`launcher-${randomUUID()}`, NODE, entrypoint);
      assertRefused(t, await run(built, [], { PATH }), 77, untrustedLine(entrypoint, why));
    });
  }

  await t.test('a missing node: refused as root, 127 for a non-root start', async (t) => {
    const built = await build('launcher-no-node', '/nonexistent/node', probe);
    assertRefused(t, await run(built, [], { PATH }), 77, untrustedLine('/nonexistent/node', '/nonexistent is missing'));
    assertRefused(
      t,
      await run(built, [], { PATH }, AS_NOBODY),
      127,
      'copilot-bridge-entrypoint: launcher: cannot run /nonexistent/node (No such file or directory); install Node >= 22.15 there, or rebuild the launcher with scripts/build-launcher.sh OUT NODE',
    );
  });

  await t.test('a node that is not executable: 126', async (t) => {
    const notExecutable = join(trusted, 'not-executable-node');
    writeFileSync(notExecutable, '', { mode: 0o644 });
    const built = await build('launcher-bad-node', notExecutable, probe);
    assertRefused(
      t,
      await run(built, [], { PATH }),
      126,
      `copilot-bridge-entrypoint: launcher: cannot run ${notExecutable} (Permission denied); install Node >= 22.15 there, or rebuild the launcher with scripts/build-launcher.sh OUT NODE`,
    );
  });

  await t.test(
    'accepted: a relative symlink within trusted directories, and a root-owned sticky directory as a step',
    async (t) => {
      symlinkSync('probe.mjs', join(trusted, 'good-link.mjs'));
      const sticky = join(trusted, 'sticky');
      mkdirSync(sticky);
      chmodSync(sticky, 0o1777);
      writeFileSync(join(sticky, 'probe.mjs'), PROBE_SOURCE, { mode: 0o644 });
      for (const entrypoint of [join(trusted, 'good-link.mjs'), join(sticky, 'probe.mjs')]) {
        const built = await build(`launcher-${randomUUID()}`, NODE, entrypoint);
        t.same(probed(t, await run(built, ['x'], { PATH })).argv.slice(1), [entrypoint, 'x'], entrypoint);
      }
    },
  );

  await t.test('a non-root start does not check trust', async (t) => {
    const built = await build('launcher-open', NODE, join(open, 'probe.mjs'));
    t.equal(probed(t, await run(built, [], { PATH }, AS_NOBODY)).uid, NOBODY);
  });
});

t.test('build-launcher.sh says what to install when musl-gcc is missing', async (t) => {
  const result = await execa('/bin/bash', [BUILD, join(work, 'unbuilt')], {
    env: { PATH: '/nonexistent' },
    extendEnv: false,
    reject: false,
    stripFinalNewline: false,
  });
  t.equal(result.exitCode, 69);
  t.match(result.stderr, /^build-launcher: musl-gcc not found; install musl-tools[^\n]*\n$/);
  t.notOk(existsSync(join(work, 'unbuilt')));
});
