// Body equality (socket-guard/policy/same-body.ts), in-process: whether a
// hostile client's create body is the builder's body as the daemon would read
// it. Struct field names match in any case (Go's fold), map keys (labels,
// tmpfs paths, networks) only exactly; every other difference is reported as
// the first differing JSON path, never a value, with a client's key shown as
// at most 40 printable ASCII characters.
import t from 'tap';
import { firstDifference } from '../../socket-guard/policy/same-body.js';
import { parseStrictJson } from '../../socket-guard/policy/strict-json.js';

const MAPS = new Set(['Labels', 'HostConfig.Tmpfs', 'NetworkingConfig.EndpointsConfig']);
const SPEC = {
  Image: 'agent:1',
  Cmd: ['run', '--quiet'],
  Tty: false,
  Healthcheck: null,
  Labels: { 'cbs.agent': 'lal', 'cbs.project': 'cbs' },
  HostConfig: { Privileged: false, Tmpfs: { '/tmp': 'size=64m' }, Binds: [], PidsLimit: 256 },
  NetworkingConfig: { EndpointsConfig: { 'mattermost-net': { Aliases: ['lal'] } } },
};
const SPEC_TEXT = JSON.stringify(SPEC);

/** The first difference between the client's body (JSON text) and `expected`. */
const differs = (body: string, expected: unknown = SPEC) => firstDifference(parseStrictJson(body), expected, MAPS);
/** The spec's text with one piece replaced (the piece must occur exactly once). */
const edited = (from: string, to: string) => {
  if (SPEC_TEXT.split(from).length !== 2) throw new Error(`the test's edit: ${from} must occur once in the spec`);
  return SPEC_TEXT.replace(from, to);
};

t.test("the builder's body is the same; so is one whose field names differ only as Go folds them", async (t) => {
  t.equal(differs(SPEC_TEXT), undefined);
  t.equal(
    differs(
      '{"IMAGE":"agent:1","CMD":["run","--quiet"],"TTY":false,"HEALTHCHECK":null,' +
        '"LABELS":{"cbs.agent":"lal","cbs.project":"cbs"},' +
        '"HOSTCONFIG":{"PRIVILEGED":false,"TMPFS":{"/tmp":"size=64m"},"BINDS":[],"PIDSLIMIT":256},' +
        '"NETWORKINGCONFIG":{"ENDPOINTSCONFIG":{"mattermost-net":{"ALIASES":["lal"]}}}}',
    ),
    undefined,
    'every field name in upper case',
  );
  t.equal(
    differs(
      edited('"HostConfig":{"Privileged":false', '"hostconfig":{"pRIVILEGED":false')
        .replace('"Binds"', '"BIND\u017f"')
        .replace('"Aliases"', '"aliase\u017f"'),
    ),
    undefined,
    'long s',
  );
  t.equal(differs(edited('"Tty":false', '"tty":false')), undefined);
  t.equal(
    differs(JSON.stringify({ ...SPEC, Image: undefined, Tty: false, IMAGE: 'agent:1' })),
    undefined,
    'in another order',
  );
});

t.test('values: the first differing path is named, never the value', async (t) => {
  t.equal(differs(edited('"agent:1"', '"evil:1"')), '$.Image differs');
  t.equal(differs(edited('"Tty":false', '"Tty":0')), '$.Tty differs', 'false is not 0');
  t.equal(differs(edited('"PidsLimit":256', '"PidsLimit":"256"')), '$.HostConfig.PidsLimit differs');
  t.equal(differs(edited('"Healthcheck":null', '"Healthcheck":{}')), '$.Healthcheck differs', 'null is not an object');
  t.equal(differs(edited('"Healthcheck":null', '"Healthcheck":[]')), '$.Healthcheck differs');
  t.equal(differs(edited('"Healthcheck":null', '"Healthcheck":false')), '$.Healthcheck differs');
  t.equal(differs('{"a":null}', { a: null }), undefined, 'null is null');
  t.equal(differs('{"Image":"agent:1","Image2":1}', { Image: 'agent:1' }), '$.Image2 is not part of the spec');
});

