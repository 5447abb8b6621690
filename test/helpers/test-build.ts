// Where scripts/build-test-entrypoint.sh put the host tests' entrypoint (npm
// test runs it after the build): the bundle with op's fixed path pointing at
// the stand-in, that stand-in, and the launcher compiled for this host's Node.
import { createHash } from 'node:crypto';
import { realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = realpathSync(resolve(import.meta.dirname, '..', '..'));

export const TEST_BUILD = join('/usr/local/lib/copilot-bridge-stack-test', createHash('sha256').update(ROOT).digest('hex').slice(0, 12));
export const TEST_ENTRYPOINT = join(TEST_BUILD, 'copilot-bridge-entrypoint.mjs');
export const TEST_OP = join(TEST_BUILD, 'op');
export const TEST_LAUNCHER = join(TEST_BUILD, 'launcher');

/** Throws, saying what to run, when the test build is missing or older than dist/. */
export function requireTestBuild(): void {
  const built = (file: string) => {
    try {
      return statSync(file).mtimeMs;
    } catch {
      return -1;
    }
  };
  const sources = [join(ROOT, 'dist', 'entrypoint', 'main.js'), join(ROOT, 'test', 'fixtures', 'op', 'op'), join(ROOT, 'entrypoint', 'launcher', 'launcher.c')];
  if (sources.some((file) => built(TEST_LAUNCHER) < built(file)) || built(TEST_ENTRYPOINT) < 0 || built(TEST_OP) < 0) {
    throw new Error(`the host tests' entrypoint build at ${TEST_BUILD} is missing or older than dist/; run \`npm run build && bash scripts/build-test-entrypoint.sh\` (npm test does)`);
  }
}
