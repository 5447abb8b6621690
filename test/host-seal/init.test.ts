// What `init` writes besides the agents file: AGENTS_FILE in `.env`, when it
// filled in a copy of the example. The rest of init runs against the
// Mattermost and op stand-ins in test/e2e/init.e2e.ts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { pointEnvAt } from '../../host-seal/commands/init.js';
import { stackSettings } from '../../src/stack/settings.js';

t.test('AGENTS_FILE in .env: made, appended, or replaced, and read back as Compose reads it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cbs-init-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  pointEnvAt(dir, './agents.json');
  t.equal(
    readFileSync(join(dir, '.env'), 'utf8'),
    '# The agents file npm run init filled in.\nAGENTS_FILE=./agents.json\n',
    'no .env: made with the one line',
  );
  writeFileSync(join(dir, '.env'), 'COMPOSE_PROJECT_NAME=mine\nMM_HTTP_PORT=9065');
  pointEnvAt(dir, './agents.json');
  t.equal(
    readFileSync(join(dir, '.env'), 'utf8'),
    'COMPOSE_PROJECT_NAME=mine\nMM_HTTP_PORT=9065\n# The agents file npm run init filled in.\nAGENTS_FILE=./agents.json\n',
    'appended, the other settings kept',
  );
  writeFileSync(join(dir, '.env'), 'A=1\n  AGENTS_FILE = ./agents.example.json\nB=2\n');
  pointEnvAt(dir, './agents.json');
  t.equal(
    readFileSync(join(dir, '.env'), 'utf8'),
    'A=1\nAGENTS_FILE=./agents.json\nB=2\n',
    'an existing line replaced in place',
  );
  t.equal(stackSettings({}, dir).AGENTS_FILE, './agents.json', 'and Compose (dotenv) reads it so');
});
