// The entrypoint's default command, step by step. Reading this function is
// reading the security argument: each step fails closed with a one-line error
// and a documented exit status before the bridge is ever started.

import { join } from 'node:path';
import { GITHUB_TOKEN_VARIABLE } from '../src/agents/render-template.js';
import { redact } from '../src/redact/index.js';
import type { LabeledSecret } from '../src/secrets/secret-set.js';
import { SecretSet } from '../src/secrets/secret-set.js';
import { appendedOnly, scanForLeaks } from './health/leak-scan.js';
import { verdictFile } from './health/verdict.js';
import { watchHealth } from './health/watch.js';
import type { Log } from './log.js';
import type { Settings } from './settings.js';
import { bridgePidFile } from './steps/bridge-pid.js';
import { checkEnvironment } from './steps/check-environment.js';
import { checkOutputOnRam } from './steps/check-output.js';
import { disableCoreDumps } from './steps/disable-core-dumps.js';
import { dropPrivileges, type Identity } from './steps/drop-privileges.js';
import { canExec, launch, resolveLaunch } from './steps/launch.js';
import { proveNoLeak } from './steps/prove-no-leak.js';
import { readToken, readVaultSubset } from './steps/read-token.js';
import { refuseLoaderVariables, refuseOpenInspector } from './steps/refuse-loader-variables.js';
import { type Injector, opInjector, render, vaultInjector } from './steps/render.js';
import type { HealthWatch } from './steps/supervise.js';
import { waitForAll } from './steps/wait-for.js';
import { makeWorkingDirectories } from './steps/working-directories.js';
import { removeConfig, writeConfig } from './steps/write-config.js';
import { templateSource } from './template-source.js';

const TOKEN_LABEL = 'the service-account token';

export async function start(settings: Settings, env: NodeJS.ProcessEnv, log: Log): Promise<number> {
  // 0. As root, nothing in the environment may change what a root process loads (the launcher refused it before Node
  //    started), and no signal may open Node's inspector once the bridge's user could send one.
  refuseLoaderVariables(env);
  refuseOpenInspector();
  // 1. No core dump can ever hold a secret; prlimit, if needed, runs by its fixed path with a fixed PATH.
  disableCoreDumps();
  // 2. The credential comes from the secret file, and only from there: the service-account token, or (with the
  //    local vault) this container's part of the vault, every value of which is a secret from here on.
  const credential = readCredential(settings, env);
  const tokenOnly = new SecretSet(credential.secrets);
  log.guard(tokenOnly);
  // 3. None of it may already be in the environment, nor any 1Password credential.
  checkEnvironment(env, tokenOnly);
  // 4. The rendered config may only ever live in RAM.
  checkOutputOnRam(settings.output);
  // 5. Render with op inject (by its fixed path; an allow-listed environment, the token in it alone), or from the
  //    local vault in memory, and validate:
  //    the config from the template (filled with the bridge's entry of the agents file, when it has one), and
  //    beside it the bridge's GitHub token, which goes into the bridge's environment alone, never into a file.
  const source = templateSource(settings, 'render');
  const rendered = await render({
    source,
    output: settings.output,
    injector: credential.injector,
    mask: (text) => redact(tokenOnly, text),
  });
  const secrets = tokenOnly.with(rendered.secrets);
  log.guard(secrets);
  // What op said while it succeeded, printed only now that every line is screened for every value it rendered.
  for (const note of rendered.notes) log.warn('render', `${credential.injector.name} said: ${note}`);
  for (const short of secrets.short)
    log.warn(
      'render',
      `the secret at ${short.label} is shorter than 8 characters: it is too short to mask and leak checks skip it`,
    );
  // 6. Drop privileges for good; the token file is unreadable from here on. Nothing runs as root after this.
  const identity = dropPrivileges(settings.runAs, settings.tokenFile, settings.allowNoDrop);
  // 7. Write the config atomically, 0600, owned by the bridge's user; make its channels' working directories.
  writeConfig(settings.output, rendered.text);
  makeWorkingDirectories(rendered.text, identity.home, log);
  try {
    // 8. Prove that nothing the bridge gets, and nothing printed, holds a secret (its GitHub token only where
    // declared).
    const target = resolveLaunch(
      settings.command,
      { ...bridgeEnvironment(env, settings, identity), ...rendered.environment },
      identity.home,
    );
    proveNoLeak(secrets, target, log.transcript(), rendered.environment);
    // 9. Wait for Mattermost (and whatever else was named).
    await waitForAll(settings.waitFor, settings.waitTimeoutMs, log);
    // 10. Exec the bridge in its home, or supervise it; its pid is written beside the config (verify reads it). A
    //     supervisor scans for leaks itself and renews the verdict that the HEALTHCHECK reads.
    return await launch(
      target,
      canExec(settings.supervise) ? 'exec' : 'supervise',
      secrets,
      log,
      bridgePidFile(settings.output),
      healthWatch(settings, identity, env, secrets, rendered.environment, log),
    );
  } finally {
    // Reached only when the bridge was not exec'd: it failed to start, or it ran supervised and ended.
    removeConfig(settings.output);
    removeConfig(bridgePidFile(settings.output));
    removeConfig(verdictFile(settings.output));
  }
}

/** The credential of the configured source, what resolves references with it, and its values as secrets. */
function readCredential(settings: Settings, env: NodeJS.ProcessEnv): { secrets: LabeledSecret[]; injector: Injector } {
  if (settings.source === 'vault') {
    const items = readVaultSubset(settings.tokenFile);
    return {
      secrets: [...items].map(([key, value]) => ({ label: `the local vault's ${key}`, value })),
      injector: vaultInjector(items, env),
    };
  }
  const token = readToken(settings.tokenFile);
  return {
    secrets: [{ label: TOKEN_LABEL, value: token }],
    injector: opInjector(token, env, settings.output, settings.opTimeoutMs),
  };
}

/** The bridge's environment: the container's, minus the token file's name, plus its config and user. */
function bridgeEnvironment(env: NodeJS.ProcessEnv, settings: Settings, identity: Identity): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && name !== 'OP_SERVICE_ACCOUNT_TOKEN_FILE') out[name] = value;
  }
  out.COPILOT_BRIDGE_CONFIG = settings.output;
  if (identity.home) out.HOME = identity.home;
  if (identity.name) out.USER = out.LOGNAME = identity.name;
  return out;
}

/** The supervisor's leak scan: the same as `verify`'s, with the secrets this process already holds. */
function healthWatch(
  settings: Settings,
  identity: Identity,
  env: NodeJS.ProcessEnv,
  secrets: SecretSet,
  environment: Record<string, string>,
  log: Log,
): HealthWatch {
  const logDir = join(identity.home ?? env.HOME ?? '/nonexistent', '.copilot-bridge');
  return (bridgePid) => {
    const searchLog = appendedOnly(secrets);
    return watchHealth({
      scan: () =>
        scanForLeaks({
          secrets,
          githubToken: environment[GITHUB_TOKEN_VARIABLE],
          bridgePid,
          configFile: settings.output,
          logDir,
          tokenFile: identity.dropped ? settings.tokenFile : undefined,
          uid: identity.uid,
          searchLog,
        }),
      checked: secrets.needles.length > 0,
      file: verdictFile(settings.output),
      logDir,
      intervalMs: settings.healthIntervalMs,
      log,
    });
  };
}
