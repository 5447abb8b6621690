// The local base image copilot-bridge-stack/base:bookworm-node24, standing in
// for node:24-bookworm-slim where no registry can be reached: debootstrap
// minbase bookworm (from the Debian mirror over plain HTTP) + tini +
// util-linux + the Node 24 binary (scripts/ensure-node24.sh) + npm + the
// host's proxy CA (see docker/build-base-image.sh for why only test images get
// it). Labelled with the SHA-256 of all its inputs; a run whose inputs hash
// the same reuses the image (about 25 s saved).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { withLock } from './lock.js';
import { CACHE_DIR, ROOT } from './paths.js';
import { dockerAttempt, run } from './run.js';

export const BASE_IMAGE = 'copilot-bridge-stack/base:bookworm-node24';
const NPM_VERSION = '11.21.2';
const HASH_LABEL = 'com.copilot-bridge-stack.base-hash';

/** The first plain-HTTP Debian mirror in the host's apt sources, else deb.debian.org. */
function debianMirror(): string {
  if (process.env.CBS_DEBIAN_MIRROR) return process.env.CBS_DEBIAN_MIRROR;
  const files = [
    '/etc/apt/sources.list',
    ...listDir('/etc/apt/sources.list.d').map((name) => join('/etc/apt/sources.list.d', name)),
  ];
  for (const file of files) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    for (const match of text.matchAll(/(?:^URIs:\s*|^deb\s+(?:\[[^\]]*\]\s+)?)(http:\/\/\S+)/gm)) {
      const uri = match[1]!;
      if (/\/debian\/?$/.test(uri)) return uri.replace(/\/$/, '');
    }
  }
  return 'http://deb.debian.org/debian';
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => /\.(list|sources)$/.test(name));
  } catch {
    return [];
  }
}

const sha256File = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

async function inputs() {
  const nodeBin =
    process.env.NODE24_BIN ||
    (await run('bash', [join(ROOT, 'scripts', 'ensure-node24.sh')], { timeoutMs: 300_000 })).trim().split('\n').pop()!;
  const npmTgz = join(CACHE_DIR, `npm-${NPM_VERSION}.tgz`);
  mkdirSync(CACHE_DIR, { recursive: true });
  // Under a lock: test files start together on a fresh machine, and one must not hash the other's half-written tarball.
  await withLock('npm-pack', 300_000, async () => {
    if (!existsSync(npmTgz))
      await run('npm', ['pack', '--silent', '--pack-destination', CACHE_DIR, `npm@${NPM_VERSION}`], {
        timeoutMs: 300_000,
      });
  });
  const caFile = process.env.NODE_EXTRA_CA_CERTS || process.env.SSL_CERT_FILE || '';
  const mirror = debianMirror();
  const scripts = ['build-base-image.sh', 'check-base-image.sh'].map((name) => join(ROOT, 'docker', name));
  const hash = createHash('sha256');
  for (const file of [...scripts, nodeBin, npmTgz, ...(caFile ? [caFile] : [])])
    hash.update(`${file.split('/').pop()}:${sha256File(file)}\n`);
  hash.update(`mirror:${mirror}\n`);
  return { nodeBin, npmTgz, caFile, mirror, script: scripts[0]!, hash: hash.digest('hex').slice(0, 32) };
}

const currentHash = async () =>
  (
    await dockerAttempt(['image', 'inspect', '--format', `{{index .Config.Labels "${HASH_LABEL}"}}`, BASE_IMAGE])
  ).stdout.trim();

/** Builds the base image unless one with the same input hash exists; returns its name. */
export async function ensureBaseImage(): Promise<string> {
  const wanted = await inputs();
  if ((await currentHash()) === wanted.hash) return BASE_IMAGE;
  return withLock('base-image', 600_000, async () => {
    if ((await currentHash()) === wanted.hash) return BASE_IMAGE;
    process.stderr.write(`e2e: building ${BASE_IMAGE} (debootstrap from ${wanted.mirror}; about 30 s)\n`);
    await run(
      'bash',
      [wanted.script, BASE_IMAGE, wanted.hash, wanted.nodeBin, wanted.npmTgz, wanted.mirror, wanted.caFile],
      { timeoutMs: 600_000 },
    );
    return BASE_IMAGE;
  });
}
