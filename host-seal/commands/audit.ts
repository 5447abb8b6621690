// `audit` (npm run audit): did any value of this stack leak on this host? It
// unseals the credentials (every value of the local vault, or the tokens),
// and searches the live deployment for each of them in every encoding (see
// audit/places.ts for where). Each finding names its place and JSON path,
// never the value; declared exceptions are listed as such. Exit 0 clean, 1 on
// a finding. Read-only: it changes nothing and starts nothing.
import { readdirSync } from 'node:fs';
import { ExitCode, StackError } from '../../src/errors.js';
import { SecretSet } from '../../src/secrets/secret-set.js';
import { containers, searchContainers, searchHost, searchProcesses, searchVolumes } from '../audit/places.js';
import { Search } from '../audit/search.js';
import { expectedReleases, sealedValues } from '../audit/values.js';
import { contextOf } from '../backends/registry.js';
import { runner } from '../doctor/docker.js';
import { type Io, writeAll } from '../io.js';
import type { OptionSpec, Parsed } from '../options.js';
import { openReleaseDir } from '../stack/release.js';
import { composeEnv, openStack } from '../stack/stack.js';

export const options: OptionSpec = { file: 'strings', 'auth-file': 'string' };

export async function run(parsed: Parsed, io: Io): Promise<void> {
  const stack = await openStack(parsed, io);
  const authFile = typeof parsed['auth-file'] === 'string' ? parsed['auth-file'] : undefined;
  const sealed = await sealedValues(contextOf(io), io, authFile);
  const values = sealed.values;
  const secrets = new SecretSet(values);
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
  io.stderr.write(`audit: looking for ${values.length} value(s) of ${stack.project} and their encodings\n`);
  const list = await containers(scope);
  await searchContainers(scope, list);
  await searchVolumes(scope, list);
  searchProcesses(scope, list);
  const model = await docker(stack.tool.file, [...stack.tool.prefix, ...stack.files, 'config']);
  searchHost(scope, model.failed ? undefined : model.stdout);
  const findings = search.findings.filter((f) => !f.declared);
  const lines = [
    ...findings.map((f) => `finding: ${f.where} holds ${f.what}`),
    ...search.findings.filter((f) => f.declared).map((f) => `declared: ${f.where} holds ${f.what}: ${f.declared}`),
  ];
  // A place is named by what this host chose (a file or process name): one that holds a value itself is withheld.
  await writeAll(
    io.stdout,
    lines.map((l) => (secrets.find(l) ? 'finding: (withheld: its place names a value)' : l)).join('\n') +
      (lines.length ? '\n' : ''),
  );
  const places = scope.places.map((p) => (secrets.find(p) ? '(withheld: a place whose name holds a value)' : p));
  io.stderr.write(`audit: searched ${places.length} place(s): ${places.join('; ')}\n`);
  if (findings.length > 0)
    throw new StackError(
      'leak',
      `${findings.length} finding(s): a value of the stack is where it must not be (see above)`,
      {
        step: 'audit',
        exitCode: ExitCode.leak,
      },
    );
  io.stderr.write('audit: clean\n');
}
