// What a bridge costs while it waits for chat, apart from the bridge itself.
// A supervised entrypoint (the host tests' build, rendering with the op
// stand-in, a real privilege drop) runs `sleep` as its bridge, and then:
// - the healthcheck's CPU per run: the launcher's `health` (reads the
//   supervisor's verdict) side by side with `verify` (the healthcheck before:
//   starts Node and scans /proc), from this process's children's CPU times;
//   per hour at the stack's 1 s interval. Goal: health under 2 ms a run.
// - the supervisor's own scans: its CPU over 10 s, per hour.
// - resident memory: the supervisor's VmRSS once idle, next to a bare
//   `node -e 'setInterval(()=>{},1e9)'` of the same Node, started alike.
//   Goal: no more than that bare Node. Also each one's private memory (USS).
//   Measured 2026-11-30: 59 MB against 42; about 11 MB of the difference are
//   pages of the node binary's own code the supervisor touched (file-backed;
//   in a container the bridge runs the same binary), about 6 MB heap and
//   anonymous memory. V8's heap flags do not change it (tried).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { NODE_FLAGS, requireTestBuild, TEST_ENTRYPOINT, TEST_LAUNCHER } from '../test/support/test-build.js';
import { stage } from './entrypoint.js';

const HEALTH_RUNS = 400;
const VERIFY_RUNS = 20;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU ms of this process's waited-for children so far (utime + stime of those, /proc/self/stat fields 16-17). */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * TICK_MS;
}

/** CPU ms a process has used (its own utime + stime). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

/** Memory only this process maps (private clean + dirty). */
function privateMb(pid: number): number {
  let kb = 0;
  for (const m of readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').matchAll(/^Private_(?:Clean|Dirty):\s+(\d+) kB/gm))
    kb += Number(m[1]);
  return kb / 1024;
}

async function perRun(file: string, args: string[], env: Record<string, string>, runs: number): Promise<number> {
  const before = childrenCpuMs();
  for (let i = 0; i < runs; i++) {
    const run = await execa(file, args, { env, extendEnv: false, reject: false, stdin: 'ignore' });
    if (run.exitCode !== 0) throw new Error(`${args.join(' ')} exited ${run.exitCode}: ${run.stdout}${run.stderr}`);
  }
  return (childrenCpuMs() - before) / runs;
}

export async function benchHealth(node24: string): Promise<{ name: string; figures: Record<string, number | string> }> {
  requireTestBuild();
  const { dir, env, cleanup } = stage();
  const supervised = { ...env, BRIDGE_SUPERVISE: '1' };
  const child = execa(node24, [...NODE_FLAGS, TEST_ENTRYPOINT, 'sleep', '120'], {
    env: supervised,
    extendEnv: false,
    reject: false,
  });
  const bare = execa(node24, [...NODE_FLAGS, '-e', 'setInterval(() => {}, 1e9)'], {
    env,
    extendEnv: false,
    reject: false,
  });
  try {
    for (let i = 0; i < 200 && readVerdict(dir) === undefined; i++) await sleep(25);
    if (readVerdict(dir) === undefined) throw new Error('the supervisor wrote no verdict');
    await sleep(3000);
    const supervisorRss = rssMb(child.pid!);
    const bareRss = rssMb(bare.pid!);
    const supervisorPrivate = privateMb(child.pid!);
    const barePrivate = privateMb(bare.pid!);
    const health = await perRun(TEST_LAUNCHER, ['health'], supervised, HEALTH_RUNS);
    const verify = await perRun(node24, [...NODE_FLAGS, TEST_ENTRYPOINT, 'verify'], supervised, VERIFY_RUNS);
    const before = cpuMs(child.pid!);
    await sleep(10_000);
    const scans = (cpuMs(child.pid!) - before) / 10;
    const hour = (ms: number) => Number(((ms * 3600) / 1000).toFixed(1));
    return {
      name: 'healthcheck',
      figures: {
        'health CPU ms per run (goal < 2)': Number(health.toFixed(2)),
        'verify CPU ms per run (the healthcheck before)': Number(verify.toFixed(1)),
        'health / verify': Number((health / verify).toFixed(3)),
        'health CPU s per hour at 1 s': hour(health),
        'verify CPU s per hour at 1 s': hour(verify),
        "supervisor's own scans, CPU s per hour": hour(scans),
        'supervisor RSS MB once idle': Number(supervisorRss.toFixed(1)),
        'bare idle node RSS MB (goal: supervisor <= this)': Number(bareRss.toFixed(1)),
        'supervisor private MB (USS)': Number(supervisorPrivate.toFixed(1)),
        'bare idle node private MB (USS)': Number(barePrivate.toFixed(1)),
        verdict: health < 2 && supervisorRss <= bareRss ? 'meets the goals' : 'MISSES a goal',
      },
    };
  } finally {
    child.kill('SIGTERM');
    bare.kill('SIGTERM');
    await Promise.all([child, bare]);
    cleanup();
  }
}

function readVerdict(dir: string): string | undefined {
  try {
    return readFileSync(join(dir, '.copilot-bridge.health'), 'utf8');
  } catch {
    return undefined;
  }
}
