// What the root phase runs, by absolute paths fixed at build time, never
// looked up on a PATH the container's environment could set, and the one PATH
// those programs get. The image puts them there (Dockerfile); the test build
// points op at the stand-in (scripts/build-test-entrypoint.sh, esbuild define).
export interface RootTools {
  /** The 1Password CLI. */
  op: string;
  /** util-linux prlimit, for RLIMIT_CORE when the container does not set it. */
  prlimit: string;
  /** The reaper the bridge runs under when the entrypoint is PID 1. */
  tini: string;
}

declare const CBS_ROOT_TOOLS: RootTools | undefined;

/** Where the image has them: op copied from the 1Password image, the others from Debian's packages. */
const IMAGE_TOOLS: RootTools = { op: '/usr/local/bin/op', prlimit: '/usr/bin/prlimit', tini: '/usr/bin/tini' };

export const ROOT_TOOLS: RootTools =
  typeof CBS_ROOT_TOOLS === 'object' && CBS_ROOT_TOOLS !== null ? CBS_ROOT_TOOLS : IMAGE_TOOLS;

/** The PATH of every program the root phase runs: system directories only root can write. */
export const ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
