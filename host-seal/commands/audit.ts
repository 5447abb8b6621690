// `audit` (npm run audit): did any value of this stack leak on this host? It
// unseals the credentials (every value of the local vault, or the tokens),
// and searches the live deployment for each of them in every encoding (see
// audit/places.ts for where). Each finding names its place and JSON path,
// never the value; declared exceptions are listed as such. Exit 0 clean, 1 on
// a finding. Read-only: it changes nothing and starts nothing.
import { readdirSync } from 'node:fs';
import { parse } from 'yaml';
import { ExitCode, StackError } from '../../src/errors.js';
import {
  containers,
  searchContainers,
  searchHost,
  searchOtherContainers,
  searchProcesses,
  searchTmpfs,
  searchVolumes,
} from '../audit/places.js';
import { Search } from '../audit/search.js';
import { expectedReleases, sealedValues, searchSet } from '../audit/values.js';
import { printable, Withhold } from '../audit/withhold.js';
import { contextOf } from '../backends/registry.js';
import { runner } from '../doctor/docker.js';
import { type Io, writeAll } from '../io.js';
import type { OptionSpec, Parsed } from '../options.js';
import { authFileOf } from '../secret-input.js';
import { openReleaseDir } from '../stack/release.js';
import { composeEnv, namesInUse, openStack } from '../stack/stack.js';

export const options: OptionSpec = { file: 'strings', 'auth-file': 'string' };

export async function run(parsed: Parsed, io: Io): Promise<void> {
  // Docker's volumes and layers and other users' processes are root's to read: as anyone else, audit would
  // pass over them in silence and could call a deployment clean that is not.
  if (io.platform === 'linux' && (process.getuid?.() ?? 0) !== 0)
    throw new StackError(
      'not-root',
      "audit reads Docker's volumes and layers (/var/lib/docker) and every process's environment, which only root can; run it as root, who runs the stack: sudo npm run audit (a stack run as another user cannot be audited yet)",
      { step: 'audit', exitCode: ExitCode.noPerm },
    );
  const stack = await openStack(parsed, io);
  // The agents file says what is expected where (each bridge's own values, what up releases): without it every
  // released file and every bridge's own token would be reported as a leak.
  namesInUse(stack.settings, stack.projectDir);
  const authFile = authFileOf(parsed);
  const sealed = await sealedValues(contextOf(io), io, authFile);
  const values = sealed.values;
  const secrets = searchSet(values);
  if (secrets.needles.length === 0 && sealed.locked.length > 0)
    throw new StackError(
      'auth-needed',
      `every sealed credential (${sealed.locked.join(', ')}) needs an auth value and stdin is not a terminal: pass --auth-file FILE`,
      { step: 'audit', exitCode: ExitCode.usage },
    );
  if (secrets.needles.length === 0)
    throw new StackError(
      'nothing-sealed',
      'nothing is sealed, so there is no value to look for; seal first (npm run seal, or npm run init)',
      {
        step: 'audit',
        exitCode: ExitCode.noInput,
      },
    );
  // Only the files up releases for this stack may hold values there, and only their own.
  const expected = expectedReleases(stack, sealed);
  let released: string[] = [];
  const dir = await openReleaseDir(stack.dir, io.platform, false);
  if (dir) {
    try {
      released = readdirSync(dir.entry('.')).filter((name) => expected.has(name));
    } finally {
      dir.close();
    }
  }
  const env = { ...stack.env, ...composeEnv(stack.dir, released) };
  const docker = runner(env);
  const dockerCall = (args: string[]) => docker('docker', args);
  const search = new Search(secrets);
  for (const name of sealed.locked)
    search.unsearched.push(
      `the values of ${name} (sealed behind an auth value: pass --auth-file FILE to look for them)`,
    );
  const scope = { stack, env, docker: dockerCall, search, expected, places: [] as string[] };
  const engine = await dockerCall(['version', '--format', '{{.Server.Version}}']);
  if (engine.failed)
    throw new StackError(
      'docker-unreachable',
      'the Docker engine does not answer; start it (systemctl start docker) or check DOCKER_HOST',
      {
        step: 'audit',
        exitCode: ExitCode.unavailable,
      },
    );
  const short = secrets.short.filter((s) => !s.label.endsWith(' (hex)'));
  const searched = values.length - short.length;
  io.stderr.write(`audit: looking for ${searched} value(s) of ${stack.project} and their encodings\n`);
  if (short.length > 0)
    io.stderr.write(
      `audit: warning: ${short.length} value(s) too short to search for without matching everywhere (under 8 characters): ${short.map((s) => s.label).join(', ')}\n`,
    );
  const model = await docker(stack.tool.file, [...stack.tool.prefix, ...stack.files, 'config']);
  const list = await containers(scope);
  await searchContainers(scope, list, model.failed ? [] : modelImages(model.stdout));
  await searchOtherContainers(scope, list);
  await searchVolumes(scope, list);
  searchTmpfs(scope, list);
  searchProcesses(scope, list);
  searchHost(scope, model.failed ? undefined : model.stdout);
  const findings = search.findings.filter((f) => !f.declared);
  const lines = [
    ...findings.map((f) => `finding: ${f.where} holds ${f.what}`),
    ...search.findings.filter((f) => f.declared).map((f) => `declared: ${f.where} holds ${f.what}: ${f.declared}`),
  ];
  // A place is named by what this host chose (a file or process name): one that spells a value, or part of one, is
  // withheld (withhold.ts); control characters in a name are escaped.
  const screen = new Withhold(
    secrets,
    values.map((v) => v.value),
  );
  await writeAll(
    io.stdout,
    lines.map((l) => (screen.names(l) ? 'finding: (withheld: its place names a value)' : printable(l))).join('\n') +
      (lines.length ? '\n' : ''),
  );
  const withheld = (p: string) => (screen.names(p) ? '(withheld: a place whose name holds a value)' : printable(p));
  const places = scope.places.map(withheld);
  io.stderr.write(`audit: searched ${places.length} place(s): ${places.join('; ')}\n`);
  for (const place of search.unsearched) io.stderr.write(`audit: could not search: ${withheld(place)}\n`);
  if (findings.length > 0)
    throw new StackError(
      'leak',
      `${findings.length} finding(s): a value of the stack is where it must not be (see above)`,
      {
        step: 'audit',
        exitCode: ExitCode.leak,
      },
    );
  if (search.unsearched.length > 0)
    throw new StackError(
      'incomplete',
      `no finding, but ${search.unsearched.length} place(s) could not be searched (see above): not proven clean`,
      { step: 'audit', exitCode: ExitCode.ioErr },
    );
  io.stderr.write('audit: clean\n');
}

/** The images the compose model names (the stack's own build among them), whether or not a container runs them. */
function modelImages(model: string): string[] {
  try {
    const services = (parse(model) as { services?: Record<string, { image?: string }> } | null)?.services ?? {};
    return Object.values(services).flatMap((service) => (service.image ? [service.image] : []));
  } catch {
    return [];
  }
}
