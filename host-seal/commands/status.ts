// `status`: the stack's source of secrets (SECRETS_SOURCE), then one row per
// sealed name: backend, when sealed, PCR binding, a short SHA-256
// fingerprint (never the token), and whether and where it is released right
// now. Reads metadata only; no TPM or keyring is touched.

import { readdirSync } from 'node:fs';
import { VAULT_CREDENTIAL } from '../../src/contract.js';
import { secretsSource, stackSettings } from '../../src/stack/settings.js';
import type { SealedRecord } from '../backends/backend.js';
import { backend, contextOf, sealedNames } from '../backends/registry.js';
import { type Io, writeAll } from '../io.js';
import type { OptionSpec, Parsed } from '../options.js';
import { openReleaseDir, releaseDir, releasedPath } from '../stack/release.js';

export const options: OptionSpec = {};

export async function run(_parsed: Parsed, io: Io): Promise<void> {
  const context = contextOf(io);
  const source = secretsSource(stackSettings(io.env));
  await writeAll(
    io.stdout,
    `secrets source: ${source === 'vault' ? 'vault (the local vault, sealed as vault)' : '1password (op inject with the sealed service-account token)'} (SECRETS_SOURCE)\n`,
  );
  const names = await sealedNames(context);
  if (names.length === 0) {
    io.stderr.write(
      source === 'vault'
        ? 'nothing sealed yet; npm run init fills the local vault, or npm run vault -- set ITEM/FIELD\n'
        : 'nothing sealed yet; seal a token: op read "op://vault/item/credential" | npm run seal\n',
    );
    return;
  }
  const dir = releaseDir(io.env, io.platform);
  // What is released is reported only from a directory proven ours: another user's file there is not a release.
  let unsafe: string | undefined;
  let parts: string[] = [];
  try {
    const opened = await openReleaseDir(dir, io.platform, false);
    if (opened) {
      parts = readdirSync(opened.entry('.'))
        .filter((name) => name.startsWith('vault-'))
        .sort();
      opened.close();
    }
  } catch (error) {
    unsafe = error instanceof Error ? error.message : String(error);
  }
  const rows = [['NAME', 'BACKEND', 'SEALED AT', 'PCRS', 'AUTH', 'FINGERPRINT', 'RELEASED']];
  const problems: string[] = [];
  for (const entry of names) {
    const record: SealedRecord | undefined = await backend(entry.backend, context).describe(entry.name);
    if (!record) continue;
    if (record.problem) problems.push(`${record.name} (${record.backend}): ${record.problem}`);
    const released = unsafe ? undefined : await releasedPath(dir, entry.name);
    rows.push([
      record.name,
      record.backend,
      record.sealedAt,
      record.pcrs.length > 0 ? `sha256:${record.pcrs.join(',')}` : 'none',
      record.auth ? 'yes' : 'no',
      record.fingerprint,
      released
        ? `yes: ${released}`
        : record.name === VAULT_CREDENTIAL && parts.length > 0
          ? `in parts: ${parts.join(', ')} in ${dir}`
          : 'no',
    ]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  const text = rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
  await writeAll(io.stdout, `${text}\n`);
  for (const problem of problems) io.stderr.write(`problem: ${problem}\n`);
  if (unsafe) io.stderr.write(`problem: ${unsafe}\n`);
}
