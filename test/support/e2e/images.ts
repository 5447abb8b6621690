// The images of a run, all built locally (no registry here) with the classic
// builder and the test label, reusing Docker's layer cache between runs:
//   op          the 1Password CLI stand-in image (the Dockerfile's OP_IMAGE)
//   mattermost  the Mattermost stand-in (test/fixtures/mattermost)
//   postgres    Debian's real PostgreSQL 15 (test/fixtures/postgres)
//   product     the project's Dockerfile, built FROM the base image with the
//               op stand-in and a tarball of the copilot-bridge stand-in
//   bridge      the same image under the name the stack runs (agent
//               containers, which can mount nothing but their own volume and
//               their token, find the op stand-in's vault in their home, where
//               the suite seeds it: agents.ts)
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BASE_IMAGE, ensureBaseImage } from './base-image.js';
import { withLock } from './lock.js';
import { FIXTURES, ROOT, TEST_LABEL } from './paths.js';
import { docker, run } from './run.js';

export interface TestImages {
  base: string;
  op: string;
  mattermost: string;
  postgres: string;
  product: string;
  bridge: string;
}

const IMAGES: TestImages = {
  base: BASE_IMAGE,
  op: 'copilot-bridge-stack/test-op:latest',
  mattermost: 'copilot-bridge-stack/test-mattermost:latest',
  postgres: 'copilot-bridge-stack/test-postgres:latest',
  product: 'copilot-bridge-stack/copilot-bridge:e2e-product',
  bridge: 'copilot-bridge-stack/copilot-bridge:e2e',
};

/** Where agent containers' op stand-in reads its vault: inside the agent's own home volume, root-only. */
export const AGENT_VAULT = '/home/bridge/.op-fixture/vault.json';

const ENTRYPOINT_BUNDLE = join(ROOT, 'dist', 'copilot-bridge-entrypoint.mjs');
const PACKAGES = join(ROOT, 'docker', 'packages');

async function build(
  tag: string,
  context: string,
  args: Record<string, string>,
  dockerfile?: string,
  input?: string,
): Promise<void> {
  const argv = ['build', '--quiet', '--force-rm', '--label', `${TEST_LABEL}=1`, '-t', tag];
  for (const [name, value] of Object.entries(args)) argv.push('--build-arg', `${name}=${value}`);
  if (dockerfile) argv.push('-f', dockerfile);
  await docker([...argv, context], { timeoutMs: 600_000, ...(input === undefined ? {} : { input }) });
}

/** Builds (or refreshes from cache) every image a run needs. */
export async function buildTestImages(): Promise<TestImages> {
  if (!existsSync(ENTRYPOINT_BUNDLE)) throw new Error(`${ENTRYPOINT_BUNDLE} is missing; run npm run build first`);
  await ensureBaseImage();
  return withLock('images', 900_000, async () => {
    const base = { BASE: BASE_IMAGE };
    await build(IMAGES.op, join(FIXTURES, 'op'), base, join(FIXTURES, 'op-image', 'Dockerfile'));
    await build(IMAGES.mattermost, join(FIXTURES, 'mattermost'), base);
    await build(IMAGES.postgres, join(FIXTURES, 'postgres'), base);
    const packed = (
      await run('npm', ['pack', '--silent', '--pack-destination', PACKAGES, join(FIXTURES, 'copilot-bridge')], {
        timeoutMs: 120_000,
      })
    )
      .trim()
      .split('\n')
      .pop()!;
    try {
      await build(IMAGES.product, ROOT, {
        NODE_IMAGE: BASE_IMAGE,
        OP_IMAGE: IMAGES.op,
        BRIDGE_PACKAGE: `/tmp/packages/${packed}`,
      });
    } finally {
      rmSync(join(PACKAGES, packed), { force: true });
    }
    await docker(['tag', IMAGES.product, IMAGES.bridge]);
    return IMAGES;
  });
}
