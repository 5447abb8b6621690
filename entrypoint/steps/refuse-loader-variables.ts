// Step 0: as root, nothing in the environment may change what a root process
// loads. The launcher (entrypoint/launcher/launcher.c), the image's real
// ENTRYPOINT, refuses these before Node starts, which is the only time that
// stops NODE_OPTIONS and LD_PRELOAD; this is the same rule again for a start
// without it, and for what the entrypoint itself runs as root. The list is
// the launcher's (a test holds the two together).
import { ExitCode, StackError } from '../../src/errors.js';

const STEP = 'environment';

/** glibc's variables for privileged programs (sysdeps/generic/unsecvars.h), and Node's; `X*` is every name starting with X. */
export const LOADER_VARIABLES = [
  'LD_*',
  'MALLOC_*',
  'OPENSSL_*',
  'NODE_*',
  'GCONV_PATH',
  'GETCONF_DIR',
  'GLIBC_TUNABLES',
  'HOSTALIASES',
  'LOCALDOMAIN',
  'LOCPATH',
  'NIS_PATH',
  'NLSPATH',
  'RESOLV_HOST_CONF',
  'RES_OPTIONS',
  'TMPDIR',
  'TZDIR',
] as const;

/** Names a pattern above matches that load nothing (Node's image sets NODE_VERSION; the bridge may need the proxy's CA). */
export const LOADER_VARIABLE_EXCEPTIONS = ['NODE_ENV', 'NODE_VERSION', 'NODE_EXTRA_CA_CERTS'] as const;

export function isLoaderVariable(name: string): boolean {
  if ((LOADER_VARIABLE_EXCEPTIONS as readonly string[]).includes(name)) return false;
  return LOADER_VARIABLES.some((pattern) =>
    pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern,
  );
}

export function refuseLoaderVariables(env: NodeJS.ProcessEnv, uid = process.getuid!()): void {
  if (uid !== 0) return;
  const name = Object.keys(env).find(isLoaderVariable);
  if (name !== undefined) {
    throw new StackError(
      'env-loader',
      `${name} is set, and it changes what a root process loads; remove it from the container's environment`,
      {
        step: STEP,
        exitCode: ExitCode.noPerm,
      },
    );
  }
}

/**
 * As root, the entrypoint must run with --disable-sigusr1 (the launcher
 * passes it): otherwise SIGUSR1 opens Node's inspector, and after the drop
 * the bridge's user (the same uid) could send it and read the token from this
 * process's memory, which being non-dumpable does not protect. SIGUSR1 is
 * then an ordinary signal, whose default would end the process: it is
 * ignored instead.
 */
export function refuseOpenInspector(execArgv: readonly string[] = process.execArgv, uid = process.getuid!()): void {
  process.on('SIGUSR1', ignoreSignal);
  if (uid !== 0 || execArgv.includes('--disable-sigusr1')) return;
  throw new StackError(
    'inspector-signal',
    "Node was started without --disable-sigusr1, so after the drop the bridge's user could open its inspector and read the token; start the entrypoint through its launcher (the image's ENTRYPOINT), which passes it",
    {
      step: 'runtime',
      exitCode: ExitCode.noPerm,
    },
  );
}

function ignoreSignal(): void {
  // Nothing: SIGUSR1 means nothing to the entrypoint.
}
