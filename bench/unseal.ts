// Unseal latency of the CLI's bin (`node MAIN unseal`, MAIN as the tests run
// it: dist/copilot-bridge-seal.cjs when the build made it, not through npm)
// against `systemd-creds decrypt` of a credential of the same size on the same
// software TPM, interleaved run by run, every subject timed the same way
// (node:child_process from spawn to exit, its stdout checked against the token).
// systemd 252 cannot decrypt a credential sealed to no PCRs ("PCR bank
// invalid"), so the like-for-like pair binds both to PCR 7; the CLI's default
// (unbound) is measured as well.
//
// The CLI keeps the loaded sealed object's context on tmpfs until the TPM
// resets (docs/performance.md, "Unseal latency"), so two CLI figures: `cli_pcr7`, an
// unseal with that context present (every unseal after the first since the
// TPM's last reset), which sends it to the TPM directly (ContextLoad, a policy
// session, Unseal, flushes: no tool process), and `cli_pcr7_cold`, with it
// removed first (the first unseal after a boot or a seal: tpm2 tools re-create
// the primary and load the sealed parts). systemd-creds has no such cache;
// every decrypt of it does the whole chain. The goal is judged on `cli_pcr7`;
// the cold ratio is printed next to it. The warm CLI runs with an empty PATH,
// so a run that fell back to the tools would fail rather than be timed.
//
// Where the time goes: a bare `node -e 0`, and the tool chains the CLI used
// before (and still uses cold), run from sh: warm, tpm2_unseal from the
// context plus the flush a TPM without a resource manager needs; cold, create
// the primary, load, flush, unseal, flush.
// Goal: the CLI within 2x of systemd-creds. Runnable alone: node dist/bench/unseal.js
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { fakeToken } from '../test/fixtures/host-seal/fake-token.js';
import { MAIN } from '../test/support/host-seal/cli.js';
import { tpmSandbox } from '../test/support/host-seal/swtpm.js';

const RUNS = 25;
const WARMUP = 3;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const p90 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.ceil(values.length * 0.9) - 1]!;
const round = (value: number) => Math.round(value * 10) / 10;

/** Wall time of one run, spawn to exit, with as little harness in between as Node allows. */
function timed(file: string, args: string[], env: Record<string, string>, expect?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const start = performance.now();
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const elapsed = performance.now() - start;
      const stdout = Buffer.concat(out).toString('utf8');
      if (code !== 0 || (expect !== undefined && stdout !== expect)) {
        const said = Buffer.concat(err).toString('utf8').split('\n').slice(-3).join(' ');
        reject(new Error(`${file} ${args.join(' ').slice(0, 80)} failed (exit ${code}): ${said}`));
      } else {
        resolve(elapsed);
      }
    });
  });
}

