// `copilot-bridge-entrypoint verify`, the leak check run on demand (and the
// HEALTHCHECK of a bridge run in exec mode; a supervised bridge's supervisor
// runs the same scan itself, see health/watch.ts). As the bridge's user, it
// learns the secret values from the rendered config (the template says where
// they are) and the bridge's GitHub token from the bridge's own environment,
// then runs the leak scan (health/leak-scan.ts). Findings go to stdout, one
// line each, naming the place and the secret's JSON path, never its value.
// Exit 0 clean, 1 leak found.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GITHUB_TOKEN_VARIABLE } from '../src/agents/render-template.js';
import { ExitCode, errnoCode, StackError } from '../src/errors.js';
import { SecretSet } from '../src/secrets/secret-set.js';
import { findReferences } from '../src/template/references.js';
import { readable, scanForLeaks, summary } from './health/leak-scan.js';
import type { Log } from './log.js';
import type { Settings } from './settings.js';
import { bridgePidFile, readPid } from './steps/bridge-pid.js';
import { dropPrivileges } from './steps/drop-privileges.js';
import { refuseLoaderVariables, refuseOpenInspector } from './steps/refuse-loader-variables.js';
import { alignValues } from './template/align.js';
import { placeReferences } from './template/json-paths.js';
import { templateSource } from './template-source.js';

const STEP = 'verify';

export function verify(settings: Settings, env: NodeJS.ProcessEnv, log: Log, out: (line: string) => void): number {
  // A healthcheck runs as the container's user, root in the stack: the same rule as the start, then straight to the
  // bridge's user.
  refuseLoaderVariables(env);
  refuseOpenInspector();
  const identity = dropPrivileges(settings.runAs, undefined, true);
  const configFile = env.COPILOT_BRIDGE_CONFIG || settings.output;
  const bridge = readPid(bridgePidFile(settings.output));
  const githubToken =
    bridge === undefined ? undefined : environValue(readable(`/proc/${bridge}/environ`), GITHUB_TOKEN_VARIABLE);
  const secrets = new SecretSet([
    ...renderedSecrets(settings, configFile),
    ...(githubToken === undefined ? [] : [{ label: `the bridge's ${GITHUB_TOKEN_VARIABLE}`, value: githubToken }]),
  ]);
  log.guard(secrets);
  const scan = scanForLeaks({
    secrets,
    githubToken,
    bridgePid: bridge,
    configFile,
    logDir: join(identity.home ?? env.HOME ?? '/nonexistent', '.copilot-bridge'),
    tokenFile: identity.dropped ? settings.tokenFile : undefined,
    uid: identity.uid,
  });
  scan.findings.forEach(out);
  log.info(STEP, summary(scan, secrets.needles.length > 0));
  return scan.findings.length === 0 ? ExitCode.ok : ExitCode.leak;
}

function renderedSecrets(settings: Settings, configFile: string) {
  const source = templateSource(settings, STEP);
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw new StackError(
        'verify-input',
        `cannot read the ${what} ${file} (${errnoCode(error) ?? 'error'}); verify runs inside a started container`,
        {
          step: STEP,
          exitCode: ExitCode.noInput,
          cause: error,
        },
      );
    }
  };
  const template = source.text;
  const references = findReferences(template);
  const values = alignValues(template, references, read(configFile, 'rendered config'));
  if (!values) {
    throw new StackError(
      'verify-mismatch',
      `${configFile} was not rendered from ${source.name}; restart the container to render it again`,
      { step: STEP, exitCode: ExitCode.dataErr },
    );
  }
  const places = placeReferences(template, references);
  return references.map((r, i) => ({ label: places[i]?.path ?? r.ref, value: values[i] ?? '' }));
}

/** One variable's value in an environ file's text (NUL-separated NAME=value), if set. */
function environValue(environ: string | undefined, name: string): string | undefined {
  return environ
    ?.split('\0')
    .find((entry) => entry.startsWith(`${name}=`))
    ?.slice(name.length + 1);
}