t.test('lists: the same entries in the same order', async (t) => {
  t.equal(differs(edited('["run","--quiet"]', '"run --quiet"')), '$.Cmd is not a list');
  t.equal(differs(edited('["run","--quiet"]', '"rq"')), '$.Cmd is not a list', 'a string as long as the list');
  t.equal(differs(edited('["run","--quiet"]', '{"0":"run","1":"--quiet"}')), '$.Cmd is not a list');
  t.equal(differs(edited('["run","--quiet"]', '["run","--quiet","sh"]')), '$.Cmd has 3 entries, not 2');
  t.equal(differs(edited('["run","--quiet"]', '["run"]')), '$.Cmd has 1 entries, not 2');
  t.equal(differs(edited('["run","--quiet"]', '["run","--loud"]')), '$.Cmd[1] differs');
  t.equal(differs(edited('["run","--quiet"]', '["--quiet","run"]')), '$.Cmd[0] differs', 'the first that differs');
  t.equal(differs(edited('"Binds":[]', '"Binds":[null]')), '$.HostConfig.Binds has 1 entries, not 0');
  t.equal(
    differs(edited('["lal"]', '["lal",null]')),
    '$.NetworkingConfig.EndpointsConfig["mattermost-net"].Aliases has 2 entries, not 1',
  );
  t.equal(differs('[{"A":1},{"a":2}]', [{ a: 1 }, { a: 1 }]), '$[1].a differs', 'structs in a list fold their keys');
});

t.test('objects: each field once, none missing, none added', async (t) => {
  t.equal(
    differs(edited('{"Privileged":false,', '[{"Privileged":false,').replace('"PidsLimit":256}', '"PidsLimit":256}]')),
    '$.HostConfig is not an object',
  );
  t.equal(differs('{"HostConfig":"x"}', { HostConfig: {} }), '$.HostConfig is not an object');
  t.equal(differs('null', {}), '$ is not an object');
  t.equal(differs(edited('"Image":"agent:1",', '')), '$.Image is missing');
  t.equal(differs(edited('"Tty":false,', '')), '$.Tty is missing');
  t.equal(differs(edited('"Privileged":false,', '')), '$.HostConfig.Privileged is missing');
  t.equal(
    differs(edited('"Image":"agent:1"', '"Image":"agent:1","image":"agent:1"')),
    '$.Image is given twice (keys differing only in case)',
  );
  t.equal(
    differs(edited('"Binds":[]', '"Binds":[],"Bind\u017f":["/:/host"]')),
    '$.HostConfig.Binds is given twice (keys differing only in case)',
  );
  t.equal(
    differs(edited('"Tty":false', '"Tty":false,"Privileged":true')),
    '$.Privileged is not part of the spec',
    'a field at the wrong level',
  );
  t.equal(differs(edited('"Tty":false', '"Tty":false,"__proto__":{}')), '$.__proto__ is not part of the spec');
  t.equal(differs(edited('"Tty":false', '"Tty":false,"toString":{}')), '$.toString is not part of the spec');
  t.equal(
    differs(edited('"Tty":false', '"\uff34ty":false')),
    '$.?ty is not part of the spec',
    'a fullwidth T is not a T',
  );
});

