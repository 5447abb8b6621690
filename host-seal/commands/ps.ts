// `ps` (npm run status): each service of the stack and each agent container,
// one row each: state, health, uptime, restarts, the last healthcheck's
// output (first line), and the sealed credential it runs on, by the
// fingerprint `status` shows (its secret mount's source in the release
// directory, read back to the sealed name; a part of the local vault is shown
// as the vault's fingerprint and the part). Reads metadata only: no TPM or
// keyring is touched, nothing is started. --json prints the same rows.
import { basename, dirname } from 'node:path';
import { PROJECT_LABEL, VAULT_CREDENTIAL } from '../../src/contract.js';
import { ExitCode, StackError } from '../../src/errors.js';
import { backend, contextOf, sealedNames } from '../backends/registry.js';
import { type Io, writeAll } from '../io.js';
import type { OptionSpec, Parsed } from '../options.js';
import { composeEnv, openStack } from '../stack/stack.js';

export const options: OptionSpec = { file: 'strings', json: 'boolean' };

interface Row {
  name: string;
  service: string;
  state: string;
  health: string;
  uptime: string;
  restarts: number;
  credential: string;
  lastCheck: string;
}

interface Inspected {
  Name: string;
  RestartCount: number;
  Config: { Labels?: Record<string, string> };
  State: {
    Status: string;
    StartedAt: string;
    Health?: { Status: string; Log?: Array<{ Output: string }> };
  };
  Mounts?: Array<{ Source: string; Destination: string }>;
}

export async function run(parsed: Parsed, io: Io): Promise<void> {
  const stack = await openStack(parsed, io);
  const { execa } = await import('execa');
  const env = { ...io.env, ...composeEnv(stack.dir, []) };
  const unavailable = (what: string, stderr: unknown) =>
    new StackError(
      'docker',
      `${what} failed (${String(stderr).split('\n')[0]}); check that the Docker engine runs (docker info)`,
      {
        step: 'ps',
        exitCode: ExitCode.unavailable,
      },
    );
  const ps = await execa(stack.tool.file, [...stack.tool.prefix, ...stack.files, 'ps', '-q'], {
    env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
  });
  if (ps.failed) throw unavailable(`${stack.tool.label} ps`, ps.stderr);
  const agents = await execa('docker', ['ps', '-aq', '--filter', `label=${PROJECT_LABEL}=${stack.project}`], {
    env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
  });
  if (agents.failed) throw unavailable('docker ps', agents.stderr);
  const ids = [
    ...new Set(
      `${ps.stdout}\n${agents.stdout}`
        .split('\n')
        .map((id) => id.trim())
        .filter(Boolean),
    ),
  ];
  const inspected: Inspected[] = [];
  if (ids.length > 0) {
    const result = await execa('docker', ['inspect', ...ids], {
      env,
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
    });
    if (result.failed) throw unavailable('docker inspect', result.stderr);
    inspected.push(...(JSON.parse(result.stdout) as Inspected[]));
  }
  const fingerprints = await sealedFingerprints(io);
  const now = Date.now();
  const rows: Row[] = inspected
    .map((c) => {
      const labels = c.Config.Labels ?? {};
      const health = c.State.Health;
      return {
        name: c.Name.replace(/^\//, ''),
        service: labels['com.docker.compose.service'] ?? (labels[`${PROJECT_LABEL}`] ? 'agent' : '-'),
        state: c.State.Status,
        health: health?.Status ?? '-',
        uptime: c.State.Status === 'running' ? duration(now - Date.parse(c.State.StartedAt)) : '-',
        restarts: c.RestartCount,
        credential: credentialOf(c, stack.dir, fingerprints),
        lastCheck: (health?.Log?.at(-1)?.Output ?? '').split('\n')[0]!.trim().slice(0, 100) || '-',
      };
    })
    .sort((a, b) => a.service.localeCompare(b.service) || a.name.localeCompare(b.name));
  if (parsed.json) {
    await writeAll(io.stdout, `${JSON.stringify({ project: stack.project, containers: rows }, null, 2)}\n`);
    return;
  }
  if (rows.length === 0) {
    io.stderr.write(`no container of the stack ${stack.project} exists; start it with npm run up\n`);
    return;
  }
  const table = [
    ['NAME', 'SERVICE', 'STATE', 'HEALTH', 'UPTIME', 'RESTARTS', 'CREDENTIAL', 'LAST HEALTHCHECK'],
    ...rows.map((r) => [r.name, r.service, r.state, r.health, r.uptime, String(r.restarts), r.credential, r.lastCheck]),
  ];
  const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  await writeAll(
    io.stdout,
    `${table
      .map((row) =>
        row
          .map((cell, column) => cell.padEnd(widths[column]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n')}\n`,
  );
}

/** Sealed name -> fingerprint, from each backend's metadata (never the token). */
async function sealedFingerprints(io: Io): Promise<Map<string, string>> {
  const context = contextOf(io);
  const out = new Map<string, string>();
  for (const entry of await sealedNames(context)) {
    const record = await backend(entry.backend, context).describe(entry.name);
    if (record) out.set(record.name, record.fingerprint);
  }
  return out;
}

/** The sealed credential behind a container's secret mount, by name and fingerprint. */
function credentialOf(c: Inspected, releaseDir: string, fingerprints: Map<string, string>): string {
  const mount = c.Mounts?.find((m) => m.Destination.startsWith('/run/secrets/'));
  if (!mount) return '-';
  if (mount.Source === '/dev/null') return 'none (nothing released)';
  if (dirname(mount.Source) !== releaseDir) return `not a release (${mount.Source})`;
  const name = basename(mount.Source);
  const sealed = name.startsWith(`${VAULT_CREDENTIAL}-`) ? VAULT_CREDENTIAL : name;
  const fingerprint = fingerprints.get(sealed);
  const label = sealed === name ? name : `${sealed} (part ${name})`;
  return fingerprint ? `${label} ${fingerprint}` : `${label} (no longer sealed)`;
}

function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`;
}