export async function benchUnseal(): Promise<{ name: string; figures: Record<string, number | string> }> {
  const { root, runtime, tpm, env, dispose } = await tpmSandbox('cbs-bench-unseal');
  try {
    const token = fakeToken();
    const flush = () => execa('tpm2_flushcontext', ['-t', '-l', '-s'], { env, extendEnv: false, reject: false });
    for (const args of [
      ['seal', '--name', 'unbound'],
      ['seal', '--name', 'pcr7', '--pcrs', '7'],
    ]) {
      const sealed = await execa('node', [MAIN, ...args], { env, extendEnv: false, input: token, reject: false });
      if (sealed.exitCode !== 0) throw new Error(`seal failed: ${sealed.stderr}`);
    }
    const plain = join(root, 'plain');
    const credential = join(root, 'credential');
    await writeFile(plain, token, { mode: 0o600 });
    const device = `--tpm2-device=${tpm.tcti}`;
    await execa(
      'systemd-creds',
      ['encrypt', '--with-key=tpm2', device, '--tpm2-pcrs=7', '--name=bench', plain, credential],
      { env, extendEnv: false },
    );
    await rm(plain);

    // The tool chains alone, on the pcr7 seal: the cold one from its sealed parts, the warm one
    // from the context file the CLI caches (its first unseal makes it).
    const blob = JSON.parse(await readFile(join(root, 'config', 'copilot-bridge-stack', 'pcr7.tpm2.json'), 'utf8')) as {
      sealed: { public: string; private: string };
    };
    const chain = join(root, 'chain');
    await mkdir(chain, { mode: 0o700 });
    await writeFile(join(chain, 'seal.pub'), Buffer.from(blob.sealed.public, 'base64'));
    await writeFile(join(chain, 'seal.priv'), Buffer.from(blob.sealed.private, 'base64'));
    await timed(process.execPath, [MAIN, 'unseal', '--name', 'pcr7'], env, token);
    await timed(process.execPath, [MAIN, 'unseal', '--name', 'unbound'], env, token);
    const cacheDir = join(runtime, 'copilot-bridge-stack-tpm2');
    const cached = (await readdir(cacheDir)).find((entry) => entry.startsWith('pcr7.'));
    if (!cached) throw new Error('the CLI kept no context file for pcr7');
    const cold = [
      'tpm2_createprimary -C o -g sha256 -G ecc256:aes128cfb -c primary.ctx -Q',
      'tpm2_load -C primary.ctx -u seal.pub -r seal.priv -c seal.ctx -Q',
      'tpm2_flushcontext -t',
      'tpm2_unseal -c seal.ctx -p pcr:sha256:7 > /dev/null',
      'tpm2_flushcontext -t',
    ].join(' && ');
    const warm = [`tpm2_unseal -c ${join(cacheDir, cached)} -p pcr:sha256:7 > /dev/null`, 'tpm2_flushcontext -t'].join(
      ' && ',
    );
    // The direct path needs no tool: with no PATH, a fallback to the tools fails instead of being timed.
    const noTools = { ...env, PATH: '/nonexistent' };
    const node = process.execPath;
    const dropCache = async () => {
      for (const entry of await readdir(cacheDir)) if (entry.startsWith('pcr7.')) await rm(join(cacheDir, entry));
    };

    type Subject = { run: () => Promise<number>; before?: () => Promise<unknown> };
    const subjects: Record<string, Subject> = {
      cli_pcr7: { run: () => timed(node, [MAIN, 'unseal', '--name', 'pcr7'], noTools, token) },
      systemd_creds_pcr7: {
        run: () => timed('systemd-creds', ['decrypt', device, '--name=bench', credential, '-'], env, token),
      },
      cli_pcr7_cold: { before: dropCache, run: () => timed(node, [MAIN, 'unseal', '--name', 'pcr7'], env, token) },
      cli_unbound: { run: () => timed(node, [MAIN, 'unseal', '--name', 'unbound'], noTools, token) },
      node_startup: { run: () => timed(node, ['-e', '0'], env) },
      tpm2_tools_warm_alone: { run: () => timed('sh', ['-c', warm], env) },
      tpm2_tools_cold_alone: { run: () => timed('sh', ['-c', `cd ${chain} && ${cold}`], env) },
    };
    const samples: Record<string, number[]> = Object.fromEntries(Object.keys(subjects).map((key) => [key, []]));
    const order = Object.entries(subjects);
    for (let run = 0; run < WARMUP + RUNS; run += 1) {
      const sequence = run % 2 === 0 ? order : [...order].reverse();
      for (const [key, subject] of sequence) {
        // Untimed, for everyone: systemd 252 leaves sessions loaded on a TPM without a resource manager.
        await flush();
        await subject.before?.();
        const elapsed = await subject.run();
        if (run >= WARMUP) samples[key]!.push(elapsed);
      }
    }
    const figures: Record<string, number | string> = {
      runs: RUNS,
      token_chars: token.length,
      tcti: 'swtpm (no resource manager)',
      cli: MAIN.replace(/^.*\/dist\//, 'dist/'),
    };
    for (const [key, values] of Object.entries(samples)) {
      figures[`${key}_median_ms`] = round(median(values));
      figures[`${key}_p90_ms`] = round(p90(values));
    }
    const systemd = median(samples.systemd_creds_pcr7!);
    const ratio = median(samples.cli_pcr7!) / systemd;
    const ratioOf = (key: string) => Math.round((median(samples[key]!) / systemd) * 100) / 100;
    figures.ratio_cli_to_systemd_creds = Math.round(ratio * 100) / 100;
    figures.ratio_cold_cli_to_systemd_creds = ratioOf('cli_pcr7_cold');
    figures.ratio_unbound_cli_to_systemd_creds = ratioOf('cli_unbound');
    figures.goal = 'ratio <= 2 (cli_pcr7: context cached since the TPM last reset)';
    figures.goal_met = ratio <= 2 ? 'yes' : 'no';
    figures.cold_goal_met = ratioOf('cli_pcr7_cold') <= 2 ? 'yes' : 'no';
    return { name: 'unseal: copilot-bridge-seal vs systemd-creds on swtpm', figures };
  } finally {
    await dispose();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await benchUnseal(), null, 2));
}
