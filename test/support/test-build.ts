// Where scripts/build-test-entrypoint.sh put the host tests' entrypoint (npm
// test runs it after the build): the bundle with op's fixed path pointing at
// the stand-in, that stand-in, the Node 24 the image runs, and the launcher
// compiled for them.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

// Two levels up from test/support; one more when running compiled from dist/ (the benchmarks do).
const up2 = realpathSync(resolve(import.meta.dirname, '..', '..'));
const ROOT = basename(up2) === 'dist' ? dirname(up2) : up2;

const TEST_BUILD = join(
  '/usr/local/lib/copilot-bridge-stack-test',
  createHash('sha256').update(ROOT).digest('hex').slice(0, 12),
);
export const TEST_ENTRYPOINT = join(TEST_BUILD, 'copilot-bridge-entrypoint.mjs');
export const TEST_OP = join(TEST_BUILD, 'op');
export const TEST_LAUNCHER = join(TEST_BUILD, 'launcher');
/** The Node 24 the image runs, where only root can change it (the launcher's check). */
export const TEST_NODE = join(TEST_BUILD, 'node');
/** How the launcher runs the bundle: Node with SIGUSR1 kept from opening the inspector. */
export const NODE_FLAGS = ['--disable-sigusr1'];

/** Throws, saying what to run, when the test build is missing or was built from other sources than dist/ and the checkout hold now. */
export function requireTestBuild(): void {
  const inputs = createHash('sha256');
  for (const file of [
    join(ROOT, 'dist', 'copilot-bridge-entrypoint.mjs'),
    join(ROOT, 'test', 'fixtures', 'op', 'op'),
    join(ROOT, 'entrypoint', 'launcher', 'launcher.c'),
  ]) {
    inputs.update(existsSync(file) ? readFileSync(file) : '');
  }
  const recorded = existsSync(join(TEST_BUILD, 'inputs.sha256'))
    ? readFileSync(join(TEST_BUILD, 'inputs.sha256'), 'utf8').trim()
    : '';
  if (
    recorded !== inputs.digest('hex') ||
    !existsSync(TEST_LAUNCHER) ||
    !existsSync(TEST_ENTRYPOINT) ||
    !existsSync(TEST_OP) ||
    !existsSync(TEST_NODE)
  ) {
    throw new Error(
      `the host tests' entrypoint build at ${TEST_BUILD} is missing or stale; run \`npm run build && bash scripts/build-test-entrypoint.sh\` (npm test does)`,
    );
  }
}
