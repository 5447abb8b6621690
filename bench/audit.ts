// `audit` on a stack with 10 agents: ten containers of the bridge image as the
// admin bridge starts agents (the project's label, real engine), each with its
// own home volume holding 4 MiB of logs; a token sealed on swtpm. Its wall time and
// CPU (this process's children's), side by side with a `grep -r -F` of the same
// volumes for the same value: the least any search of them costs. Printed, no
// goal: audit also reads every process, the images' layers and the logs. The
// engine's own CPU for the logs and inspections audit asks for is not counted.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { searchSet } from '../host-seal/audit/values.js';
import { PROJECT_LABEL } from '../src/contract.js';
import { fakeToken } from '../test/fixtures/host-seal/fake-token.js';
import { ensureDockerEngine } from '../test/support/e2e/engine.js';
import { buildTestImages } from '../test/support/e2e/images.js';
import { TEST_LABEL } from '../test/support/e2e/paths.js';
import { attempt } from '../test/support/e2e/run.js';
import { MAIN, sandbox } from '../test/support/host-seal/cli.js';
import { startSwtpm } from '../test/support/host-seal/swtpm.js';
import { ROOT } from '../test/support/scenario.js';

const AGENTS = 10;
const LOG_BYTES = 4 * 1024 * 1024;
const TICK_MS = 10;

function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * TICK_MS;
}

async function measure(run: () => Promise<unknown>): Promise<{ wallMs: number; cpuMs: number }> {
  const cpu = childrenCpuMs();
  const start = process.hrtime.bigint();
  await run();
  return { wallMs: Number(process.hrtime.bigint() - start) / 1e6, cpuMs: childrenCpuMs() - cpu };
}

export async function benchAudit(): Promise<{ name: string; figures: Record<string, number | string> }> {
  await ensureDockerEngine();
  const images = await buildTestImages();
  const teardowns: Array<() => unknown> = [];
  const project = `cbs-bench-audit-${process.pid}`;
  try {
    const box = await sandbox({ teardown: (fn) => teardowns.push(fn) });
    const tpm = await startSwtpm(box.root);
    teardowns.push(() => tpm.stop());
    const token = fakeToken();
    const env = {
      ...box.env,
      TPM2TOOLS_TCTI: tpm.tcti,
      COMPOSE_PROJECT_NAME: project,
      AGENTS_FILE: join(ROOT, 'test', 'fixtures', 'agents.json'),
    };
    await execa('node', [MAIN, 'seal', '--backend', 'tpm2'], { env, extendEnv: false, input: `${token}\n` });
    const line = `${new Date().toISOString()} INFO bridge message in channel 0123456789abcdefghijklmnop handled\n`;
    const log = line.repeat(Math.ceil(LOG_BYTES / line.length));
    const mountpoints: string[] = [];
    for (let i = 0; i < AGENTS; i++) {
      const volume = `${project}_agent-${i}`;
      await execa('docker', ['volume', 'create', '--label', `${PROJECT_LABEL}=${project}`, volume]);
      teardowns.push(() => attempt('docker', ['volume', 'rm', '-f', volume]));
      const mountpoint = execFileSync('docker', ['volume', 'inspect', '--format', '{{.Mountpoint}}', volume], {
        encoding: 'utf8',
      }).trim();
      mkdirSync(join(mountpoint, '.copilot-bridge'), { recursive: true });
      writeFileSync(join(mountpoint, '.copilot-bridge', 'copilot-bridge.log'), log);
      mountpoints.push(mountpoint);
      const id = (
        await execa('docker', [
          'run',
          '-d',
          '--label',
          `${PROJECT_LABEL}=${project}`,
          '--label',
          `${TEST_LABEL}=1`,
          '-v',
          `${volume}:/home/bridge`,
          '--entrypoint',
          'sleep',
          images.bridge,
          '600',
        ])
      ).stdout.trim();
      teardowns.push(() => attempt('docker', ['rm', '-f', id]));
    }
    const audit = await measure(async () => {
      const run = await execa('node', [MAIN, 'audit'], { env, extendEnv: false, reject: false, cwd: ROOT });
      if (run.exitCode !== 0) throw new Error(`audit exited ${run.exitCode}: ${run.stdout}${run.stderr}`);
    });
    // The same values in the same encodings (the needles audit looks for), one per line, for grep -F -f.
    const needles = searchSet([{ label: 'token', value: token }]).needles.filter((n) => !n.includes(10));
    const patterns = join(box.root, 'needles');
    writeFileSync(patterns, Buffer.concat(needles.flatMap((n) => [n, Buffer.from('\n')])));
    const grepAll = (dirs: string[]) =>
      execa('grep', ['-r', '-a', '-F', '-l', '-f', patterns, ...dirs], { reject: false });
    const grep = await measure(() => grepAll(mountpoints));
    // What audit reads besides: the image's layers (every agent runs the same image).
    const layers = JSON.parse(
      execFileSync('docker', ['image', 'inspect', '--format', '{{json .GraphDriver.Data}}', images.bridge], {
        encoding: 'utf8',
      }),
    ) as { UpperDir?: string; LowerDir?: string };
    const layerDirs = [layers.UpperDir, ...(layers.LowerDir ?? '').split(':')].filter((d): d is string => !!d);
    const grepLayers = await measure(() => grepAll([...mountpoints, ...layerDirs]));
    return {
      name: 'audit',
      figures: {
        agents: AGENTS,
        'log MiB per agent': LOG_BYTES / 1024 / 1024,
        'audit wall s': Number((audit.wallMs / 1000).toFixed(1)),
        'audit CPU s': Number((audit.cpuMs / 1000).toFixed(2)),
        needles: needles.length,
        'grep -r -F of the volumes for the same needles, CPU s': Number((grep.cpuMs / 1000).toFixed(2)),
        'grep -r -F of the volumes and the image layers, CPU s': Number((grepLayers.cpuMs / 1000).toFixed(2)),
        'audit CPU / grep of the same volumes and layers':
          grepLayers.cpuMs > 0 ? Number((audit.cpuMs / grepLayers.cpuMs).toFixed(1)) : 'grep under one tick',
      },
    };
  } finally {
    for (const teardown of teardowns.reverse()) await teardown();
  }
}
