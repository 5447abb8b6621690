// What audit prints about a place the host named: a line that spells a value,
// whole or a run of twelve of its characters, cut by any separator or none,
// is withheld; a line that shares nothing with a value is printed as it is,
// with control characters (a terminal's escapes) shown escaped.
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { searchSet } from '../../host-seal/audit/values.js';
import { printable, Withhold } from '../../host-seal/audit/withhold.js';
import { fakeToken } from '../fixtures/host-seal/fake-token.js';

const token = fakeToken();
// Made here, at run time: no real-looking token in the repository.
const github = `ghp_${randomBytes(27).toString('base64url')}`;
const values = [
  { label: 'the sealed op-sa-token', value: token },
  { label: "the local vault's github-admin/token", value: github },
];
const screen = new Withhold(
  searchSet(values),
  values.map((v) => v.value),
);

t.test('a value in a place name, whole, in part, or cut by any separator: withheld', async (t) => {
  const lines = {
    whole: `finding: /tmp/${github} holds x`,
    'its first 200 characters': `finding: /tmp/${token.slice(0, 200)}.cache holds x`,
    'twelve characters of it': `finding: process 1 (${github.slice(4, 16)}) environment LEAK holds x`,
    'cut by #': `finding: /tmp/${github.slice(0, 20)}#/${github.slice(20)} holds x`,
    'cut by - and _ and +': `finding: /tmp/${github.slice(0, 9)}-${github.slice(9, 18)}_${github.slice(18, 27)}+x holds x`,
    'its base64 whole': `finding: /tmp/${Buffer.from(github).toString('base64')} holds x`,
  };
  for (const [what, line] of Object.entries(lines)) t.ok(screen.names(line), what);
});

t.test('a line that shares no run of twelve with a value: printed, control characters escaped', async (t) => {
  const line = `finding: container review_copilot-bridge_1 (writable layer) /home/bridge/.copilot/session-state/${github.slice(0, 11)}.json holds x`;
  t.notOk(screen.names(line), 'eleven characters of a value are not a value');
  t.equal(printable('finding: /tmp/\u001b[2Jclean\u0007.txt'), 'finding: /tmp/\\x1b[2Jclean\\x07.txt');
  t.equal(printable('finding: /tmp/café.txt'), 'finding: /tmp/café.txt', 'printable text as it is');
  t.equal(printable('finding: /tmp/a\u202etxt.exe'), 'finding: /tmp/a\\u202etxt.exe', 'a direction mark shown');
});
