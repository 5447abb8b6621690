// `copilot-bridge-entrypoint verify`, the container's HEALTHCHECK. As the
// bridge's user, it learns the secret values from the rendered config (the
// template says where they are) and looks for them in the environment and
// command line of every process it can read under /proc, and in the bridge's
// log files. Findings go to stdout, one line each, naming the place and the
// secret's JSON path, never its value. Exit 0 clean, 1 leak found.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, StackError, errnoCode } from '../src/errors.js';
import { SecretSet } from '../src/secrets/secret-set.js';
import { alignValues } from '../src/template/align.js';
import { placeReferences } from '../src/template/json-paths.js';
import { findReferences } from '../src/template/references.js';
import type { Log } from './log.js';
import type { Settings } from './settings.js';
import { canOpen, dropPrivileges } from './steps/drop-privileges.js';
import { refuseLoaderVariables, refuseOpenInspector } from './steps/refuse-loader-variables.js';

const STEP = 'verify';

export function verify(settings: Settings, env: NodeJS.ProcessEnv, log: Log, out: (line: string) => void): number {
  // A healthcheck runs as the container's user, root in the stack: the same rule as the start, then straight to the bridge's user.
  refuseLoaderVariables(env);
  refuseOpenInspector();
  const identity = dropPrivileges(settings.runAs, undefined, true);
  const secrets = new SecretSet(renderedSecrets(settings, env.COPILOT_BRIDGE_CONFIG || settings.output));
  log.guard(secrets);
  const findings: string[] = [];
  if (identity.dropped && canOpen(settings.tokenFile)) findings.push(`leak: the token file ${settings.tokenFile} is readable by uid ${identity.uid}`);
  let processes = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid)) {
    const environ = readable(`/proc/${pid}/environ`);
    const cmdline = readable(`/proc/${pid}/cmdline`);
    if (environ === undefined) continue;
    processes++;
    const name = (readable(`/proc/${pid}/comm`) ?? '?').trim();
    for (const [what, text] of [['environment', environ], ['command line', cmdline ?? '']] as const) {
      for (const hit of secrets.findAll(text)) findings.push(`leak: the ${what} of process ${pid} (${name}) holds ${hit.label} (${hit.encoding})`);
    }
  }
  const logDir = join(identity.home ?? env.HOME ?? '/nonexistent', '.copilot-bridge');
  const logs = listLogs(logDir);
  for (const file of logs) {
    for (const hit of secrets.findAll(readable(file) ?? '')) findings.push(`leak: ${file} holds ${hit.label} (${hit.encoding})`);
  }
  findings.forEach(out);
  log.info(STEP, `${findings.length === 0 ? 'clean' : `${findings.length} leak(s) found`}: ${secrets.needles.length > 0 ? 'checked' : 'no maskable secret to check in'} ${processes} process(es) and ${logs.length} log file(s)`);
  return findings.length === 0 ? ExitCode.ok : ExitCode.leak;
}

function renderedSecrets(settings: Settings, configFile: string) {
  const templateFile = settings.templateText === undefined ? settings.template : 'BRIDGE_CONFIG_TEMPLATE_TEXT';
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw new StackError('verify-input', `cannot read the ${what} ${file} (${errnoCode(error) ?? 'error'}); verify runs inside a started container`, {
        step: STEP,
        exitCode: ExitCode.noInput,
        cause: error,
      });
    }
  };
  const template = settings.templateText ?? read(settings.template, 'template');
  const references = findReferences(template);
  const values = alignValues(template, references, read(configFile, 'rendered config'));
  if (!values) {
    throw new StackError('verify-mismatch', `${configFile} was not rendered from ${templateFile}; restart the container to render it again`, { step: STEP, exitCode: ExitCode.dataErr });
  }
  const places = placeReferences(template, references);
  return references.map((r, i) => ({ label: places[i]?.path ?? r.ref, value: values[i] ?? '' }));
}

function readable(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function listLogs(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => /\.log(\.\d+)?$/.test(name)).map((name) => join(dir, name));
  } catch {
    return [];
  }
}
