// The tpm2 backend over a TPM character device (TCTI device:PATH, as
// device:/dev/tpmrm0 on a real host), here a real software TPM behind a
// pseudo-terminal (support/host-seal/swtpm-chardev.ts). Seal and the first
// unseal after a reset run tpm2 tools; every later unseal must go over the
// CLI's own DeviceTransport with no tool at all, and must fail closed exactly
// as the tools would: a changed PCR and a wrong auth value refused (77), a
// device that is not there unavailable (69). No case may leave a TPM object or
// session loaded, nor show the token in any output.
import { copyFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import t, { type Test } from 'tap';
import { contextCacheDir, contextPath } from '../../host-seal/backends/tpm2/cache.js';
import { openTransport, TransportError } from '../../host-seal/backends/tpm2/transport.js';
import { fakeToken } from '../fixtures/host-seal/fake-token.js';
import { type CliResult, cli, MAIN, sandbox, scratchLeftBy } from '../support/host-seal/cli.js';
import { filesHolding, leaks } from '../support/host-seal/leaks.js';
import { type DeviceTpm, startSwtpmDevice } from '../support/host-seal/swtpm-chardev.js';
import { type ToolLog, toolLog } from '../support/host-seal/tool-log.js';

const token = fakeToken();
const AUTH = 'correct horse battery';
const LONG_WAY = ['tpm2_createprimary', 'tpm2_load', 'tpm2_flushcontext', 'tpm2_unseal', 'tpm2_flushcontext'];
t.comment(`CLI under test: ${MAIN}`);

/**
 * Asserts a run printed neither the token nor the auth value, and left no scratch directory.
 * `released`: an unseal that succeeded, whose stdout is the token (checked exactly by the caller).
 */
async function clean(t: Test, result: CliResult, label: string, released = false) {
  if (released) t.notOk(leaks(result.stderr, token), `${label}: no token on stderr`);
  else t.notOk(leaks(result.stdout, token) || leaks(result.stderr, token), `${label}: no token in stdout or stderr`);
  t.notOk(result.stdout.includes(AUTH) || result.stderr.includes(AUTH), `${label}: no auth value in output`);
  t.same(await scratchLeftBy(result.pid), [], `${label}: scratch directory removed`);
}

/** A sandbox, a TPM behind a pty, and the CLI's environment pointing at it with tpm2 tools logged. */
async function setup(
  t: Test,
): Promise<{ box: Awaited<ReturnType<typeof sandbox>>; tpm: DeviceTpm; log: ToolLog; env: Record<string, string> }> {
  const box = await sandbox(t);
  const tpm = await startSwtpmDevice(box.root);
  t.teardown(() => tpm.stop()); // runs before the sandbox's own teardown removes the TPM's state
  const log = toolLog(box.root, box.env.PATH ?? '/usr/bin:/bin');
  const env = { ...box.env, PATH: log.path, TPM2TOOLS_TCTI: tpm.tcti };
  return { box, tpm, log, env };
}

/** Asserts that no transient object and no loaded session is left in the TPM, asked over the same device. */
async function nothingLoaded(t: Test, tpm: DeviceTpm, label: string) {
  const env = { TPM2TOOLS_TCTI: tpm.tcti };
  t.equal(
    (await execa('tpm2_getcap', ['handles-transient'], { env })).stdout.trim(),
    '',
    `${label}: no transient object left loaded`,
  );
  t.equal(
    (await execa('tpm2_getcap', ['handles-loaded-session'], { env })).stdout.trim(),
    '',
    `${label}: no session left loaded`,
  );
}

t.test(
  'over the device: seal, the first unseal the long way with tools, the next ones with no tool at all',
  async (t) => {
    const { box, tpm, log, env } = await setup(t);
    t.match(tpm.path, /^\/dev\/pts\/\d+$/, `the TPM is the character device ${tpm.path}`);

    const sealed = await cli(['seal'], { env, input: token });
    t.equal(sealed.exitCode, 0, 'seal succeeds');
    t.match(sealed.stderr, 'sealed op-sa-token with tpm2');
    await clean(t, sealed, 'seal');
    await nothingLoaded(t, tpm, 'after seal');

    log.reset();
    const first = await cli(['unseal'], { env });
    t.equal(first.exitCode, 0, 'the first unseal succeeds...');
    t.equal(first.stdout, token, '...and returns the token exactly');
    t.same(log.tools(), LONG_WAY, 'it took the long way: primary re-created, sealed parts loaded, unsealed with tools');
    await clean(t, first, 'first unseal', true);
    const cacheDir = join(box.runtime, 'copilot-bridge-stack-tpm2');
    const entries = await readdir(cacheDir);
    t.equal(entries.length, 1, 'and kept the loaded context');

    for (const round of [1, 2]) {
      log.reset();
      const warm = await cli(['unseal'], { env });
      t.equal(warm.exitCode, 0, `warm unseal ${round} succeeds`);
      t.equal(warm.stdout, token, `warm unseal ${round} returns the token exactly`);
      t.same(log.tools(), [], `warm unseal ${round} ran no tpm2 tool: it spoke to ${tpm.path} itself`);
      t.equal(warm.stderr, '', `warm unseal ${round}: nothing on stderr`);
      await clean(t, warm, `warm unseal ${round}`, true);
    }
    await nothingLoaded(t, tpm, 'after the warm unseals');

    await tpm.restart();
    log.reset();
    const rebooted = await cli(['unseal'], { env });
    t.equal(rebooted.exitCode, 0, 'after a TPM reset the unseal succeeds...');
    t.equal(rebooted.stdout, token, '...and returns the token exactly');
    t.same(
      log.tools(),
      LONG_WAY,
      'the saved context no longer loads over the device, so it took the long way once (no tpm2_unseal on the stale context)',
    );
    await clean(t, rebooted, 'unseal after a reset', true);
    t.same(await readdir(cacheDir), entries, 'and renews the same cache entry');
    log.reset();
    t.equal((await cli(['unseal'], { env })).stdout, token, 'then the device path again');
    t.same(log.tools(), [], 'with no tool');
    await nothingLoaded(t, tpm, 'at the end');
    t.same(await filesHolding(box.runtime, token), [], 'no file in the runtime directory holds the token');
  },
);

t.test(
  'over the device: a PCR-bound seal unseals warm, then fails closed after a PCR 7 extend, with no tool run',
  async (t) => {
    const { box, tpm, log, env } = await setup(t);
    const sealed = await cli(['seal', '--name', 'p7', '--pcrs', '7'], { env, input: token });
    t.equal(sealed.exitCode, 0, 'seal --pcrs 7 succeeds');
    t.match(sealed.stderr, 'bound to PCRs sha256:7');
    await clean(t, sealed, 'seal --pcrs');
    await nothingLoaded(t, tpm, 'after seal --pcrs');

    log.reset();
    const first = await cli(['unseal', '--name', 'p7'], { env });
    t.equal(first.stdout, token, 'the first unseal returns the token');
    await clean(t, first, 'first PCR unseal', true);
    const tools = log.tools();
    t.ok(
      tools[0] === 'tpm2_createprimary' && tools.includes('tpm2_load') && tools.at(-2) === 'tpm2_unseal',
      `the long way (${tools.join(', ')})`,
    );
    t.same(tools, LONG_WAY, 'exactly the long way, with no 0x902 flush-and-retry');

    log.reset();
    const warm = await cli(['unseal', '--name', 'p7'], { env });
    t.equal(warm.exitCode, 0, 'the warm unseal succeeds');
    t.equal(warm.stdout, token, 'the warm unseal (policy session over the device) returns the token exactly');
    t.same(log.tools(), [], 'with no tpm2 tool');
    await nothingLoaded(t, tpm, 'after the warm PCR unseal');

    await tpm.pcrExtend(7);
    const before = await readFile(join(box.configDir, 'p7.tpm2.json'));
    log.reset();
    const refused = await cli(['unseal', '--name', 'p7'], { env });
    t.equal(refused.exitCode, 77, 'refused for safety');
    t.equal(refused.stdout, '', 'nothing on stdout');
    t.match(
      refused.stderr,
      /PCR values differ .* re-seal it: .*--name p7 --force --pcrs 7/,
      'says the PCRs changed and how to re-seal',
    );
    t.same(log.tools(), [], 'decided over the device: no tool ran, and no retry the long way');
    await clean(t, refused, 'PCR mismatch');
    t.same(await readFile(join(box.configDir, 'p7.tpm2.json')), before, 'the blob is untouched');
    await nothingLoaded(t, tpm, 'after the refusal (the policy session and the object flushed)');
  },
);

t.test(
  'over the device: an auth-protected seal unseals warm with the right value and is refused with a wrong one',
  async (t) => {
    const { box, tpm, log, env } = await setup(t);
    const right = join(box.root, 'auth');
    const wrong = join(box.root, 'wrong');
    await writeFile(right, `${AUTH}\n`, { mode: 0o600 });
    await writeFile(wrong, 'not the auth value', { mode: 0o600 });

    t.equal(
      (await cli(['seal', '--auth-file', right], { env, input: token })).exitCode,
      0,
      'seal --auth-file succeeds',
    );
    log.reset();
    const first = await cli(['unseal', '--auth-file', right], { env });
    t.equal(first.stdout, token, 'the first unseal with the right value returns the token');
    t.same(log.tools(), LONG_WAY, 'the long way');

    log.reset();
    const warm = await cli(['unseal', '--auth-file', right], { env });
    t.equal(warm.exitCode, 0, 'the warm unseal succeeds');
    t.equal(warm.stdout, token, 'the warm unseal with the right value returns the token exactly');
    t.same(log.tools(), [], 'with no tpm2 tool');
    await clean(t, warm, 'warm unseal with auth', true);

    log.reset();
    const refused = await cli(['unseal', '--auth-file', wrong], { env });
    t.equal(refused.exitCode, 77, 'a wrong value is refused');
    t.match(refused.stderr, /the TPM refused the auth value for op-sa-token/);
    t.equal(refused.stdout, '', 'nothing on stdout');
    t.same(log.tools(), [], 'decided over the device: no tool ran, and no retry the long way');
    await clean(t, refused, 'wrong auth');

    log.reset();
    t.equal(
      (await cli(['unseal', '--auth-file', right], { env })).stdout,
      token,
      'the right value still unseals afterwards',
    );
    t.same(log.tools(), [], 'with no tool');
    await nothingLoaded(t, tpm, 'after the auth cases');
  },
);

t.test(
  'a device path that does not exist, with a cached context present: unavailable, no tool, no token',
  async (t) => {
    const { box, log, env } = await setup(t);
    t.equal((await cli(['seal'], { env, input: token })).exitCode, 0, 'sealed over the real device');
    t.equal((await cli(['unseal'], { env })).stdout, token, 'an unseal over the real device caches the loaded context');
    const missing = 'device:/dev/nonexistent-tpm';
    const blob = JSON.parse(await readFile(join(box.configDir, 'op-sa-token.tpm2.json'), 'utf8')) as {
      sealed: { public: string; private: string };
    };
    const cacheDir = contextCacheDir(env);
    const [entry] = await readdir(cacheDir);
    // The cache is per TCTI: put the context where an unseal through the missing device looks for it.
    const planted = contextPath(cacheDir, 'op-sa-token', missing, blob.sealed);
    await copyFile(join(cacheDir, entry ?? ''), planted);
    t.equal((await stat(planted)).mode & 0o777, 0o600, `a cached context for ${missing} is present`);

    const gone = { ...env, TPM2TOOLS_TCTI: missing };
    log.reset();
    const warm = await cli(['unseal'], { env: gone });
    t.equal(warm.exitCode, 69, 'unavailable');
    t.equal(warm.stdout, '', 'nothing on stdout');
    t.match(warm.stderr, /cannot talk to the TPM through TCTI device:\/dev\/nonexistent-tpm/);
    t.same(log.tools(), [], 'a device that cannot be opened is not mistaken for a stale context');
    await clean(t, warm, 'missing device, cached context');

    const cold = await cli(['unseal', '--name', 'op-sa-token'], {
      env: { ...gone, XDG_RUNTIME_DIR: join(box.root, 'no-cache') },
    });
    t.equal(cold.exitCode, 69, 'without a cached context (the tools path): unavailable too');
    t.match(cold.stderr, /cannot talk to the TPM through TCTI device:\/dev\/nonexistent-tpm/);
    t.equal(cold.stdout, '');
    await clean(t, cold, 'missing device, no cache');
  },
);

t.test('a device that takes a command and never answers: the transport gives up with a timeout', async (t) => {
  // A raw pty with nothing on its master side: writes are taken, reads block for good. A kernel TPM
  // driver bounds every command with the chip's own timeouts, so this is worse than any real device.
  const holder = execa(
    'python3',
    [
      '-c',
      'import os, sys, tty\nm, s = os.openpty()\ntty.setraw(s)\nprint(os.ttyname(s), flush=True)\nsys.stdin.read()',
    ],
    { stdin: 'pipe', reject: false },
  );
  const path = await new Promise<string>((resolve) =>
    holder.stdout?.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())),
  );
  t.match(path, /^\/dev\/pts\/\d+$/, 'a silent pseudo-terminal');
  const started = Date.now();
  const transport = openTransport(`device:${path}`, 300);
  t.ok(transport, 'device:PATH has a transport');
  const error = await transport!
    .send(Buffer.from('80010000000c0000017b0008', 'hex'))
    .catch((caught: unknown) => caught);
  t.type(error, TransportError, 'the command fails with a TransportError');
  t.equal((error as TransportError).timedOut, true, 'marked as a timeout (reported as "the TPM did not answer")');
  t.ok(Date.now() - started < 5000, 'when the timeout expires');
  transport!.close();
  // The read left blocked ends when the pty goes: the holder closes it, and the read fails with EIO.
  holder.stdin?.end();
  await holder;
});
