// Bad input at the command line: each gets one line that says what was wrong
// and what to do, a documented exit code, and never the token's value, even
// when the token itself was the bad input.
import t from 'tap';
import { fakeToken } from '../fixtures/host-seal/fake-token.js';
import { cli, sandbox } from '../support/host-seal/cli.js';
import { leaks } from '../support/host-seal/leaks.js';

const token = fakeToken();

t.test('the token is never accepted as an argument, and never repeated', async (t) => {
  const box = await sandbox(t);
  for (const args of [
    ['seal', token],
    ['seal', `--token=${token}`],
    ['seal', '--name', 'x', token.slice(4)],
    ['unseal', token],
    ['seal', `--${token}`],
    ['up', '--auth-file', token],
  ]) {
    const result = await cli(args, { env: box.env });
    t.equal(result.exitCode, 64, `${args[0]} with the token on argv: usage`);
    t.notOk(leaks(result.stdout + result.stderr, token), 'the token is not echoed');
    t.equal(result.stderr.trim().split('\n').length, 1, 'one line');
    t.match(
      result.stderr,
      /the token is never accepted as an argument: pipe it .* or type it at the hidden prompt; it may now be in your shell history/,
    );
  }
  const other = await cli(['seal', 'op-sa-token'], { env: box.env });
  t.match(
    other.stderr,
    /^copilot-bridge-seal: options: unexpected argument: this command takes --options only; see --help$/m,
    'other positional arguments are refused without being repeated',
  );
  const odd = await cli(['seal', '--Weird$Option'], { env: box.env });
  t.match(
    odd.stderr,
    /^copilot-bridge-seal: options: unknown option; see --help$/m,
    'an unknown option that is not a plain name is not repeated',
  );
});

t.test('malformed tokens on stdin: data error, the real cause named, value never shown', async (t) => {
  const box = await sandbox(t, { TPM2TOOLS_TCTI: 'swtpm:host=127.0.0.1,port=1' });
  const notJson = `ops_${Buffer.from('x'.repeat(200)).toString('base64url')}`;
  const cases: [string, string, RegExp][] = [
    [
      'empty (op read failed before the pipe)',
      '',
      /stdin was empty: did the command before the pipe \(op read \.\.\.\) fail\? Its own error is above/,
    ],
    [
      'a trailing space',
      `${token} `,
      /the token ends with whitespace \(a space, tab or a second line break\); remove it; expected a 1Password service-account token/,
    ],
    [
      'a leading space',
      ` ${token}`,
      /the token starts with whitespace \(a space, tab or line break\); remove it; expected/,
    ],
    [
      'two lines',
      `${token}\n${token}\n`,
      /the token has whitespace inside it \(a space or a line break: two lines, or a wrapped paste\); pass it on one line; expected/,
    ],
    [
      'wrong prefix',
      token.replace(/^ops_/, 'opx_'),
      /does not start with 'ops_'; expected a 1Password service-account token/,
    ],
    ['not JSON', notJson, /does not decode to JSON; expected a 1Password service-account token/],
  ];
  for (const [label, input, message] of cases) {
    const result = await cli(['seal'], { env: box.env, input });
    t.equal(result.exitCode, 65, `${label}: exit 65`);
    t.match(result.stderr, message, `${label}: says what is wrong`);
    t.equal(result.stderr.trim().split('\n').length, 1, `${label}: one line`);
    t.notOk(
      leaks(result.stdout + result.stderr, token) || leaks(result.stderr, notJson),
      `${label}: no token in the output`,
    );
  }
  const trailing = await cli(['seal', '--name', 'newline'], { env: box.env, input: `${token}\n` });
  t.equal(
    trailing.exitCode,
    69,
    'one trailing newline is accepted (the shape passes; the TPM is what is missing here)',
  );
});

