// `copilot-bridge-entrypoint verify`, the container's HEALTHCHECK. As the
// bridge's user, it learns the secret values from the rendered config (the
// template says where they are) and the bridge's GitHub token from the
// bridge's own environment, and looks for them in the environment and command
// line of every process it can read under /proc, in the bridge's log files
// and, for the GitHub token, in the config. The one declared exception: that
// token as COPILOT_GITHUB_TOKEN in the environment of the bridge's own
// process tree (upstream reads it from nowhere else). Findings go to stdout,
// one line each, naming the place and the secret's JSON path, never its
// value. Exit 0 clean, 1 leak found.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GITHUB_TOKEN_VARIABLE } from '../src/agents/render-template.js';
import { ExitCode, errnoCode, StackError } from '../src/errors.js';
import { SecretSet } from '../src/secrets/secret-set.js';
import { findReferences } from '../src/template/references.js';
import type { Log } from './log.js';
import type { Settings } from './settings.js';
import { bridgePidFile, readPid } from './steps/bridge-pid.js';
import { canOpen, dropPrivileges } from './steps/drop-privileges.js';
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
  const tree = bridge === undefined ? new Set<number>() : processTree(bridge);
  const githubToken =
    bridge === undefined ? undefined : environValue(readable(`/proc/${bridge}/environ`), GITHUB_TOKEN_VARIABLE);
  const declared = githubToken === undefined ? '' : `${GITHUB_TOKEN_VARIABLE}=${githubToken}\0`;
  const secrets = new SecretSet([
    ...renderedSecrets(settings, configFile),
    ...(githubToken === undefined ? [] : [{ label: `the bridge's ${GITHUB_TOKEN_VARIABLE}`, value: githubToken }]),
  ]);
  log.guard(secrets);
  const findings: string[] = [];
  if (identity.dropped && canOpen(settings.tokenFile))
    findings.push(`leak: the token file ${settings.tokenFile} is readable by uid ${identity.uid}`);
  let processes = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid)) {
    const raw = readable(`/proc/${pid}/environ`);
    const cmdline = readable(`/proc/${pid}/cmdline`);
    if (raw === undefined) continue;
    processes++;
    // The declared exception, and nothing more: the exact variable, in the bridge's own process tree.
    const environ = tree.has(Number(pid)) && declared ? `\0${raw}`.replace(`\0${declared}`, '\0').slice(1) : raw;
    const name = (readable(`/proc/${pid}/comm`) ?? '?').trim();
    for (const [what, text] of [
      ['environment', environ],
      ['command line', cmdline ?? ''],
    ] as const) {
      for (const hit of secrets.findAll(text))
        findings.push(`leak: the ${what} of process ${pid} (${name}) holds ${hit.label} (${hit.encoding})`);
    }
  }
  if (githubToken !== undefined) {
    for (const hit of new SecretSet([{ label: `the bridge's ${GITHUB_TOKEN_VARIABLE}`, value: githubToken }]).findAll(
      readable(configFile) ?? '',
    )) {
      findings.push(`leak: ${configFile} holds ${hit.label} (${hit.encoding})`);
    }
  }
  const logDir = join(identity.home ?? env.HOME ?? '/nonexistent', '.copilot-bridge');
  const logs = listLogs(logDir);
  for (const file of logs) {
    for (const hit of secrets.findAll(readable(file) ?? '')) {
      findings.push(
        `leak: ${file} holds ${hit.label} (${hit.encoding}); if this value is not a secret, do not take it from 1Password (put it in the agents file)`,
      );
    }
  }
  findings.forEach(out);
  log.info(
    STEP,
    `${findings.length === 0 ? 'clean' : `${findings.length} leak(s) found`}: ${secrets.needles.length > 0 ? 'checked' : 'no maskable secret to check in'} ${processes} process(es) and ${logs.length} log file(s)`,
  );
  return findings.length === 0 ? ExitCode.ok : ExitCode.leak;
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

function readable(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function listLogs(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((name) => /\.log(\.\d+)?$/.test(name))
      .map((name) => join(dir, name));
  } catch {
    return [];
  }
}

/** A process and every process below it, by parent pid. */
function processTree(root: number): Set<number> {
  const parents = new Map<number, number>();
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    const stat = readable(`/proc/${pid}/stat`);
    // The parent is the 2nd field after the command name in parentheses (which may hold spaces).
    const ppid = stat === undefined ? NaN : Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (Number.isInteger(ppid)) parents.set(Number(pid), ppid);
  }
  const tree = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parents) if (!tree.has(pid) && tree.has(ppid)) grew = tree.add(pid).size > 0;
  }
  return tree;
}

/** One variable's value in an environ file's text (NUL-separated NAME=value), if set. */
function environValue(environ: string | undefined, name: string): string | undefined {
  return environ
    ?.split('\0')
    .find((entry) => entry.startsWith(`${name}=`))
    ?.slice(name.length + 1);
}
