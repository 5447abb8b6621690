// The local vault on the host, against a real (software) TPM: set from a pipe,
// ls (names only), rm, import of references, and every refusal with its exit
// code and one line: a value on argv, an empty stdin, a bad name, an unknown
// item, malformed JSON, two references that disagree, a vault file tampered
// or renamed, `seal --name vault`. No value appears in any output, and the
// sealed file holds none in plaintext. Then least privilege: the part of the
// vault each bridge gets holds its own keys and no one else's.

import { randomBytes } from 'node:crypto';
import { copyFile, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { fakeToken } from '../fixtures/host-seal/fake-token.js';
import { type CliResult, cli, sandbox } from '../support/host-seal/cli.js';
import { leaks } from '../support/host-seal/leaks.js';
import { startSwtpm } from '../support/host-seal/swtpm.js';

const { planSubsets } = (await import(
  new URL('../../dist/host-seal/stack/vault-release.js', import.meta.url).href
)) as typeof import('../../host-seal/stack/vault-release.js');
const { parseVault } = (await import(
  new URL('../../dist/src/vault/document.js', import.meta.url).href
)) as typeof import('../../src/vault/document.js');

const ROOT = join(import.meta.dirname, '..', '..');
const secret = (label: string) => `${label}-${randomBytes(18).toString('base64url')}`;

async function setup(t: Test) {
  const box = await sandbox(t);
  const tpm = await startSwtpm(box.root);
  t.teardown(() => tpm.stop());
  return { box, env: { ...box.env, TPM2TOOLS_TCTI: tpm.tcti } };
}

function quiet(t: Test, run: CliResult, values: string[], label: string) {
  for (const value of values) t.notOk(leaks(run.stdout + run.stderr, value), `${label}: no value in the output`);
}

t.test('set, ls, rm and import: names only ever shown; the sealed file holds no value', async (t) => {
  const { box, env } = await setup(t);
  const bot = secret('mm-admin');
  const awkward = `pa"ss\\word\n\u00fc\u00f1\u00ee-${randomBytes(9).toString('hex')}`;
  const set = await cli(['vault', 'set', 'mattermost-admin-bot/token'], { env, input: `${bot}\n` });
  t.equal(set.exitCode, 0, `set succeeds (${set.stderr.trim()})`);
  t.match(set.stderr, /vault: stored mattermost-admin-bot\/token/);
  const again = await cli(['vault', 'set', 'mattermost-admin-bot/token'], { env, input: bot });
  t.match(again.stderr, /vault: replaced mattermost-admin-bot\/token/, 'a second set replaces');
  const imported = await cli(['vault', 'import'], {
    env,
    input: JSON.stringify({
      'op://copilot-bridge/github-admin/token': secret('gh'),
      'awkward/value': awkward,
      'op://other/mattermost-admin-bot/token': bot,
    }),
  });
  t.equal(imported.exitCode, 0, `import succeeds (${imported.stderr.trim()})`);
  t.match(
    imported.stderr,
    /imported 3 item\(s\) \(2 new, 1 replaced\)/,
    'the vault part of a reference is not part of the name',
  );
  const ls = await cli(['vault', 'ls'], { env });
  t.equal(
    ls.stdout,
    'awkward/value\ngithub-admin/token\nmattermost-admin-bot/token',
    'ls prints the names, sorted, one per line',
  );
  const sealed = await readFile(join(box.configDir, 'vault.tpm2.json'), 'utf8');
  for (const value of [bot, awkward, 'awkward/value'])
    t.notOk(sealed.includes(value), 'the sealed file holds neither values nor names in plaintext');
  const rm = await cli(['vault', 'rm', 'awkward/value'], { env });
  t.equal(rm.exitCode, 0);
  t.equal(
    (await cli(['vault', 'ls'], { env })).stdout,
    'github-admin/token\nmattermost-admin-bot/token',
    'rm removed one',
  );
  const status = await cli(['status'], { env });
  t.match(status.stdout, /^vault\s+tpm2\s/m, 'status lists the vault as one sealed credential');
  for (const run of [set, again, imported, ls, rm, status]) quiet(t, run, [bot, awkward], 'every command');
});

t.test('every bad input: one line, its exit code, no value in any output, the vault unchanged', async (t) => {
  const { box, env } = await setup(t);
  const kept = secret('kept');
  t.equal((await cli(['vault', 'set', 'kept/token'], { env, input: kept })).exitCode, 0);
  const before = await readFile(join(box.configDir, 'vault.tpm2.json'), 'utf8');
  const value = secret('typed');
  const cases: Array<[string, string[], string | undefined, number, RegExp]> = [
    ['a value on argv', ['vault', 'set', 'x/token', value], undefined, 64, /a value is never accepted as an argument/],
    [
      'KEY=VALUE on argv',
      ['vault', 'set', `x/token=${value}`],
      undefined,
      64,
      /a value is never accepted as an argument/,
    ],
    ['an empty stdin', ['vault', 'set', 'x/token'], '', 65, /stdin was empty: did the command before the pipe fail\?/],
    ['an empty value', ['vault', 'set', 'x/token'], '\n', 65, /the value for x\/token is empty/],
    [
      'a name that is not ITEM/FIELD',
      ['vault', 'set', 'token'],
      value,
      64,
      /the name given \(5 characters\) is not ITEM\/FIELD/,
    ],
    [
      'a secret typed where the name belongs',
      ['vault', 'set', value],
      undefined,
      64,
      /the name given \(\d+ characters\) is not ITEM\/FIELD.*treat it as exposed/,
    ],
    ['a name with a path trick', ['vault', 'set', '../x/token'], value, 64, /is not ITEM\/FIELD/],
    [
      'rm of an unknown item',
      ['vault', 'rm', 'nope/token'],
      undefined,
      66,
      /the local vault holds no nope\/token; npm run vault -- ls/,
    ],
    ['import of something that is not JSON', ['vault', 'import'], `{"a/b": "${value}"`, 65, /stdin is not JSON/],
    ['import of a list', ['vault', 'import'], `["${value}"]`, 65, /one object of references to values/],
    [
      'import of a reference with options',
      ['vault', 'import'],
      JSON.stringify({ 'op://v/item/otp?attribute=totp': value }),
      78,
      /not a reference the local vault can resolve/,
    ],
    ['import of a number', ['vault', 'import'], JSON.stringify({ 'a/b': 5 }), 65, /the value of a\/b is not a string/],
    [
      'import of two references that disagree',
      ['vault', 'import'],
      JSON.stringify({ 'op://one/x/token': value, 'op://two/x/token': `${value}-2` }),
      65,
      /two references name x\/token with different values/,
    ],
    ['no vault command', ['vault'], undefined, 64, /a vault command is needed/],
    ['an unknown vault command', ['vault', 'get', 'kept/token'], undefined, 64, /unknown or incomplete vault command/],
    ['seal --name vault', ['seal', '--name', 'vault'], fakeToken(), 64, /vault is the local vault's own name/],
  ];
  for (const [what, args, input, exit, message] of cases) {
    const run = await cli(args, { env, ...(input === undefined ? {} : { input }) });
    t.equal(run.exitCode, exit, `${what}: exit ${exit}`);
    t.match(run.stderr, message, `${what}: says what to do`);
    t.equal(run.stderr.trim().split('\n').length, 1, `${what}: one line`);
    quiet(t, run, [value, kept], what);
  }
  t.equal(await readFile(join(box.configDir, 'vault.tpm2.json'), 'utf8'), before, 'the sealed vault is unchanged');
});

t.test(
  'a vault that would not fit its sealed file is refused before anything changes, and stays readable',
  async (t) => {
    const { env } = await setup(t);
    const big = () => `${randomBytes(7_500).toString('hex')}`; // 15,000 characters
    const values = [big(), big(), big()];
    t.equal((await cli(['vault', 'set', 'a/one'], { env, input: values[0] })).exitCode, 0);
    t.equal((await cli(['vault', 'set', 'a/two'], { env, input: values[1] })).exitCode, 0);
    const third = await cli(['vault', 'set', 'a/three'], { env, input: values[2] });
    t.equal(third.exitCode, 73, `the third is refused (${third.stderr.trim()})`);
    t.match(third.stderr, /the local vault would be larger than 32768 bytes; remove what the stack does not use/);
    const ls = await cli(['vault', 'ls'], { env });
    t.equal(ls.stdout, 'a/one\na/two', 'the vault still unseals, with what it held');
    quiet(t, third, values, 'the refusal');
  },
);

t.test('a vault tampered with or renamed is refused, never read', async (t) => {
  const { box, env } = await setup(t);
  const value = secret('v');
  t.equal((await cli(['vault', 'set', 'a/token'], { env, input: value })).exitCode, 0);
  t.equal((await cli(['seal', '--name', 'agent-x'], { env, input: fakeToken() })).exitCode, 0);
  const file = join(box.configDir, 'vault.tpm2.json');
  const original = await readFile(file, 'utf8');
  // Another credential's blob under the vault's name: the name is bound into the seal.
  await copyFile(join(box.configDir, 'agent-x.tpm2.json'), file);
  const swapped = await cli(['vault', 'ls'], { env });
  t.not(swapped.exitCode, 0, `another credential's blob as the vault is refused (${swapped.stderr.trim()})`);
  t.equal(swapped.stdout, '', 'and nothing is listed');
  // The vault's blob renamed to another credential's name, and its name edited to match.
  await writeFile(file, original);
  const json = JSON.parse(original);
  await writeFile(join(box.configDir, 'agent-x.tpm2.json'), JSON.stringify({ ...json, name: 'agent-x' }));
  const renamed = await cli(['unseal', '--name', 'agent-x'], { env });
  t.not(renamed.exitCode, 0, `the vault under another name does not unseal (${renamed.stderr.trim()})`);
  quiet(t, renamed, [value], 'renamed');
  // A byte changed inside the sealed data.
  const data = Buffer.from(json.cipher.data, 'base64');
  data[0] = data[0]! ^ 1;
  const flipped = { ...json, cipher: { ...json.cipher, data: data.toString('base64') } };
  await writeFile(file, JSON.stringify(flipped));
  const tampered = await cli(['vault', 'ls'], { env });
  t.not(tampered.exitCode, 0, `a changed byte is refused (${tampered.stderr.trim()})`);
  quiet(t, tampered, [value], 'tampered');
  await rename(file, `${file}.moved`);
  const gone = await cli(['vault', 'ls'], { env });
  t.match(
    gone.stderr,
    /the local vault is empty/,
    'a vault file moved away: the vault reads as empty, not as something else',
  );
});

t.test("up's parts of the vault: each bridge gets its own keys, no one else's; a missing key is named", async (t) => {
  const items = new Map([
    ['mattermost-admin-bot/token', secret('admin-bot')],
    ['github-admin/token', secret('admin-gh')],
    ['mattermost-lal/token', secret('lal-bot')],
    ['github-lal/token', secret('lal-gh')],
    ['mattermost-data/token', secret('data-bot')],
    ['unrelated/token', secret('unrelated')],
  ]);
  const agentsFile = join(ROOT, 'test', 'fixtures', 'agents.json');
  const plan = planSubsets(items, agentsFile, ROOT, {});
  const byName = Object.fromEntries(
    plan.subsets.map((s) => [s.name, [...parseVault(s.document, s.name, 'test').keys()].sort()]),
  );
  t.same(
    byName,
    {
      'vault-admin': ['github-admin/token', 'mattermost-admin-bot/token'],
      'vault-agent-lal': ['github-lal/token', 'mattermost-lal/token'],
    },
    'the admin and lal get exactly their own two keys',
  );
  t.equal(plan.skipped.length, 1, 'data, whose GitHub token is missing, is left out');
  t.match(
    plan.skipped[0],
    /^data: the local vault holds no github-data\/token \(for op:\/\/copilot-bridge\/github-data\/token\); npm run vault -- set github-data\/token/,
  );
  for (const subset of plan.subsets) {
    const own = new Set(parseVault(subset.document, subset.name, 'test').values());
    for (const [key, value] of items)
      if (!byName[subset.name]!.includes(key))
        t.notOk(subset.document.includes(value) || own.has(value), `${subset.name} does not hold ${key}`);
  }
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const shared = join(mkdtempSync('/dev/shm/cbs-vault-shared-'), 'agents.json');
  const fixture = JSON.parse(await readFile(agentsFile, 'utf8'));
  fixture.agents[0].botTokenItem = 'op://elsewhere/mattermost-admin-bot';
  writeFileSync(shared, JSON.stringify(fixture));
  t.throws(
    () => planSubsets(items, shared, ROOT, {}),
    {
      code: 'agents-file',
      exitCode: 78,
      message:
        /admin\.botTokenItem and lal\.botTokenItem name the same item \(op:\/\/elsewhere\/mattermost-admin-bot\); give each bridge its own items/,
    },
    "an agent naming the admin's item (in any vault) is refused: it would receive the admin's token",
  );
  items.delete('github-admin/token');
  t.throws(
    () => planSubsets(items, agentsFile, ROOT, {}),
    {
      code: 'vault-missing',
      exitCode: 66,
      message: /the admin bridge cannot start: the local vault holds no github-admin\/token/,
    },
    'the admin without its keys stops up',
  );
});
