// The entrypoint's render step from the local vault, side by side with the
// same step through `op inject` (the op stand-in, which renders as the real
// CLI does), on the same templates and the same values: awkward values
// (quotes, backslashes, newlines, non-ASCII), spaces inside the braces,
// unenclosed references, sections, `${VAR}` in a reference, a missing item.
// Each case must give identical output, or a refusal of the same kind for
// both. Values never appear in a refusal.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { fakeServiceAccountToken } from '../fixtures/tokens.js';
import { hostVault } from '../fixtures/vault.js';

type RenderModule = typeof import('../../entrypoint/steps/render.js');
const { render, vaultInjector } = (await import(
  new URL('../../dist/entrypoint/steps/render.js', import.meta.url).href
)) as RenderModule;
const { opInject } = (await import(
  new URL('../../dist/src/template/op-inject.js', import.meta.url).href
)) as typeof import('../../src/template/op-inject.js');

const OP_STANDIN = join(import.meta.dirname, '..', 'fixtures', 'op', 'op');
const rand = (n: number) => randomBytes(n).toString('base64url');

// One set of values, addressed as 1Password references (the stand-in's vault) and as local vault keys.
const values: Record<string, string> = {
  'mattermost-admin/token': `mm-admin-${rand(18)}`,
  'mattermost-lal/token': `mm-lal-${rand(18)}`,
  'webhook/secret': `s3cr\u00e9t-\u00fc\u00f1\u00ee\u00e7\u00f8d\u00e9-${rand(6)}`,
  'awkward/quote': `pa"ss-${rand(10)}`,
  'awkward/backslash': `back\\slash-${rand(10)}`,
  'awkward/multiline': `-----BEGIN KEY-----\n${rand(48)}\n-----END KEY-----`,
  'db/login/password': `pw-${rand(16)}`,
};
const local = new Map(Object.entries(values));
const token = fakeServiceAccountToken();
hostVault(t, token, Object.fromEntries(Object.entries(values).map(([key, value]) => [`op://stack/${key}`, value])));
const work = mkdtempSync('/dev/shm/cbs-local-render-');
t.teardown(() => rmSync(work, { recursive: true, force: true }));

const env = { BRIDGE_ITEM: 'mattermost-lal', PATH: process.env.PATH };
const opSide = {
  name: 'op inject',
  where: 'in 1Password and the service account may read their vault',
  inject: (template: string, variables: readonly string[]) =>
    opInject(
      template,
      variables,
      { token, env, timeoutMs: 20_000, workDir: work, op: OP_STANDIN, path: process.env.PATH! },
      'render',
    ),
};
const localSide = vaultInjector(local, env);

const outcome = async (injector: typeof opSide, text: string, output: string) => {
  try {
    const rendered = await render({
      source: { text, name: 'test.tpl', environment: {} },
      output: join(work, output),
      injector,
      mask: (s) => s,
    });
    return { text: rendered.text, secrets: rendered.secrets.map((s) => `${s.label}=${s.value}`) };
  } catch (error) {
    return {
      refused: (error as { exitCode?: number }).exitCode !== undefined,
      message: String((error as Error).message),
    };
  }
};

const cases: Array<[string, string, string]> = [
  ['a JSON config', '{ "token": "{{ op://stack/mattermost-admin/token }}", "plain": "x" }\n', 'config.json'],
  [
    'spaces inside the braces, or none',
    '{ "a": "{{op://stack/mattermost-admin/token}}", "b": "{{    op://stack/mattermost-lal/token   }}" }',
    'config.json',
  ],
  ['non-ASCII values', '{ "hook": "{{ op://stack/webhook/secret }}" }', 'config.json'],
  ['unenclosed references', 'TOKEN=op://stack/mattermost-admin/token\nHOOK=op://stack/webhook/secret\n', 'bridge.env'],
  ['a section', '{ "password": "{{ op://stack/db/login/password }}" }', 'config.json'],
  ['${VAR} inside a reference', '{ "bot": "{{ op://stack/${BRIDGE_ITEM}/token }}" }', 'config.json'],
  ['a value with a quote in a JSON string', '{ "q": "{{ op://stack/awkward/quote }}" }', 'config.json'],
  ['a value with a backslash in a JSON string', '{ "b": "{{ op://stack/awkward/backslash }}" }', 'config.json'],
  ['a multi-line value in a JSON string', '{ "key": "{{ op://stack/awkward/multiline }}" }', 'config.json'],
  [
    'awkward values in a text file',
    'Q={{ op://stack/awkward/quote }}\nB={{ op://stack/awkward/backslash }}\nK={{ op://stack/awkward/multiline }}\n',
    'values.txt',
  ],
  [
    'a literal {{ that is no reference',
    '{ "t": "{{ op://stack/mattermost-admin/token }}", "n": "a {{ b }} c" }',
    'config.json',
  ],
];

for (const [what, template, output] of cases) {
  t.test(what, async (t) => {
    const viaOp = await outcome(opSide, template, output);
    const viaVault = await outcome(localSide, template, output);
    t.same(viaVault, viaOp, 'identical output (or the same refusal) from both sources');
    if ('refused' in viaOp)
      for (const value of Object.values(values))
        t.notOk(
          String(viaOp.message).includes(value) || String(viaVault.message).includes(value),
          'no value in the refusal',
        );
  });
}

t.test('a missing item, or a ${VAR} that is unset: both refuse, naming the reference and never a value', async (t) => {
  for (const template of [
    '{ "x": "{{ op://stack/nope/token }}", "a": "{{ op://stack/mattermost-admin/token }}" }',
    '{ "x": "{{ op://stack/${UNSET_ITEM}/token }}" }',
  ]) {
    const viaOp = await outcome(opSide, template, 'config.json');
    const viaVault = await outcome(localSide, template, 'config.json');
    t.ok('refused' in viaOp && viaOp.refused, `op refuses (${viaOp.message})`);
    t.ok('refused' in viaVault && viaVault.refused, `the local vault refuses (${viaVault.message})`);
    const ref = template.includes('nope') ? 'op://stack/nope/token' : 'op://stack/${UNSET_ITEM}/token';
    t.match(viaOp.message, ref, 'op names the reference');
    t.match(viaVault.message, ref, 'the local vault names the reference');
    for (const value of Object.values(values))
      t.notOk(
        String(viaOp.message).includes(value) || String(viaVault.message).includes(value),
        'no value in either refusal',
      );
  }
});

t.test(
  'the local renderer resolves only what the container was given: no 1Password, no file, no other key',
  async (t) => {
    const only = vaultInjector(new Map([['mattermost-lal/token', values['mattermost-lal/token']!]]), env);
    const result = await outcome(only, '{ "a": "{{ op://stack/mattermost-admin/token }}" }', 'config.json');
    t.match(result, {
      refused: true,
      message: /the local vault given to this container holds no mattermost-admin\/token/,
    });
    t.notOk(String((result as { message: string }).message).includes(values['mattermost-admin/token']!));
  },
);
