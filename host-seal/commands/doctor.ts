// `doctor` (npm run doctor): will the stack work on this host? One line per
// check, ok, warn or fail, with the fix for each failure; --json for
// machines. It changes nothing and starts nothing: sealed credentials are
// unsealed as a dry run (compared by fingerprint, never printed); `op` is
// asked about its account only with --online. Exit 0 when nothing failed,
// else the first failure's status from the sysexits table.
import { resolve } from 'node:path';
import { PLACEHOLDER } from '../../src/agents/agents-file.js';
import type { SecretsSource } from '../../src/contract.js';
import { VAULT_CREDENTIAL } from '../../src/contract.js';
import { ExitCode, StackError } from '../../src/errors.js';
import { redact } from '../../src/redact/index.js';
import { SecretSet } from '../../src/secrets/secret-set.js';
import { secretsSource } from '../../src/stack/settings.js';
import { contextOf } from '../backends/registry.js';
import { composeModel, composeTool, engine, image, ports, pulledImages, runner, swarm } from '../doctor/docker.js';
import { type Finding, fail, failed, line, ok, shown } from '../doctor/finding.js';
import { type AuthTries, agentCredentials, opCli, releaseRoom, sealed, tpm } from '../doctor/sealing.js';
import { type Io, writeAll } from '../io.js';
import type { OptionSpec, Parsed } from '../options.js';
import { DEFAULT_NAME } from '../paths.js';
import { authFileOf, readAuth } from '../secret-input.js';
import { composeEnv, namesInUse, openStack } from '../stack/stack.js';

export const options: OptionSpec = { file: 'strings', json: 'boolean', online: 'boolean', 'auth-file': 'string' };

export async function run(parsed: Parsed, io: Io): Promise<void> {
  const findings: Finding[] = [];
  const tries: AuthTries = { values: [] };
  try {
    await gather(parsed, io, (f) => findings.push(...[f].flat()), tries);
  } catch (error) {
    // A failure no check caught still ends in the report, after every line gathered before it.
    findings.push(failed('doctor', error));
  }

  // Printed once every value unsealed is known, each masked wherever a check quoted it (an image's label holding a
  // token in a package URL, a compose file's error quoting its line): doctor never prints a value.
  const secrets = new SecretSet(tries.values.map((value) => ({ label: 'an unsealed value', value })));
  const printed = findings.map((f) => shown(f, (text) => redact(secrets, text)));
  const failure = printed.find((f) => f.status === 'fail');
  const text = parsed.json
    ? `${JSON.stringify({ ok: failure === undefined, checks: printed }, null, 2)}\n`
    : printed.map((f) => `${line(f)}\n`).join('');
  await writeAll(io.stdout, text);
  if (failure) {
    const count = findings.filter((f) => f.status === 'fail').length;
    throw new StackError('doctor', `${count} check(s) failed; the first: ${failure.check}`, {
      step: 'doctor',
      exitCode: failure.exitCode ?? ExitCode.software,
    });
  }
}

async function gather(
  parsed: Parsed,
  io: Io,
  report: (f: Finding | Finding[]) => void,
  tries: AuthTries,
): Promise<void> {
  let authFile: string | undefined;
  try {
    authFile = authFileOf(parsed);
  } catch (error) {
    report(failed('auth file', error));
  }
  const docker = runner(io.env);
  const context = contextOf(io);

  const engineUp = await engine(docker);
  report(engineUp);
  report(await composeTool(io.env, docker));
  if (engineUp.status !== 'fail') report(await swarm(docker));
  let source: SecretsSource | undefined;
  let agents: Parameters<typeof agentCredentials>[2] | undefined;
  let used: string[] | undefined;
  try {
    const stack = await openStack(parsed, io);
    source = secretsSource(stack.settings);
    const model = await composeModel(stack, { ...stack.env, ...composeEnv(stack.dir, []) });
    if ('status' in model) report(model);
    else {
      report(ok('compose file', `${stack.tool.label} reads it (${Object.keys(model.services ?? {}).length} services)`));
      report(await checked('ports', () => ports(model, stack.project, docker)));
      if (engineUp.status !== 'fail') {
        report(await checked('image', () => image(model, stack.projectDir, docker)));
        report(await checked('images', () => pulledImages(model, stack, docker)));
      }
    }
    try {
      const names = namesInUse(stack.settings, stack.projectDir);
      used = source === 'vault' ? [VAULT_CREDENTIAL] : names;
      report(ok('agents file', `${stack.settings.AGENTS_FILE}: the admin and ${names.length - 1} agent(s)`));
      agents = {
        agentsFile: resolve(stack.projectDir, stack.settings.AGENTS_FILE!),
        projectDir: stack.projectDir,
        settings: stack.settings,
      };
    } catch (error) {
      // On a fresh clone the agents file is the example, placeholders and all: init is what fills it in.
      const example = error instanceof Error && error.message.includes(PLACEHOLDER);
      report(
        example
          ? fail(
              'agents file',
              `${stack.settings.AGENTS_FILE} still holds the example's placeholders`,
              'npm run init fills it in (or put the real values there: docs/agents-file.md)',
              ExitCode.config,
            )
          : failed('agents file', error),
      );
    }
    report(await releaseRoom(stack.dir, io.platform));
  } catch (error) {
    report(failed('compose file', error));
  }
  report(await tpm(context, docker));
  const needed = source === undefined ? [] : source === 'vault' ? [VAULT_CREDENTIAL] : [DEFAULT_NAME];
  report(await checked('sealed', () => sealed(context, needed, io, authFile, tries, source, used)));
  if (source && agents) report(await checked('agents', () => agentCredentials(context, source, agents, tries.vault)));
  const { backend, sealedNames } = await import('../backends/registry.js');
  const shared = (await sealedNames(context)).find((s) => s.name === DEFAULT_NAME);
  const unsealShared = async (): Promise<string> => {
    const store = backend(shared!.backend, context);
    if ((await store.describe(DEFAULT_NAME))?.auth && tries.refusedBy !== undefined)
      throw new StackError(
        'auth-not-retried',
        `not tried: the TPM refused the auth value for ${tries.refusedBy} (each refusal counts toward its lockout)`,
        { step: 'doctor', exitCode: ExitCode.noPerm },
      );
    const value = await store.unseal(DEFAULT_NAME, {
      askAuth: () => readAuth(io, authFile, false),
      leaveNoCache: true,
    });
    tries.values.push(value);
    return value;
  };
  report(await opCli(docker, parsed.online === true, shared ? unsealShared : undefined, source));
}

/** A check's findings, or its failure named after it when it throws (never after another check). */
async function checked(check: string, run: () => Promise<Finding | Finding[]>): Promise<Finding | Finding[]> {
  try {
    return await run();
  } catch (error) {
    return failed(check, error);
  }
}
