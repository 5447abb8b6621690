// `ps` (npm run status): each service of the stack and each agent container,
// one row each: state, health, uptime, restarts, the last healthcheck's
// output (first line), and the sealed credential it runs on, by the
// fingerprint `status` shows (its secret mount's source in the release
// directory, read back to the sealed name; a part of the local vault is shown
// as the vault's fingerprint and the part). Reads metadata only: no TPM or
// keyring is touched, nothing is started. --json prints the same rows.
import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { PROJECT_LABEL, VAULT_CREDENTIAL } from '../../src/contract.js';
import { ExitCode, StackError } from '../../src/errors.js';
import { backend, contextOf, sealedNames } from '../backends/registry.js';
import { type Io, writeAll } from '../io.js';
import { maskLongRuns } from '../mask.js';
import type { OptionSpec, Parsed } from '../options.js';
import { composeEnv, openStack } from '../stack/stack.js';

export const options: OptionSpec = { file: 'strings', json: 'boolean' };

/** What a failed tool said: its first line, or a Python traceback's last (Compose v1's error is there). */
const said = (stderr: string) => {
  const lines = stderr.split('\n').filter((l) => l.trim());
  // Masked before it is cut: Compose's error may quote a line of .env that holds a value.
  return maskLongRuns(((lines[0]?.startsWith('Traceback') ? lines.at(-1) : lines[0]) ?? '').trim()).slice(0, 200);
};

/** The sealed credential a container runs on: null fields where there is nothing to say (--json's shape). */
interface Credential {
  /** The sealed name (the local vault's parts are shown as the vault), or null when nothing is released to it. */
  sealed: string | null;
  /** The part of the local vault it gets (vault-admin, vault-agent-NAME), else null. */
  part: string | null;
  /** The sealed credential's fingerprint, null when it is no longer sealed. */
  fingerprint: string | null;
  /** Its secret mount's source when that is not in the release directory (not a release). */
  source: string | null;
  /** Whether its released file is still there (false once down wiped it: the container cannot start again). */
  released: boolean;
}

interface Row {
  name: string;
  service: string;
  state: string;
  health: string | null;
  startedAt: string | null;
  uptimeSeconds: number | null;
  restarts: number;
  credential: Credential | null;
  lastCheck: string | null;
}

/** A row that fails `status`: not running, or running with a healthcheck that says unhealthy (starting does not). */
const failing = (r: Row) => r.state !== 'running' || r.health === 'unhealthy';

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
      `${what} failed (${said(String(stderr))}); check that the Docker engine runs and that you may use it (docker info)`,
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
      const started = Date.parse(c.State.StartedAt);
      const running = c.State.Status === 'running' && Number.isFinite(started);
      return {
        name: c.Name.replace(/^\//, ''),
        service: labels['com.docker.compose.service'] ?? (labels[`${PROJECT_LABEL}`] ? 'agent' : '-'),
        state: c.State.Status,
        health: health?.Status ?? null,
        startedAt: running ? c.State.StartedAt : null,
        uptimeSeconds: running ? Math.max(0, Math.floor((now - started) / 1000)) : null,
        restarts: c.RestartCount,
        credential: credentialOf(c, stack.dir, fingerprints),
        lastCheck: (health?.Log?.at(-1)?.Output ?? '').split('\n')[0]!.trim().slice(0, 100) || null,
      };
    })
    .sort((a, b) => a.service.localeCompare(b.service) || a.name.localeCompare(b.name));
  const bad = rows.filter(failing);
  if (parsed.json)
    await writeAll(
      io.stdout,
      `${JSON.stringify({ project: stack.project, ok: rows.length > 0 && bad.length === 0, containers: rows }, null, 2)}\n`,
    );
  else if (rows.length > 0) await writeAll(io.stdout, table(rows));
  // For scripts as for people: status fails while the stack is not all up and healthy, naming what is not.
  if (rows.length === 0)
    throw new StackError('not-running', `no container of the stack ${stack.project} exists; start it with npm run up`, {
      step: 'status',
      exitCode: ExitCode.unhealthy,
    });
  if (bad.length > 0)
    throw new StackError(
      'not-healthy',
      `${bad.map((r) => `${r.name} (${r.health === 'unhealthy' ? 'unhealthy' : r.state})`).join(', ')}; npm run compose -- logs SERVICE (or npm run agent -- logs NAME) says why`,
      { step: 'status', exitCode: ExitCode.unhealthy },
    );
}

function table(rows: Row[]): string {
  const table = [
    ['NAME', 'SERVICE', 'STATE', 'HEALTH', 'UPTIME', 'RESTARTS', 'CREDENTIAL', 'LAST HEALTHCHECK'],
    ...rows.map((r) => [
      r.name,
      r.service,
      r.state,
      r.health ?? '-',
      r.uptimeSeconds === null ? '-' : duration(r.uptimeSeconds * 1000),
      String(r.restarts),
      credentialText(r.credential),
      r.lastCheck ?? '-',
    ]),
  ];
  const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  return `${table
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
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
function credentialOf(c: Inspected, releaseDir: string, fingerprints: Map<string, string>): Credential | null {
  const mount = c.Mounts?.find((m) => m.Destination.startsWith('/run/secrets/'));
  if (!mount) return null;
  if (mount.Source === '/dev/null')
    return { sealed: null, part: null, fingerprint: null, source: null, released: false };
  if (dirname(mount.Source) !== releaseDir)
    return { sealed: null, part: null, fingerprint: null, source: mount.Source, released: false };
  const name = basename(mount.Source);
  const sealed = name.startsWith(`${VAULT_CREDENTIAL}-`) ? VAULT_CREDENTIAL : name;
  return {
    sealed,
    part: sealed === name ? null : name,
    fingerprint: fingerprints.get(sealed) ?? null,
    source: null,
    released: existsSync(mount.Source),
  };
}

function credentialText(c: Credential | null): string {
  if (!c) return '-';
  if (c.source) return `not a release (${c.source})`;
  if (!c.sealed) return 'none (nothing released)';
  const label = c.part ? `${c.sealed} (part ${c.part})` : c.sealed;
  const text = c.fingerprint ? `${label} ${c.fingerprint}` : `${label} (no longer sealed)`;
  return c.released ? text : `${text} (released file gone: cannot start again until npm run up)`;
}

function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`;
}