t.test("unseal writes to a pipe only, and not after npm's banner", async (t) => {
  const box = await sandbox(t);
  const { spawnSync } = await import('node:child_process');
  const { closeSync, openSync } = await import('node:fs');
  const { MAIN } = await import('../support/host-seal/cli.js');
  const { mkdtemp, readFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(box.root, 'out-'));
  const file = join(dir, 'token.txt');
  const fd = openSync(file, 'w', 0o600); // the shell's `> token.txt`: the file itself is the CLI's stdout
  const toFile = spawnSync('node', [MAIN, 'unseal'], { env: box.env, stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
  closeSync(fd);
  t.equal(toFile.status, 77, 'stdout a file on disk: refused for safety');
  t.match(
    toFile.stderr,
    /refusing to write the token into a file \(it would sit on disk\); pipe it into the program that needs it: npx copilot-bridge-seal unseal \|/,
  );
  t.equal(await readFile(file, 'utf8'), '', 'nothing was written to it');
  const underNpm = await cli(['unseal'], { env: { ...box.env, npm_lifecycle_event: 'unseal' } });
  t.equal(underNpm.exitCode, 77, 'under npm run without --silent: refused');
  t.match(
    underNpm.stderr,
    /npm run prints its banner into the same pipe before the token; use npx copilot-bridge-seal unseal \(or npm run --silent unseal\)/,
  );
  const silent = await cli(['unseal'], {
    env: { ...box.env, npm_lifecycle_event: 'unseal', npm_config_loglevel: 'silent' },
  });
  t.equal(silent.exitCode, 66, 'with --silent it goes on (to "nothing sealed" here)');
  // The command the docs give for pipes, run for real: npx sets npm_lifecycle_event too, but prints no banner.
  const { execa } = await import('execa');
  const viaNpx = await execa('bash', ['-o', 'pipefail', '-c', 'npx --no copilot-bridge-seal unseal | od -An -c'], {
    env: box.env,
    extendEnv: false,
    cwd: join(import.meta.dirname, '..', '..'),
    reject: false,
  });
  t.equal(
    viaNpx.exitCode,
    66,
    `npx copilot-bridge-seal unseal | ... is not refused (it goes on to "nothing sealed" here: ${viaNpx.stderr.split('\n')[0]})`,
  );
  t.equal(viaNpx.stdout.trim(), '', 'and nothing reached the pipe');
});

t.test('options are checked before anything is read or sealed', async (t) => {
  const box = await sandbox(t);
  const cases: [string[], number, RegExp][] = [
    [['seal', '--name', '../etc/passwd'], 64, /credential name must be 1 to 63 characters of a-z, 0-9/],
    [['seal', '--name', 'Op'], 64, /credential name must be/],
    [['seal', '--backend', 'vault'], 64, /--backend takes auto, tpm2 or keychain/],
    [['seal', '--backend', 'tpm2', '--pcrs', '7,24'], 64, /--pcrs takes a comma-separated list of PCR indices 0 to 23/],
    [
      ['seal', '--backend', 'keychain', '--pcrs', '7'],
      64,
      /--pcrs, --auth and --auth-file apply to --backend tpm2 only/,
    ],
    [['seal', '--force=yes'], 64, /--force takes no value/],
    [['seal', '--name'], 64, /--name needs a value/],
    [['seal', '--name', 'a', '--name', 'b'], 64, /--name given twice/],
    [['status', '--name', 'x'], 64, /unknown option --name/],
    [['up', '--timeout', 'soon'], 64, /--timeout takes a whole number of seconds/],
    [['unseal', '--name', 'never-sealed'], 66, /nothing is sealed under never-sealed; seal it first/],
    [['forget', '--name', 'never-sealed'], 66, /nothing is sealed or released under never-sealed/],
    [['rm'], 64, /unknown command rm; one of seal, unseal, status, forget, up, down, compose/],
    [[], 64, /a command is needed/],
  ];
  for (const [args, code, message] of cases) {
    const result = await cli(args, { env: box.env, input: token });
    t.equal(result.exitCode, code, `${args.join(' ') || '(no arguments)'}: exit ${code}`);
    t.match(result.stderr, message);
    t.equal(result.stderr.trim().split('\n').length, 1, 'one line');
  }
  const help = await cli(['--help'], { env: box.env });
  t.equal(help.exitCode, 0);
  t.match(help.stdout, /usage: copilot-bridge-seal COMMAND/);
  // npm run status is the CLI's ps; its status is npm run seal:status: the help says which is which.
  t.match(help.stdout, /^ {2}ps .*\(npm run status\) each service and agent/m);
  t.match(help.stdout, /^ {2}status .*\(npm run seal:status\) lists sealed names/m);
  const status = await cli(['status'], { env: { ...box.env, SECRETS_SOURCE: '1password' } });
  t.equal(status.exitCode, 0, 'status with nothing sealed is not an error');
  t.match(status.stdout, /^secrets source: 1password /, 'it names the source first');
  t.match(status.stderr, /nothing sealed yet; seal a token/);
  const local = await cli(['status'], { env: box.env });
  t.match(local.stdout, /^secrets source: vault \(the local vault/, 'the local vault by default');
  t.match(local.stderr, /nothing sealed yet; npm run init fills the local vault/);
});
