// compose.yml and .env.example, without a Docker engine: every variable the
// compose file reads is documented in .env.example, Compose (v2, else v1)
// renders the file with those defaults, and it refuses to run without the
// released token file, with the message that says what to do.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { findCompose } from '../../host-seal/compose.js';
import { ROOT } from './harness/paths.js';
import { attempt, childEnv } from './harness/run.js';

const composeFile = readFileSync(join(ROOT, 'compose.yml'), 'utf8');
const envExample = readFileSync(join(ROOT, '.env.example'), 'utf8');

t.test('every variable of compose.yml is in .env.example', async (t) => {
  const used = new Set([...composeFile.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]!));
  const documented = new Set([...envExample.matchAll(/^#?\s*([A-Z0-9_]+)=/gm)].map((m) => m[1]!));
  t.ok(used.size >= 10, `compose.yml reads ${used.size} variables`);
  for (const name of used) t.ok(documented.has(name), `${name} is documented in .env.example`);
});

t.test('Compose renders it with the defaults of .env.example, and refuses to run without the released token', async (t) => {
  const tool = await findCompose(childEnv()).catch(() => undefined);
  if (!tool) {
    t.comment('skipped: no Docker Compose here (scripts/install-test-deps.sh installs docker-compose)');
    return;
  }
  // Only these two come from the caller; one of ours set in this shell must not leak in.
  const compose = (extra: Record<string, string>) =>
    attempt(tool.file, [...tool.prefix, '--env-file', join(ROOT, '.env.example'), '-f', join(ROOT, 'compose.yml'), 'config'], {
      env: { OP_SA_TOKEN_FILE: undefined, MM_DB_PASSWORD_FILE: undefined, ...extra },
      cwd: ROOT,
    });
  const rendered = await compose({ OP_SA_TOKEN_FILE: '/dev/null', MM_DB_PASSWORD_FILE: '/dev/null' });
  t.equal(rendered.exitCode, 0, `${tool.label} config succeeds (${rendered.stderr.split('\n')[0]})`);
  t.match(rendered.stdout, /read_only: true/, 'the bridge is read-only');
  t.match(rendered.stdout, /BRIDGE_SUPERVISE: "1"|BRIDGE_SUPERVISE: '1'/, 'and supervised');
  const withoutToken = await compose({ MM_DB_PASSWORD_FILE: '/dev/null' });
  t.not(withoutToken.exitCode, 0, 'without OP_SA_TOKEN_FILE it fails');
  t.match(withoutToken.stderr, /run npm run seal, then npm run up/, 'and says what to do');
});
