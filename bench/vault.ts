// `up`'s release with the local vault against the 1Password path, side by
// side on the same software TPM, interleaved run by run, in process (the
// library calls `up` makes, without Docker): for a stack of N bridges, the
// vault path unseals the one `vault` credential, cuts N parts (planSubsets:
// each bridge's template filled and its references read) and writes N files;
// the 1Password path unseals N sealed tokens and writes N files. Both on the
// TPM's warm path (the loaded context cached, as for every unseal after the
// first since a reset). Goal: the vault path no slower than the 1Password
// path (ratio <= 1). The entrypoint's render from the local vault is in
// bench/entrypoint.ts. Runnable alone: node dist/bench/vault.js
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { backend } from '../host-seal/backends/registry.js';
import { prepareReleaseDir, releaseToken, wipeReleased } from '../host-seal/stack/release.js';
import { planSubsets } from '../host-seal/stack/vault-release.js';
import { parseVault, serializeVault } from '../src/vault/document.js';
import { fakeToken } from '../test/fixtures/host-seal/fake-token.js';
import { tpmSandbox } from '../test/support/host-seal/swtpm.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const RUNS = 15;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const channel = (i: number) => [{ id: `channel${String(i).padStart(19, '0')}`, name: `c${i}` }];

export async function benchVault(agents = 9): Promise<{ name: string; figures: Record<string, number | string> }> {
  const { root, runtime, env, dispose } = await tpmSandbox('cbs-bench-vault');
  try {
    const context = { configDir: join(root, 'config', 'copilot-bridge-stack'), env, platform: 'linux' as const };
    const tpm2 = backend('tpm2', context);
    // A stack of 1 + agents bridges, each with its bot and GitHub token.
    const names = Array.from({ length: agents }, (_, i) => `agent${i}`);
    const entry = (name: string, i: number) => ({
      botTokenItem: `op://v/bot-${name}`,
      githubTokenItem: `op://v/gh-${name}`,
      channels: channel(i),
      users: ['ray'],
    });
    const agentsFile = join(root, 'agents.json');
    await writeFile(
      agentsFile,
      JSON.stringify({ admin: entry('admin', 0), agents: names.map((name, i) => ({ name, ...entry(name, i + 1) })) }),
    );
    const items = new Map<string, string>();
    for (const name of ['admin', ...names])
      for (const kind of ['bot', 'gh']) items.set(`${kind}-${name}/token`, fakeToken().slice(0, 60));
    await tpm2.seal('vault', serializeVault(items), { pcrs: [], auth: undefined, replace: true });
    const tokens = ['op-sa-token', ...names.map((name) => `agent-${name}`)];
    for (const name of tokens) await tpm2.seal(name, fakeToken(), { pcrs: [], auth: undefined, replace: true });
    const never = () => Promise.reject(new Error('no auth value'));
    const dirPath = join(runtime, 'copilot-bridge-stack');

    const viaVault = async () => {
      const dir = await prepareReleaseDir(dirPath, 'linux');
      try {
        const vault = parseVault(await tpm2.unseal('vault', { askAuth: never }), 'vault', 'bench');
        for (const subset of planSubsets(vault, agentsFile, ROOT, {}).subsets)
          await releaseToken(dir, subset.name, subset.document);
      } finally {
        dir.close();
      }
    };
    const viaTokens = async () => {
      const dir = await prepareReleaseDir(dirPath, 'linux');
      try {
        for (const name of tokens) await releaseToken(dir, name, await tpm2.unseal(name, { askAuth: never }));
      } finally {
        dir.close();
      }
    };
    const vaultMs: number[] = [];
    const tokenMs: number[] = [];
    for (let run = 0; run < RUNS + 2; run++) {
      for (const [subject, into] of (run % 2
        ? [
            [viaVault, vaultMs],
            [viaTokens, tokenMs],
          ]
        : [
            [viaTokens, tokenMs],
            [viaVault, vaultMs],
          ]) as Array<[() => Promise<void>, number[]]>) {
        const start = performance.now();
        await subject();
        const elapsed = performance.now() - start;
        await wipeReleased(dirPath, 'linux');
        if (run >= 2) into.push(elapsed);
      }
    }
    const ratio = median(vaultMs) / median(tokenMs);
    return {
      name: 'vault release',
      figures: {
        bridges: agents + 1,
        runs: RUNS,
        'local vault: 1 unseal, cut and write the parts, median ms': Number(median(vaultMs).toFixed(1)),
        '1Password: unseal and write each token, median ms': Number(median(tokenMs).toFixed(1)),
        'ratio (goal <= 1)': Number(ratio.toFixed(2)),
        verdict: ratio <= 1 ? 'meets the goal' : 'MISSES the goal',
      },
    };
  } finally {
    await dispose();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { name, figures } = await benchVault();
  for (const [key, value] of Object.entries(figures)) console.log(`${name}: ${key}: ${value}`);
}
