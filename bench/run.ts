// `npm run bench`: every performance goal of the project, each measured side
// by side with its baseline in the same run, printed as a figure per line.
// Not a test: it reports, and says which goals are missed.
import { join, resolve } from 'node:path';
import { benchAgents } from './agents.js';
import { benchAudit } from './audit.js';
import { benchEntrypoint } from './entrypoint.js';
import { benchGuard } from './guard.js';
import { benchGuardCreate } from './guard-create.js';
import { benchHealth } from './health.js';
import { benchRedact } from './redact.js';
import { benchStack } from './stack.js';
import { benchUnseal } from './unseal.js';
import { benchVault } from './vault.js';

type Bench = () => Promise<{ name: string; figures: Record<string, number | string> }>;

const node24 =
  process.env.NODE24_BIN ?? join(resolve(import.meta.dirname, '..', '..'), '.cache', 'node24', 'bin', 'node');
const benches: Array<[string, Bench]> = [
  ['entrypoint', () => benchEntrypoint(node24)],
  ['healthcheck', () => benchHealth(node24)],
  ['redact', benchRedact],
  ['unseal', benchUnseal],
  ['vault release', () => benchVault()],
  ['guard', benchGuard],
  ['guard create', benchGuardCreate],
  ['stack', benchStack],
  ['agents', benchAgents],
  ['audit', benchAudit],
];

let failed = false;
for (const [label, bench] of benches) {
  process.stderr.write(`bench: running ${label}...\n`);
  try {
    const { name, figures } = await bench();
    for (const [key, value] of Object.entries(figures)) console.log(`${name}: ${key}: ${value}`);
  } catch (error) {
    failed = true;
    console.log(`${label}: could not run: ${(error as Error).message.split('\n')[0]}`);
  }
}
process.exitCode = failed ? 1 : 0;
