// The Dockerfile's bridge-package stage installs a copilot-bridge whose
// dependency is a native addon with no prebuilt binary to fetch (the
// fixture test/fixtures/native-addon stands for better-sqlite3 where the
// download is not possible): it builds from source in that stage, with
// python3, make and g++ against Node's own headers, and none of those tools
// reaches the image the bridges run from. BRIDGE_OVERRIDES pins a dependency
// below what its range would take (as the image pins @github/copilot).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ensureDockerEngine } from '../support/e2e/engine.js';
import { buildTestImages } from '../support/e2e/images.js';
import { FIXTURES, ROOT, TEST_LABEL } from '../support/e2e/paths.js';
import { attempt, docker, run } from '../support/e2e/run.js';

t.setTimeout(15 * 60_000);

t.test(
  'a package with a native addon builds from source in the package stage; the runtime has no build tools',
  async (t) => {
    await ensureDockerEngine();
    const images = await buildTestImages();
    const packages = join(ROOT, 'docker', 'packages');
    const packed = (
      await run('npm', ['pack', '--silent', '--pack-destination', packages, join(FIXTURES, 'native-addon')], {
        timeoutMs: 120_000,
      })
    )
      .trim()
      .split('\n')
      .pop()!;
    t.teardown(() => rmSync(join(packages, packed), { force: true }));
    const stage = `copilot-bridge-stack/test-native-package:${process.pid}`;
    t.teardown(() => attempt('docker', ['image', 'rm', '-f', stage]));
    const built = await attempt(
      'docker',
      [
        'build',
        '--quiet',
        '--force-rm',
        '--label',
        `${TEST_LABEL}=1`,
        '--target',
        'bridge-package',
        '-t',
        stage,
        '--build-arg',
        `NODE_IMAGE=${images.base}`,
        '--build-arg',
        `OP_IMAGE=${images.op}`,
        '--build-arg',
        `BRIDGE_PACKAGE=/tmp/packages/${packed}`,
        '--build-arg',
        'BRIDGE_OVERRIDES={"ms":"2.0.0"}',
        ROOT,
      ],
      { timeoutMs: 900_000 },
    );
    t.equal(built.exitCode, 0, `the package stage builds (${built.stderr.trim().split('\n').slice(-3).join(' | ')})`);
    const version = await attempt('docker', [
      'run',
      '--rm',
      '--label',
      `${TEST_LABEL}=1`,
      '--network',
      'none',
      '--entrypoint',
      '/opt/copilot-bridge/bin/copilot-bridge',
      stage,
      '--version',
    ]);
    t.equal(
      version.stdout.trim(),
      '1.0.0 (native)',
      'and the installed bridge loads its addon, compiled in that stage',
    );
    const addon = await attempt('docker', [
      'run',
      '--rm',
      '--network',
      'none',
      '--entrypoint',
      '/bin/sh',
      stage,
      '-c',
      'find /opt/copilot-bridge -name standin.node',
    ]);
    t.match(
      addon.stdout,
      /build\/Release\/standin\.node/,
      'the addon was built from source (node-gyp), nothing was fetched',
    );
    const pinned = await attempt('docker', [
      'run',
      '--rm',
      '--network',
      'none',
      '--entrypoint',
      '/usr/local/bin/node',
      stage,
      '-p',
      "require('/opt/copilot-bridge/node_modules/ms/package.json').version",
    ]);
    t.equal(pinned.stdout.trim(), '2.0.0', 'BRIDGE_OVERRIDES pinned the dependency below what ^2.0.0 would take');
    // The image the bridges run from: no compiler, no make, no python.
    const tools = await attempt('docker', [
      'run',
      '--rm',
      '--network',
      'none',
      '--entrypoint',
      '/bin/sh',
      images.bridge,
      '-c',
      'for t in g++ gcc cc make python3; do command -v $t; done; true',
    ]);
    t.equal(
      tools.stdout.trim(),
      '',
      `the runtime image has none of g++, gcc, cc, make, python3 (${tools.stdout.trim() || 'none found'})`,
    );
    const certs = await docker([
      'run',
      '--rm',
      '--network',
      'none',
      '--entrypoint',
      '/bin/sh',
      images.bridge,
      '-c',
      'ls /etc/ssl/certs | wc -l',
    ]);
    t.ok(Number(certs.trim()) > 10, `it has CA certificates in /etc/ssl/certs (${certs.trim()} entries)`);
  },
);
