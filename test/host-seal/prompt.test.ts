// The hidden prompt through a real pseudo-terminal (node-pty): the token typed
// or pasted is not echoed, Ctrl-C leaves nothing sealed and the terminal
// echoing again, an auth value is asked twice, and unseal refuses a terminal.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type IPty, spawn } from 'node-pty';
import t, { type Test } from 'tap';
import { fakeToken } from '../fixtures/host-seal/fake-token.js';
import { cli, MAIN, sandbox } from '../support/host-seal/cli.js';
import { leaks } from '../support/host-seal/leaks.js';
import { startSwtpm } from '../support/host-seal/swtpm.js';

const token = fakeToken();

interface Terminal {
  pty: IPty;
  output: () => string;
  waitFor: (pattern: RegExp) => Promise<void>;
  exit: Promise<number>;
}

/** Runs `bash -c script` on a new pseudo-terminal, as a person at a terminal would. */
function terminal(script: string, env: Record<string, string>): Terminal {
  const pty = spawn('bash', ['-c', script], { name: 'xterm', cols: 200, rows: 40, env });
  let text = '';
  pty.onData((data) => {
    text += data;
  });
  const exit = new Promise<number>((resolve) => pty.onExit(({ exitCode }) => resolve(exitCode)));
  const waitFor = async (pattern: RegExp) => {
    for (let i = 0; i < 1500 && !pattern.test(text); i += 1) await sleep(10);
    if (!pattern.test(text)) throw new Error(`terminal never showed ${pattern}`);
  };
  return { pty, output: () => text, waitFor, exit };
}

async function setup(t: Test) {
  const box = await sandbox(t);
  const tpm = await startSwtpm(box.root);
  t.teardown(() => tpm.stop());
  return { box, env: { ...box.env, TPM2TOOLS_TCTI: tpm.tcti, TERM: 'xterm' } };
}

t.test('seal on a terminal: the pasted token is not echoed', async (t) => {
  const { env } = await setup(t);
  const term = terminal(`node ${MAIN} seal`, env);
  await term.waitFor(/token for op-sa-token \(input hidden\): /);
  term.pty.write(`${token}\r`);
  t.equal(await term.exit, 0, 'sealed');
  t.notOk(leaks(term.output(), token), 'the token never appeared on the terminal');
  t.match(term.output(), `(read ${token.length} characters)`);
  t.match(term.output(), 'sealed op-sa-token with tpm2');
  t.equal((await cli(['unseal'], { env })).stdout, token, 'what was typed is what was sealed');
});

t.test('Ctrl-C at the prompt: nothing sealed, the terminal echoes again', async (t) => {
  const { box, env } = await setup(t);
  const term = terminal(`node ${MAIN} seal; echo "status=$?"; stty -a`, env);
  await term.waitFor(/input hidden\): /);
  term.pty.write(token.slice(0, 400));
  await sleep(100);
  term.pty.write('\u0003');
  await term.waitFor(/status=\d+/);
  await term.exit;
  t.match(term.output(), /status=130/, 'exit status 130, as for SIGINT');
  t.match(term.output(), 'interrupted; nothing was sealed or changed');
  t.notOk(term.output().includes(token.slice(100, 140)), 'the partial token was not echoed');
  t.match(term.output(), /(^|\s)echo(\s|$)/m, 'echo is on again');
  t.match(term.output(), /(^|\s)icanon(\s|$)/m, 'canonical mode is on again');
  t.same(await readdir(box.configDir).catch(() => []), [], 'nothing sealed, no file written');
  t.equal((await cli(['unseal'], { env })).exitCode, 66);
});

t.test('an auth value asked twice on the terminal, then asked at unseal', async (t) => {
  const { box, env } = await setup(t);
  const seal = terminal(`node ${MAIN} seal --auth`, env);
  await seal.waitFor(/token for op-sa-token \(input hidden\): /);
  seal.pty.write(`${token}\r`);
  await seal.waitFor(/TPM auth value \(input hidden\): /);
  seal.pty.write('pin 4711\r');
  await seal.waitFor(/Again: /);
  seal.pty.write('pin 4711\r');
  t.equal(await seal.exit, 0, 'sealed with an auth value');
  t.notOk(seal.output().includes('pin 4711'), 'the auth value was not echoed');

  const out = join(box.root, 'unsealed');
  // Into a pipe (a file on disk is refused): `cat` writes what it reads to the file, so its size can be counted.
  const unseal = terminal(`node ${MAIN} unseal | cat > ${out}; echo "status=$?"; wc -c < ${out}`, env);
  await unseal.waitFor(/TPM auth value \(input hidden\): /);
  unseal.pty.write('pin 4711\r');
  await unseal.waitFor(/status=0/);
  await unseal.exit;
  t.match(unseal.output(), new RegExp(`\\b${token.length}\\b`), 'the token went to the file, not the terminal');
  t.notOk(leaks(unseal.output(), token));
});

t.test('unseal refuses to print the token on a terminal', async (t) => {
  const { env } = await setup(t);
  t.equal((await cli(['seal'], { env, input: token })).exitCode, 0);
  const term = terminal(`node ${MAIN} unseal`, env);
  t.equal(await term.exit, 77, 'refused for safety');
  t.match(
    term.output(),
    /refusing to print the token on a terminal; pipe it instead: npx copilot-bridge-seal unseal \| docker secret create/,
  );
  t.notOk(leaks(term.output(), token), 'no token on the terminal');
});
