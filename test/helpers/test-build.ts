// Where scripts/build-test-entrypoint.sh put the host tests' entrypoint (npm
// test runs it after the build): the bundle with op's fixed path pointing at
// the stand-in, that stand-in, and the launcher compiled for this host's Node.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

// Two levels up from test/helpers; one more when running compiled from dist/ (the benchmarks do).
const up2 = realpathSync(resolve(import.meta.dirname, '..', '..'));
const ROOT = basename(up2) === 'dist' ? dirname(up2) : up2;

export const TEST_BUILD = join('/usr/local/lib/copilot-bridge-stack-test', createHash('sha256').update(ROOT).digest('hex').slice(0, 12));
export const TEST_ENTRYPOINT = join(TEST_BUILD, 'copilot-bridge-entrypoint.mjs');
export const TEST_OP = join(TEST_BUILD, 'op');
export const TEST_LAUNCHER = join(TEST_BUILD, 'launcher');

/** Throws, saying what to run, when the test build is missing or was built from other sources than dist/ and the checkout hold now. */
export function requireTestBuild(): void {
  const inputs = createHash('sha256');
  for (const file of [join(ROOT, 'dist', 'copilot-bridge-entrypoint.mjs'), join(ROOT, 'test', 'fixtures', 'op', 'op'), join(ROOT, 'entrypoint', 'launcher', 'launcher.c')]) {
    inputs.update(existsSync(file) ? readFileSync(file) : '');
  }
  const recorded = existsSync(join(TEST_BUILD, 'inputs.sha256')) ? readFileSync(join(TEST_BUILD, 'inputs.sha256'), 'utf8').trim() : '';
  if (recorded !== inputs.digest('hex') || !existsSync(TEST_LAUNCHER) || !existsSync(TEST_ENTRYPOINT) || !existsSync(TEST_OP)) {
    throw new Error(`the host tests' entrypoint build at ${TEST_BUILD} is missing or stale; run \`npm run build && bash scripts/build-test-entrypoint.sh\` (npm test does)`);
  }
}
