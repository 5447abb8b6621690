// The stack with the stand-in images on the real engine: time from
// `compose up` to every service healthy, how long after Mattermost turned
// healthy the admin bridge did (goal: within 2 s), and the size of the
// project's own image layers (compiled code and production dependencies, not
// the base image, not copilot-bridge itself, not op; goal: at most 15 MB).
import { pathToFileURL } from 'node:url';
import { BASE_IMAGE } from '../test/support/e2e/base-image.js';
import { ensureDockerEngine } from '../test/support/e2e/engine.js';
import { buildTestImages } from '../test/support/e2e/images.js';
import { docker } from '../test/support/e2e/run.js';
import { Stack } from '../test/support/e2e/stack.js';

const RUNS = 3;
const SERVICES = ['postgres', 'mattermost', 'socket-proxy', 'copilot-bridge'];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Bytes of the image's layers above the base image, and of those the project's own. */
async function layerSizes(image: string): Promise<{ aboveBase: number; ours: number }> {
  const lines = async (name: string) =>
    (await docker(['history', '--no-trunc', '--format', '{{.Size}}\t{{.CreatedBy}}', name])).trim().split('\n');
  const baseDepth = (await lines(BASE_IMAGE)).length;
  const layers = (await lines(image)).slice(0, -baseDepth).map((line) => line.split('\t') as [string, string]);
  const bytes = (size: string) => {
    const m = /^([\d.]+)([kMG]?B)$/.exec(size);
    return m ? Number(m[1]) * ({ B: 1, kB: 1e3, MB: 1e6, GB: 1e9 } as Record<string, number>)[m[2]!]! : 0;
  };
  const aboveBase = layers.reduce((sum, [size]) => sum + bytes(size), 0);
  const foreign = layers
    .filter(([, by]) => / in \/opt\/copilot-bridge\s*$| in \/usr\/local\/bin\/op\s*$|apt-get install/.test(by))
    .reduce((sum, [size]) => sum + bytes(size), 0);
  return { aboveBase, ours: aboveBase - foreign };
}

export async function benchStack(): Promise<{ name: string; figures: Record<string, number | string> }> {
  await ensureDockerEngine();
  const images = await buildTestImages();
  const upToHealthy: number[] = [];
  const bridgeAfterMattermost: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const teardowns: Array<() => void | Promise<void>> = [];
    try {
      const start = Date.now();
      const stack = await Stack.up({ teardown: (fn) => teardowns.push(fn) }, images, { pingDelayMs: 1000 });
      const healthyAt = new Map<string, number>();
      while (healthyAt.size < SERVICES.length) {
        if (Date.now() - start > 180_000)
          throw new Error(`not all healthy after 180 s: ${[...healthyAt.keys()].join(', ')}`);
        for (const service of SERVICES)
          if (!healthyAt.has(service) && (await stack.health(service)) === 'healthy')
            healthyAt.set(service, Date.now());
        await new Promise((r) => setTimeout(r, 100));
      }
      upToHealthy.push((Math.max(...healthyAt.values()) - start) / 1000);
      bridgeAfterMattermost.push((healthyAt.get('copilot-bridge')! - healthyAt.get('mattermost')!) / 1000);
    } finally {
      for (const fn of teardowns.reverse()) await fn();
    }
  }
  const sizes = await layerSizes(images.bridge);
  const after = median(bridgeAfterMattermost);
  return {
    name: 'stack',
    figures: {
      runs: RUNS,
      'compose up to all services healthy, median s (stand-in images, Mattermost ping 1 s late)': Number(
        median(upToHealthy).toFixed(1),
      ),
      'admin bridge healthy after Mattermost, median s (goal <= 2)': Number(after.toFixed(1)),
      'image layers above the base, MB': Number((sizes.aboveBase / 1e6).toFixed(2)),
      "the project's own layers, MB (goal <= 15)": Number((sizes.ours / 1e6).toFixed(2)),
      verdict: after <= 2 && sizes.ours <= 15e6 ? 'meets the goals' : 'MISSES a goal',
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { name, figures } = await benchStack();
  for (const [key, value] of Object.entries(figures)) console.log(`${name}: ${key}: ${value}`);
}
