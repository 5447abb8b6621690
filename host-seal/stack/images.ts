// The images the stack takes from elsewhere: each service's image it does not
// build itself (PostgreSQL, Mattermost), and, while its own image is not
// built, that build's base images (the `*_IMAGE` build arguments). `doctor`
// names those this host lacks before anything runs; `up` names them again
// when a pull fails, with the setting that chooses each: on a host with no
// registry, Compose's own error is a DNS failure deep in its output.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { ExitCode, StackError } from '../../src/errors.js';

export interface Wanted {
  image: string;
  /** The .env setting that chooses it, read from the compose file (`${MM_IMAGE:-...}`), when it has one. */
  setting: string | undefined;
  /** What needs it: `service mattermost`, `the build of copilot-bridge-stack/copilot-bridge:local`. */
  by: string;
}

interface Service {
  image?: string;
  build?: { args?: Record<string, string | null> } | string;
}

type Run = (file: string, args: string[]) => Promise<{ failed: boolean; stdout: string; stderr: string }>;

const present = async (run: Run, image: string) =>
  !(await run('docker', ['image', 'inspect', '--format', '{{.Id}}', image])).failed;

/** The images of `model` (resolved) the stack takes from elsewhere that this host does not have. */
export async function missingImages(
  model: { services?: Record<string, Service> },
  composeFiles: string[],
  run: Run,
): Promise<Wanted[]> {
  const services = Object.entries(model.services ?? {});
  const raw = rawServices(composeFiles);
  const built = new Set(services.flatMap(([, d]) => (d.build && d.image ? [d.image] : [])));
  const wanted: Wanted[] = [];
  for (const [service, d] of services) {
    if (d.image && !d.build && !built.has(d.image))
      wanted.push({ image: d.image, setting: settingIn(raw[service]?.image), by: `service ${service}` });
    if (d.build && d.image && typeof d.build === 'object' && !(await present(run, d.image)))
      for (const [arg, value] of Object.entries(d.build.args ?? {}))
        if (/_IMAGE$/.test(arg) && value) wanted.push({ image: value, setting: arg, by: `the build of ${d.image}` });
  }
  const missing: Wanted[] = [];
  for (const w of wanted)
    if (!missing.some((m) => m.image === w.image) && !(await present(run, w.image))) missing.push(w);
  return missing;
}

/** `image (SETTING)`, as the fix names it. */
export const named = (w: Wanted) => (w.setting ? `${w.image} (${w.setting})` : w.image);

/** A compose command's failure, told as the pull it was when images it needed are still missing after it. */
export function pullFailed(still: Wanted[], error: unknown, step = 'up'): StackError {
  const settings = [...new Set(still.flatMap((w) => (w.setting ? [w.setting] : [])))];
  return new StackError(
    'image-pull',
    `${still.map(named).join(', ')} could not be pulled (no registry answered?); docker pull ${still.length > 1 ? 'them' : 'it'} where a registry answers, or set ${settings.length > 0 ? settings.join(', ') : 'the image settings'} in .env to images this host has (docs/first-run.md), then retry`,
    { step, exitCode: ExitCode.unavailable, cause: error },
  );
}

/** Each service's raw definition in the compose files (before interpolation), to find the setting behind an image. */
function rawServices(files: string[]): Record<string, { image?: unknown }> {
  const out: Record<string, { image?: unknown }> = {};
  for (const file of files) {
    try {
      const doc = parse(readFileSync(file, 'utf8')) as { services?: Record<string, { image?: unknown }> };
      for (const [name, d] of Object.entries(doc?.services ?? {}))
        if (d && 'image' in d) out[name] = { image: d.image };
    } catch {
      // The resolved model is what counts; a file that does not parse alone only loses the settings' names.
    }
  }
  return out;
}

const settingIn = (value: unknown) => (typeof value === 'string' ? /^\$\{(\w+)/.exec(value)?.[1] : undefined);

/** The compose files a stack reads: those named with -f, else the default one in its directory. */
export const composeFilesOf = (stack: { files: string[]; projectDir: string }): string[] => {
  const named = stack.files.filter((_, i) => stack.files[i - 1] === '-f').map((file) => resolve(file));
  return named.length > 0 ? named : [join(stack.projectDir, 'compose.yml')];
};
