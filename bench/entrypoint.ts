// Entrypoint overhead: its wall time minus the op child's, side by side
// (interleaved) with a bare `node -e 0` of the same Node 24 binary, in exec
// mode with a real privilege drop, exec'ing `true` (Node with the flags its launcher passes). The op child's time is
// that of the same `op inject` run alone, in the same loop. Peak RSS: the
// supervising entrypoint's VmHWM once it has rendered, checked and started
// its child. Goals: overhead <= 1.5x a bare Node start; peak RSS <= 64 MB.
// The local vault (BRIDGE_SECRETS_SOURCE=vault, the same values as a vault
// document) in the same loop: its whole start against the op path's start
// minus op's own time. Goal: the local render adds nothing measurable (ratio
// <= 1.05).
// The entrypoint is the host tests' build (the image's bundle with op's fixed
// path at the stand-in; scripts/build-test-entrypoint.sh, which npm test runs).
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa, execaSync } from 'execa';
import { fakeServiceAccountToken } from '../test/fixtures/tokens.js';
import { HOST_VAULTS, standardItems, writeVault } from '../test/fixtures/vault.js';
import { NODE_FLAGS, requireTestBuild, TEST_ENTRYPOINT, TEST_OP } from '../test/support/test-build.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const RUNS = 21;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A token, a vault, the template and a root-owned place on /dev/shm for a config; `cleanup` removes them. */
export function stage() {
  const dir = mkdtempSync('/dev/shm/cbs-bench-');
  chmodSync(dir, 0o1777);
  const token = fakeServiceAccountToken();
  writeFileSync(join(dir, 'token'), token, { mode: 0o600 });
  const local = Object.fromEntries(
    Object.entries(standardItems()).map(([ref, value]) => [ref.replace(/^op:\/\/[^/]+\//, ''), value]),
  );
  writeFileSync(join(dir, 'vault'), JSON.stringify({ format: 'copilot-bridge-stack/vault/1', items: local }), {
    mode: 0o600,
  });
  mkdirSync(HOST_VAULTS, { recursive: true, mode: 0o700 });
  const vault = join(HOST_VAULTS, `bench-${process.pid}.json`);
  writeVault(vault, token, standardItems());
  cpSync(join(ROOT, 'test', 'fixtures', 'config.json.tpl'), join(dir, 'config.json.tpl'));
  execaSync('chmod', ['-R', 'a+rX', dir]);
  chmodSync(join(dir, 'token'), 0o600);
  chmodSync(join(dir, 'vault'), 0o600);
  const env = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: dir,
    OP_SERVICE_ACCOUNT_TOKEN_FILE: join(dir, 'token'),
    BRIDGE_CONFIG_TEMPLATE: join(dir, 'config.json.tpl'),
    BRIDGE_CONFIG_OUT: join(dir, 'config.json'),
    BRIDGE_RUN_AS: '65534:65534',
    AGENT_ITEM: 'lal',
  };
  return {
    dir,
    env,
    token,
    vault,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
      rmSync(vault, { force: true });
    },
  };
}

async function wallMs(file: string, args: string[], env: Record<string, string>, input?: string): Promise<number> {
  const start = process.hrtime.bigint();
  const result = await execa(file, args, {
    env,
    extendEnv: false,
    reject: false,
    ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
  });
  if (result.exitCode !== 0) throw new Error(`${file} ${args.join(' ')} exited ${result.exitCode}: ${result.stderr}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export async function benchEntrypoint(
  node24: string,
): Promise<{ name: string; figures: Record<string, number | string> }> {
  requireTestBuild();
  const { dir, env, token, vault } = stage();
  const entrypoint = TEST_ENTRYPOINT;
  const template = readFileSync(env.BRIDGE_CONFIG_TEMPLATE, 'utf8');
  // What the entrypoint gives op: the fixed PATH, a private home and config dir, the template's variable, the token.
  const opEnv = {
    PATH: env.PATH,
    HOME: dir,
    AGENT_ITEM: env.AGENT_ITEM,
    OP_SERVICE_ACCOUNT_TOKEN: token,
    OP_CONFIG_DIR: dir,
  };
  try {
    const bare: number[] = [];
    const whole: number[] = [];
    const opAlone: number[] = [];
    const fromVault: number[] = [];
    const vaultEnv = { ...env, BRIDGE_SECRETS_SOURCE: 'vault', OP_SERVICE_ACCOUNT_TOKEN_FILE: join(dir, 'vault') };
    for (let i = 0; i < RUNS + 2; i++) {
      const b = await wallMs(node24, ['-e', '0'], env);
      const o = await wallMs(TEST_OP, ['inject'], opEnv, template);
      const e = await wallMs(node24, [...NODE_FLAGS, entrypoint, 'true'], env);
      const v = await wallMs(node24, [...NODE_FLAGS, entrypoint, 'true'], vaultEnv);
      if (i >= 2) {
        bare.push(b);
        opAlone.push(o);
        whole.push(e);
        fromVault.push(v);
      }
    }
    const overhead = [median(whole) - median(opAlone)];
    const localRatio = median(fromVault) / median(overhead);
    const child = execa(node24, [...NODE_FLAGS, entrypoint, 'sleep', '1'], {
      env: { ...env, BRIDGE_SUPERVISE: '1' },
      extendEnv: false,
      reject: false,
    });
    let hwm = 0;
    for (let i = 0; i < 40 && hwm === 0; i++) {
      await new Promise((r) => setTimeout(r, 25));
      const kids = execaSync('pgrep', ['-P', String(child.pid)], { reject: false }).stdout;
      if (kids.trim())
        hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    }
    await child;
    const ratio = median(overhead) / median(bare);
    return {
      name: 'entrypoint',
      figures: {
        runs: RUNS,
        'bare node -e 0, median ms': Number(median(bare).toFixed(1)),
        'op inject alone, median ms': Number(median(opAlone).toFixed(1)),
        'entrypoint with op, median ms': Number(median(whole).toFixed(1)),
        'entrypoint minus op, ms': Number(median(overhead).toFixed(1)),
        'ratio (goal <= 1.5)': Number(ratio.toFixed(2)),
        'peak RSS MB (goal <= 64)': Number(hwm.toFixed(1)),
        'entrypoint with the local vault, median ms': Number(median(fromVault).toFixed(1)),
        'local vault / (op path minus op) (goal <= 1.05)': Number(localRatio.toFixed(2)),
        verdict: ratio <= 1.5 && hwm > 0 && hwm <= 64 && localRatio <= 1.05 ? 'meets the goals' : 'MISSES a goal',
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(vault, { force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { name, figures } = await benchEntrypoint(
    process.env.NODE24_BIN ?? join(ROOT, '.cache', 'node24', 'bin', 'node'),
  );
  for (const [key, value] of Object.entries(figures)) console.log(`${name}: ${key}: ${value}`);
}