t.test('map keys are data: compared exactly, never folded', async (t) => {
  t.equal(differs(edited('"cbs.agent"', '"CBS.AGENT"')), '$.Labels["CBS.AGENT"] is not part of the spec');
  t.equal(differs(edited('"/tmp"', '"/TMP"')), '$.HostConfig.Tmpfs["/TMP"] is not part of the spec');
  t.equal(differs(edited('"/tmp"', '"/tmp/"')), '$.HostConfig.Tmpfs["/tmp/"] is not part of the spec');
  t.equal(
    differs(edited('"mattermost-net"', '"Mattermost-Net"')),
    '$.NetworkingConfig.EndpointsConfig["Mattermost-Net"] is not part of the spec',
  );
  t.equal(differs(edited('"cbs.agent":"lal",', '')), '$.Labels["cbs.agent"] is missing');
  t.equal(differs(edited('"/tmp":"size=64m"', '')), '$.HostConfig.Tmpfs["/tmp"] is missing');
  t.equal(differs(edited('"size=64m"', '"size=64g"')), '$.HostConfig.Tmpfs["/tmp"] differs');
  t.equal(
    differs(edited('"cbs.project":"cbs"', '"cbs.project":"cbs","__proto__":"x"')),
    '$.Labels["__proto__"] is not part of the spec',
  );
  t.equal(
    differs(edited('"cbs.project":"cbs"', '"cbs.project":"cbs","hasOwnProperty":"x"')),
    '$.Labels["hasOwnProperty"] is not part of the spec',
  );
  // A map's values are structs again: their field names fold.
  t.equal(differs(edited('"Aliases"', '"ALIASES"')), undefined);
  t.equal(
    differs(edited('"Aliases":["lal"]', '"Aliases":["lal"],"aliases":["x"]')),
    '$.NetworkingConfig.EndpointsConfig["mattermost-net"].Aliases is given twice (keys differing only in case)',
  );
  t.equal(
    differs(edited('"Labels":{', '"Labels":[{').replace('"cbs.project":"cbs"}', '"cbs.project":"cbs"}]')),
    '$.Labels is not an object',
  );
});

t.test("a map inside a map's values is named by its schema path, with * for the outer map's key", async (t) => {
  const maps = new Set(['EndpointsConfig', 'EndpointsConfig.*.DriverOpts']);
  const expected = { EndpointsConfig: { net: { Aliases: ['a'], DriverOpts: { mtu: '1400' } } } };
  const differsIn = (body: string) => firstDifference(parseStrictJson(body), expected, maps);
  t.equal(differsIn('{"endpointsconfig":{"net":{"aliases":["a"],"driveropts":{"mtu":"1400"}}}}'), undefined);
  t.equal(
    differsIn('{"EndpointsConfig":{"net":{"Aliases":["a"],"DriverOpts":{"MTU":"1400"}}}}'),
    '$.EndpointsConfig["net"].DriverOpts["MTU"] is not part of the spec',
  );
});

t.test("a client's key in a message: at most 40 printable ASCII characters", async (t) => {
  const added = (key: string) => differs(edited('"Tty":false', `"Tty":false,${JSON.stringify(key)}:1`));
  const label = (key: string) =>
    differs(edited('"cbs.project":"cbs"', `"cbs.project":"cbs",${JSON.stringify(key)}:"x"`));
  t.equal(added('x'.repeat(40)), `$.${'x'.repeat(40)} is not part of the spec`, '40: whole');
  t.equal(added(`${'x'.repeat(40)}y`), `$.${'x'.repeat(40)}... is not part of the spec`, '41: cut');
  t.equal(added(`${'x'.repeat(40)}${'S3CRET'.repeat(20)}`), `$.${'x'.repeat(40)}... is not part of the spec`);
  t.equal(
    added('a\u0000b\nc\u007fd\u00e9e f~'),
    '$.a?b?c?d?e f~ is not part of the spec',
    'controls, DEL and non-ASCII as ?',
  );
  t.equal(added('\u{1f600}'), '$.?? is not part of the spec', 'an emoji is two UTF-16 units');
  t.equal(label(`${'L'.repeat(41)}`), `$.Labels[${JSON.stringify(`${'L'.repeat(40)}...`)}] is not part of the spec`);
  t.equal(label('a"b\u0000'), '$.Labels["a\\"b?"] is not part of the spec', 'quoted as JSON');
});
