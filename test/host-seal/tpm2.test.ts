// The tpm2 backend against a real (software) TPM: the round trip, a TPM
// restart, PCR binding failing closed, a wrong auth value, a missing TPM, a TPM
// that dies mid-operation and corrupted blob files. Every case checks the exit
// code, that the message says what to do, that no output and no argv or
// environment of any child holds the token, and that nothing is half-written.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import t, { type Test } from 'tap';
import { fnv1a64 } from '../../host-seal/backends/tpm2/cache.js';
import { CC, tpmsContextFromToolsFile } from '../../host-seal/backends/tpm2/wire.js';
import { fakeToken } from '../fixtures/host-seal/fake-token.js';
import { type CliResult, cli, MAIN, sandbox, scratchLeftBy, startCli } from '../support/host-seal/cli.js';
import { filesHolding, leaks, probes } from '../support/host-seal/leaks.js';
import { startSwtpm } from '../support/host-seal/swtpm.js';
import { toolLog } from '../support/host-seal/tool-log.js';
import { startTpmRelay } from '../support/host-seal/tpm-relay.js';
import { watchProcesses } from '../support/host-seal/watch-proc.js';

const token = fakeToken();
const AUTH = 'correct horse battery';
t.comment(`CLI under test: ${MAIN}`);

/** Asserts a run printed neither the token nor the auth value, and left no scratch directory. */
async function clean(t: Test, result: CliResult, label: string) {
  t.notOk(leaks(result.stdout, token) || leaks(result.stderr, token), `${label}: no token in stdout or stderr`);
  t.notOk(result.stderr.includes(AUTH) || result.stdout.includes(AUTH), `${label}: no auth value in output`);
  t.same(await scratchLeftBy(result.pid), [], `${label}: scratch directory removed`);
}

async function configFiles(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

async function setup(t: Test) {
  const box = await sandbox(t);
  const tpm = await startSwtpm(box.root);
  t.teardown(() => tpm.stop());
  const env = { ...box.env, TPM2TOOLS_TCTI: tpm.tcti };
  return { box, tpm, env };
}

/** Waits (busy, for precision) until `parent` runs a tpm2 tool as a direct child. */
function toolRunningUnder(parent: number): boolean {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    let children: string[] = [];
    try {
      children = readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').split(' ').filter(Boolean);
    } catch {
      return false;
    }
    for (const child of children) {
      try {
        if (readFileSync(`/proc/${child}/comm`, 'utf8').startsWith('tpm2_')) return true;
      } catch {
        // it ended between the two reads
      }
    }
  }
  return false;
}

t.test('seal, status, unseal and forget an 850-character token; no child sees it', async (t) => {
  const { box, env } = await setup(t);
  t.ok(token.length > 800 && token.length < 900, 'the fake token is about 850 characters');
  t.notOk(leaks(fakeToken(), token), 'the leak probes are specific to this token');
  const watch = watchProcesses([...probes(token), AUTH]);

  const sealed = await cli(['seal'], { env, input: `${token}\n` });
  t.equal(sealed.exitCode, 0, 'seal succeeds');
  const fingerprint = createHash('sha256').update(token).digest('hex').slice(0, 12);
  t.match(sealed.stderr, `sealed op-sa-token with tpm2 (fingerprint ${fingerprint})`);
  await clean(t, sealed, 'seal');

  const blobPath = join(box.configDir, 'op-sa-token.tpm2.json');
  t.equal((await stat(box.configDir)).mode & 0o777, 0o700, 'config directory is 0700');
  t.equal((await stat(blobPath)).mode & 0o777, 0o600, 'blob file is 0600');
  t.notOk(leaks(await readFile(blobPath), token), 'the blob holds no plaintext token');
  t.same(await configFiles(box.configDir), ['op-sa-token.tpm2.json'], 'one file, no temporary leftovers');

  const status = await cli(['status'], { env });
  t.equal(status.exitCode, 0);
  t.match(status.stdout, /^NAME\s+BACKEND\s+SEALED AT\s+PCRS\s+AUTH\s+FINGERPRINT\s+RELEASED$/m);
  t.match(
    status.stdout,
    new RegExp(`^op-sa-token\\s+tpm2\\s+\\d{4}-\\d\\d-\\d\\dT\\S+\\s+none\\s+no\\s+${fingerprint}\\s+no$`, 'm'),
  );
  await clean(t, status, 'status');

  const unsealed = await cli(['unseal'], { env });
  t.equal(unsealed.exitCode, 0, 'unseal succeeds');
  t.equal(unsealed.stdout, token, 'unseal returns the token exactly, without a newline');
  t.same(await scratchLeftBy(unsealed.pid), []);

  const again = await cli(['seal'], { env, input: token });
  t.equal(again.exitCode, 73, 'sealing over an existing token without --force is refused');
  t.match(again.stderr, /already sealed.*--force/);
  await clean(t, again, 'seal without --force');
  const forced = await cli(['seal', '--force'], { env, input: token });
  t.equal(forced.exitCode, 0, 'seal --force replaces it');

  const watched = await watch.stop();
  t.same(watched.hits, [], 'no argv or environment of any process held the token or the auth value');
  t.ok(
    watched.tools.length > 0,
    `the watcher saw tpm2 tools run (${watched.tools.join(', ')}; ${watched.scans} scans)`,
  );
  t.same(await filesHolding(box.root, token), [], 'no file under HOME or the config directory holds the token');
  t.same(await filesHolding(box.runtime, token), [], 'no file in the runtime directory holds the token');

  const forgot = await cli(['forget', '--name', 'op-sa-token'], { env });
  t.equal(forgot.exitCode, 0);
  t.match(forgot.stderr, 'forgot op-sa-token: removed the tpm2 seal');
  t.same(await configFiles(box.configDir), [], 'the blob file is gone');
  const gone = await cli(['unseal'], { env });
  t.equal(gone.exitCode, 66, 'unseal after forget: nothing sealed');
  t.match(gone.stderr, /nothing is sealed under op-sa-token; seal it first/);
  t.equal(
    (await cli(['forget', '--name', 'op-sa-token'], { env })).exitCode,
    66,
    'forgetting twice: nothing to forget',
  );
});

t.test('the seal survives a TPM restart (primary key re-derived, sealed parts reloaded)', async (t) => {
  const { tpm, env } = await setup(t);
  t.equal((await cli(['seal', '--name', 'agent-lal'], { env, input: token })).exitCode, 0);
  await tpm.restart();
  const unsealed = await cli(['unseal', '--name', 'agent-lal'], { env });
  t.equal(unsealed.exitCode, 0);
  t.equal(unsealed.stdout, token);
});

t.test('the cache entry digest is 64-bit FNV-1a (reference vectors)', async (t) => {
  t.equal(fnv1a64(''), 'cbf29ce484222325');
  t.equal(fnv1a64('a'), 'af63dc4c8601ec8c');
  t.equal(fnv1a64('foobar'), '85944171f73967e8');
});

t.test(
  'the next unseal sends the loaded context kept on tmpfs to the TPM directly, until the TPM resets; forget and re-seal drop it',
  async (t) => {
    const { box, tpm, env: base } = await setup(t);
    const relay = await startTpmRelay(tpm.port);
    t.teardown(() => relay.close());
    const log = toolLog(box.root, box.env.PATH ?? '/usr/bin:/bin');
    const env = { ...base, PATH: log.path, TPM2TOOLS_TCTI: relay.tcti };
    const tcti = { TPM2TOOLS_TCTI: tpm.tcti };
    const cacheDir = join(box.runtime, 'copilot-bridge-stack-tpm2');
    const longWay = ['tpm2_createprimary', 'tpm2_load', 'tpm2_flushcontext', 'tpm2_unseal', 'tpm2_flushcontext'];
    t.equal((await cli(['seal'], { env, input: token })).exitCode, 0);

    log.reset();
    const first = await cli(['unseal'], { env });
    t.equal(first.stdout, token, 'the first unseal after a seal...');
    t.same(log.tools(), longWay, '...re-creates the primary and loads the sealed parts with tpm2 tools');
    const entries = await readdir(cacheDir);
    t.equal(entries.length, 1, 'and keeps one context file');
    t.match(
      entries[0],
      /^op-sa-token\.[0-9a-f]{16}\.ctx$/,
      'named after the credential and a digest of TCTI and sealed parts',
    );
    const entry = join(cacheDir, entries[0] ?? '');
    t.equal((await stat(cacheDir)).mode & 0o777, 0o700, 'in a 0700 directory');
    t.equal((await stat(entry)).mode & 0o777, 0o600, 'mode 0600');
    t.notOk(leaks(await readFile(entry), token), 'the context file does not hold the token');

    log.reset();
    relay.reset();
    const second = await cli(['unseal'], { env });
    t.equal(second.exitCode, 0);
    t.equal(second.stdout, token, 'the next unseal gives the same token...');
    t.same(log.tools(), [], '...without running any tpm2 tool');
    t.same(
      relay.codes(),
      [CC.ContextLoad, CC.Unseal, CC.FlushContext],
      'three commands on the wire: ContextLoad, Unseal, FlushContext',
    );
    const saved = tpmsContextFromToolsFile(await readFile(entry));
    t.ok(saved && relay.exchanges[0]?.command.subarray(10).equals(saved), 'the context loaded is the cached one');
    t.equal(
      (await execa('tpm2_getcap', ['handles-transient'], { env: tcti })).stdout.trim(),
      '',
      'leaving no object loaded',
    );
    t.equal(second.stderr, '', 'and nothing on stderr');
    t.same(await scratchLeftBy(second.pid), [], 'no scratch directory');

    await tpm.restart();
    log.reset();
    relay.reset();
    const rebooted = await cli(['unseal'], { env });
    t.equal(
      rebooted.stdout,
      token,
      'after a TPM reset the saved context no longer loads, and the unseal takes the long way',
    );
    t.equal(
      relay.exchanges[0]?.response?.readUInt32BE(6) !== 0 && relay.codes()[0],
      CC.ContextLoad,
      'the TPM refused the stale context first',
    );
    t.same(log.tools(), longWay);
    t.same(await readdir(cacheDir), entries, 'the entry is renewed');

    await writeFile(entry, 'not a context');
    log.reset();
    const damaged = await cli(['unseal'], { env });
    t.equal(damaged.stdout, token, 'a damaged context file: the long way too');
    t.same(log.tools(), longWay);

    t.equal((await cli(['seal', '--force'], { env, input: token })).exitCode, 0);
    t.same(await readdir(cacheDir), [], 're-sealing drops the old context');
    t.equal((await cli(['unseal'], { env })).stdout, token);
    const renewed = await readdir(cacheDir);
    t.equal(renewed.length, 1);
    t.not(renewed[0], entries[0], 'the new seal has a new entry');

    t.equal((await cli(['forget', '--name', 'op-sa-token'], { env })).exitCode, 0);
    t.same(await readdir(cacheDir), [], 'forget removes the cached context');
    t.same(await filesHolding(box.runtime, token), [], 'no file in the runtime directory ever held the token');
  },
);

t.test('a PCR-bound seal fails closed after tpm2_pcrextend and says to re-seal', async (t) => {
  const { box, tpm, env } = await setup(t);
  const sealed = await cli(['seal', '--pcrs', '7'], { env, input: token });
  t.equal(sealed.exitCode, 0);
  t.match(sealed.stderr, 'bound to PCRs sha256:7');
  t.match((await cli(['status'], { env })).stdout, /op-sa-token\s+tpm2\s+\S+\s+sha256:7\s/);
  t.equal((await cli(['unseal'], { env })).stdout, token, 'unseals while PCR 7 is unchanged');

  t.equal(
    (await cli(['unseal'], { env })).stdout,
    token,
    'and again from the cached context, through a policy session',
  );

  await tpm.pcrExtend(7);
  const before = await readFile(join(box.configDir, 'op-sa-token.tpm2.json'));
  const log = toolLog(box.root, box.env.PATH ?? '/usr/bin:/bin');
  const refused = await cli(['unseal'], { env: { ...env, PATH: log.path } });
  t.equal(refused.exitCode, 77, 'refused for safety');
  t.same(
    log.tools(),
    [],
    'by the TPM, to the direct unseal from the cached context (no tool, no second try the long way)',
  );
  const tcti = { TPM2TOOLS_TCTI: env.TPM2TOOLS_TCTI };
  t.equal(
    (await execa('tpm2_getcap', ['handles-loaded-session'], { env: tcti })).stdout.trim(),
    '',
    'the policy session is flushed',
  );
  t.equal((await execa('tpm2_getcap', ['handles-transient'], { env: tcti })).stdout.trim(), '', 'and the object too');
  t.equal(refused.stdout, '', 'nothing on stdout');
  t.match(
    refused.stderr,
    /PCR values differ .* firmware, bootloader or Secure Boot update.* re-seal it: .*--name op-sa-token --force --pcrs 7/,
  );
  await clean(t, refused, 'PCR mismatch');
  t.same(await readFile(join(box.configDir, 'op-sa-token.tpm2.json')), before, 'the blob is untouched');

  const resealed = await cli(['seal', '--pcrs', '7', '--force'], { env, input: token });
  t.equal(resealed.exitCode, 0, 're-sealing against the new PCR values works');
  t.equal((await cli(['unseal'], { env })).stdout, token);
});

t.test('an auth value: sealed via --auth-file, a wrong one is refused, never on argv', async (t) => {
  const { box, env } = await setup(t);
  const right = join(box.root, 'auth');
  const wrong = join(box.root, 'wrong');
  await writeFile(right, `${AUTH}\n`, { mode: 0o600 });
  await writeFile(wrong, 'not the auth value', { mode: 0o600 });
  const watch = watchProcesses([...probes(token), AUTH]);
  t.equal((await cli(['seal', '--auth-file', right], { env, input: token })).exitCode, 0);
  t.match((await cli(['status'], { env })).stdout, /op-sa-token\s+tpm2\s+\S+\s+none\s+yes\s/);

  const refused = await cli(['unseal', '--auth-file', wrong], { env });
  t.equal(refused.exitCode, 77);
  t.match(
    refused.stderr,
    /the TPM refused the auth value for op-sa-token; retry with the auth value given at seal time/,
  );
  t.equal(refused.stdout, '');
  await clean(t, refused, 'wrong auth');

  const missing = await cli(['unseal'], { env });
  t.equal(missing.exitCode, 64, 'no auth value and no terminal: usage');
  t.match(missing.stderr, /pass --auth-file FILE/);

  const unsealed = await cli(['unseal', '--auth-file', right], { env });
  t.equal(unsealed.stdout, token, 'the right auth value unseals');

  // The loaded context is now cached: a wrong value against it is refused and counted once, not retried the long way.
  const failures = async () => {
    const caps = await execa('tpm2_getcap', ['properties-variable'], { env: { TPM2TOOLS_TCTI: env.TPM2TOOLS_TCTI } });
    return Number(/TPM2_PT_LOCKOUT_COUNTER:\s*(0x[0-9a-f]+)/i.exec(caps.stdout)?.[1]);
  };
  const before = await failures();
  const cachedRefusal = await cli(['unseal', '--auth-file', wrong], { env });
  t.equal(cachedRefusal.exitCode, 77, 'a wrong auth value against the cached context: refused');
  t.match(cachedRefusal.stderr, /the TPM refused the auth value for op-sa-token/);
  t.equal(await failures(), before + 1, 'and counted once toward the dictionary-attack lockout');
  t.equal(
    (await cli(['unseal', '--auth-file', right], { env })).stdout,
    token,
    'the right value still unseals from the cache',
  );
  const watched = await watch.stop();
  t.same(watched.hits, [], 'neither token nor auth value in any argv or environment');
  t.ok(watched.tools.length > 0, 'tpm2 tools were observed');

  const both = await cli(['seal', '--name', 'both', '--pcrs', '7', '--auth-file', right], { env, input: token });
  t.equal(both.exitCode, 64, '--pcrs with an auth value is refused for now');
});

t.test(
  'an auth value is taken literally: "hex:41" is those six bytes to the tools and to the direct path, not "A"',
  async (t) => {
    const { box, env } = await setup(t);
    const literal = join(box.root, 'literal');
    const decoded = join(box.root, 'decoded');
    await writeFile(literal, 'hex:41', { mode: 0o600 });
    await writeFile(decoded, 'A', { mode: 0o600 });
    t.equal((await cli(['seal', '--auth-file', literal], { env, input: token })).exitCode, 0);
    const log = toolLog(box.root, box.env.PATH ?? '/usr/bin:/bin');
    const logged = { ...env, PATH: log.path };
    t.equal(
      (await cli(['unseal', '--auth-file', decoded], { env: logged })).exitCode,
      77,
      'the decoded value is refused by the tools (the long way)',
    );
    t.ok(log.tools().includes('tpm2_unseal'), 'which tpm2_unseal ran');
    t.equal(
      (await cli(['unseal', '--auth-file', literal], { env: logged })).stdout,
      token,
      'the literal value unseals the long way',
    );
    log.reset();
    t.equal(
      (await cli(['unseal', '--auth-file', literal], { env: logged })).stdout,
      token,
      'and directly from the cached context',
    );
    t.same(log.tools(), [], 'with no tool');
    const refused = await cli(['unseal', '--auth-file', decoded], { env: logged });
    t.equal(refused.exitCode, 77, 'where the decoded value is refused too');
    t.match(refused.stderr, /the TPM refused the auth value for op-sa-token/);
    t.notOk(refused.stderr.includes('hex:41'), 'no auth value in the message');
  },
);

t.test('a missing TPM (TCTI to a closed port): clear error, nothing written', async (t) => {
  const { box, tpm, env } = await setup(t);
  const closed = { ...env, TPM2TOOLS_TCTI: `swtpm:host=127.0.0.1,port=${tpm.port + 7}` };
  const refused = await cli(['seal'], { env: closed, input: token });
  t.equal(refused.exitCode, 69, 'unavailable');
  t.match(
    refused.stderr,
    /cannot talk to the TPM through TCTI swtpm:host=127\.0\.0\.1,port=\d+ .*; nothing answers at host=127\.0\.0\.1,port=\d+: start the TPM simulator there .*or point TPM2TOOLS_TCTI at the TPM that runs/,
  );
  t.notMatch(refused.stderr, /tpmrm0|group tss/, 'no advice about a device it does not use');
  await clean(t, refused, 'missing TPM (seal)');
  t.same(await configFiles(box.configDir), [], 'no blob and no temporary file');

  t.equal((await cli(['seal'], { env, input: token })).exitCode, 0);
  const before = await readFile(join(box.configDir, 'op-sa-token.tpm2.json'));
  const forced = await cli(['seal', '--force'], { env: closed, input: token });
  t.equal(forced.exitCode, 69, 'a failed --force seal...');
  t.same(await readFile(join(box.configDir, 'op-sa-token.tpm2.json')), before, '...leaves the old blob intact');
  t.same(await configFiles(box.configDir), ['op-sa-token.tpm2.json']);
  const unseal = await cli(['unseal'], { env: closed });
  t.equal(unseal.exitCode, 69);
  t.equal(unseal.stdout, '');
  await clean(t, unseal, 'missing TPM (unseal)');

  const auto = await cli(['seal', '--name', 'auto'], { env: { ...box.env }, input: token });
  t.equal(auto.exitCode, 69, 'auto on Linux without a TPM or TCTI');
  t.match(auto.stderr, /no TPM found .*enable the TPM 2\.0 in the firmware settings.*or use --backend keychain/);
});

t.test('a TPM that stops mid-operation: clear error, nothing half-written', async (t) => {
  for (const command of ['seal', 'unseal'] as const) {
    const { box, tpm, env } = await setup(t);
    let before: Buffer | undefined;
    if (command === 'unseal') {
      t.equal((await cli(['seal'], { env, input: token })).exitCode, 0);
      before = await readFile(join(box.configDir, 'op-sa-token.tpm2.json'));
    }
    const tokenFile = join(box.root, 'token-input');
    await writeFile(tokenFile, token, { mode: 0o600 });
    const run = startCli([command], { env, ...(command === 'seal' ? { inputFile: tokenFile } : {}) });
    t.ok(toolRunningUnder(run.pid), `${command}: a tpm2 tool started`);
    tpm.kill();
    const result = await run.result;
    t.equal(result.exitCode, 69, `${command}: unavailable`);
    t.match(result.stderr, /cannot talk to the TPM through TCTI|the TPM did not answer/);
    t.equal(result.stdout, '', `${command}: nothing on stdout`);
    await clean(t, result, `${command} with the TPM killed`);
    if (before) t.same(await readFile(join(box.configDir, 'op-sa-token.tpm2.json')), before, 'blob untouched');
    else t.same(await configFiles(box.configDir), [], 'no blob and no temporary file');
    t.same(await filesHolding(box.runtime, token), [], 'no released or scratch copy in the runtime directory');
  }
});

t.test(
  'a TPM that stops during an unseal from the cached context: the TCTI error, no second try the long way',
  async (t) => {
    const { box, tpm, env: base } = await setup(t);
    const relay = await startTpmRelay(tpm.port);
    t.teardown(() => relay.close());
    const log = toolLog(box.root, box.env.PATH ?? '/usr/bin:/bin');
    const env = { ...base, PATH: log.path, TPM2TOOLS_TCTI: relay.tcti };
    t.equal((await cli(['seal'], { env, input: token })).exitCode, 0);
    t.equal((await cli(['unseal'], { env })).stdout, token, 'the first unseal caches the loaded context');
    log.reset();
    relay.reset();
    relay.onCommand(CC.Unseal, async () => {
      tpm.kill();
      await tpm.stop();
    });
    const result = await cli(['unseal'], { env });
    t.same(relay.codes(), [CC.ContextLoad, CC.Unseal], 'the TPM loaded the context and died as the Unseal reached it');
    t.equal(result.exitCode, 69, 'unavailable');
    t.match(result.stderr, /cannot talk to the TPM through TCTI swtpm:host=127\.0\.0\.1,port=\d+ \(TPM2_Unseal: /);
    t.equal(result.stdout, '');
    t.same(log.tools(), [], 'a TPM that does not answer is not mistaken for a stale context');
    await clean(t, result, 'cached unseal with the TPM killed');
  },
);

t.test(
  'objects another run left loaded (0x902 without a resource manager) are flushed and the step retried',
  async (t) => {
    const { box, env } = await setup(t);
    t.equal((await cli(['seal'], { env, input: token })).exitCode, 0);
    for (let i = 0; i < 3; i += 1) {
      await execa('tpm2_createprimary', ['-C', 'o', '-c', join(box.root, `leftover-${i}.ctx`), '-Q'], {
        env: { TPM2TOOLS_TCTI: env.TPM2TOOLS_TCTI },
      });
    }
    const full = await execa('tpm2_getcap', ['handles-transient'], { env: { TPM2TOOLS_TCTI: env.TPM2TOOLS_TCTI } });
    t.equal(full.stdout.trim().split('\n').length, 3, 'the TPM holds three leftover objects');
    const fourth = await execa('tpm2_createprimary', ['-C', 'o', '-c', join(box.root, 'fourth.ctx'), '-Q'], {
      env: { TPM2TOOLS_TCTI: env.TPM2TOOLS_TCTI },
      reject: false,
    });
    t.match(fourth.stderr, /0x902/, 'and no room for another (0x902)');
    const unsealed = await cli(['unseal'], { env });
    t.equal(unsealed.exitCode, 0, 'unseal still works');
    t.equal(unsealed.stdout, token);
    const after = await execa('tpm2_getcap', ['handles-transient'], { env: { TPM2TOOLS_TCTI: env.TPM2TOOLS_TCTI } });
    t.equal(after.stdout.trim(), '', 'and leaves no object loaded');

    // Now the context is cached: the direct ContextLoad meets a full TPM (0x902) and hands over to the tools.
    for (let i = 0; i < 3; i += 1) {
      await execa('tpm2_createprimary', ['-C', 'o', '-c', join(box.root, `leftover-again-${i}.ctx`), '-Q'], {
        env: { TPM2TOOLS_TCTI: env.TPM2TOOLS_TCTI },
      });
    }
    const log = toolLog(box.root, box.env.PATH ?? '/usr/bin:/bin');
    const warm = await cli(['unseal'], { env: { ...env, PATH: log.path } });
    t.equal(warm.stdout, token, 'a full TPM under the cached context: unseal still works');
    t.same(
      log.tools().slice(0, 2),
      ['tpm2_createprimary', 'tpm2_flushcontext'],
      'the long way, whose first tool meets 0x902, flushes and retries',
    );
    const afterWarm = await execa('tpm2_getcap', ['handles-transient'], {
      env: { TPM2TOOLS_TCTI: env.TPM2TOOLS_TCTI },
    });
    t.equal(afterWarm.stdout.trim(), '', 'and leaves no object loaded');
  },
);

t.test(
  'SIGTERM or Ctrl-C during a seal: the scratch directory (with the key file) is removed, nothing sealed',
  async (t) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const { box, env } = await setup(t);
      const tokenFile = join(box.root, 'token-input');
      await writeFile(tokenFile, token, { mode: 0o600 });
      const run = startCli(['seal'], { env, inputFile: tokenFile });
      t.ok(toolRunningUnder(run.pid), 'a tpm2 tool started');
      process.kill(run.pid, signal);
      const result = await run.result;
      t.equal(result.signal, signal, `the CLI died of ${signal}`);
      t.same(await scratchLeftBy(run.pid), [], `${signal}: scratch directory removed`);
      t.same(await configFiles(box.configDir), [], `${signal}: no blob and no temporary file`);
      t.notOk(leaks(result.stdout + result.stderr, token));
    }
  },
);

t.test('a corrupted blob file: clear error naming the file and the fix', async (t) => {
  const { box, env } = await setup(t);
  const path = join(box.configDir, 'op-sa-token.tpm2.json');
  t.equal((await cli(['seal'], { env, input: token })).exitCode, 0);
  const good = await readFile(path, 'utf8');
  const flip = (b64: string) => {
    const bytes = Buffer.from(b64, 'base64');
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    return bytes.toString('base64');
  };
  const cases: [string, string, RegExp][] = [
    [
      'garbage',
      '{"format": "copilot-bridge-stack/tpm2-sealed/v1", "name": ',
      /the sealed file .*op-sa-token\.tpm2\.json is corrupted \(not JSON\); .*--force/,
    ],
    [
      'ciphertext bit',
      JSON.stringify({
        ...JSON.parse(good),
        cipher: { ...JSON.parse(good).cipher, data: flip(JSON.parse(good).cipher.data) },
      }),
      /does not decrypt with the key the TPM released \(it was altered\)/,
    ],
    [
      'sealed private part bit',
      JSON.stringify({
        ...JSON.parse(good),
        sealed: { ...JSON.parse(good).sealed, private: flip(JSON.parse(good).sealed.private) },
      }),
      /does not load on this TPM \(it is corrupted, or the TPM was cleared or replaced\); .*re-seal/,
    ],
    [
      'another name',
      JSON.stringify({ ...JSON.parse(good), name: 'other' }),
      /is corrupted \(it belongs to another name\)/,
    ],
  ];
  for (const [label, text, message] of cases) {
    await writeFile(path, text);
    const result = await cli(['unseal'], { env });
    t.equal(result.exitCode, 65, `${label}: data error`);
    t.match(result.stderr, message, `${label}: says what is wrong and what to do`);
    t.equal(result.stdout, '');
    await clean(t, result, label);
    t.equal(await readFile(path, 'utf8'), text, `${label}: the file is left as it was`);
  }
  await writeFile(path, '{');
  const status = await cli(['status'], { env });
  t.equal(status.exitCode, 0, 'status still lists a corrupted seal');
  t.match(status.stderr, /problem: op-sa-token \(tpm2\): the sealed file .* is corrupted/);
});

t.test(
  "one credential's blob copied over another's, its name edited to match: refused, never the other's token",
  async (t) => {
    const { box, env } = await setup(t);
    const lal = fakeToken();
    const data = fakeToken();
    t.equal((await cli(['seal', '--name', 'agent-lal'], { env, input: lal })).exitCode, 0);
    t.equal((await cli(['seal', '--name', 'agent-data'], { env, input: data })).exitCode, 0);
    const lalBlob = JSON.parse(await readFile(join(box.configDir, 'agent-lal.tpm2.json'), 'utf8'));
    const forged = JSON.stringify({ ...lalBlob, name: 'agent-data' });
    await writeFile(join(box.configDir, 'agent-data.tpm2.json'), forged);
    const result = await cli(['unseal', '--name', 'agent-data'], { env });
    t.equal(result.exitCode, 65, 'a data error: the name is bound to the ciphertext, not only written beside it');
    t.match(result.stderr, /does not decrypt with the key the TPM released \(it was altered\)/);
    t.equal(result.stdout, '', 'nothing on stdout');
    t.notOk(
      leaks(result.stdout, lal) || leaks(result.stderr, lal),
      "agent-lal's token is not handed out as agent-data's",
    );
    const own = await cli(['unseal', '--name', 'agent-lal'], { env });
    t.equal(own.stdout, lal, 'control: the copied blob unseals under its own name');
  },
);

t.test(
  "four seals of one name at once, 20 times: one wins, the others say so, and the stored blob is the winner's",
  async (t) => {
    const { box, env } = await setup(t);
    const path = join(box.configDir, 'op-sa-token.tpm2.json');
    for (let round = 0; round < 20; round++) {
      const tokens = [0, 1, 2, 3].map(() => fakeToken());
      const runs = await Promise.all(tokens.map((input) => cli(['seal'], { env, input })));
      const won = runs.flatMap((run, i) => (run.exitCode === 0 ? [i] : []));
      t.equal(
        won.length,
        1,
        `round ${round}: exactly one seal succeeds (exits: ${runs.map((r) => r.exitCode).join(',')})`,
      );
      for (const run of runs.filter((r) => r.exitCode !== 0)) {
        t.match(
          { exit: run.exitCode, stderr: run.stderr },
          {
            exit: 73,
            stderr: /op-sa-token (is already sealed \(tpm2\)|was sealed meanwhile by another run); add --force/,
          },
          `round ${round}: a loser says why`,
        );
      }
      const reported = /fingerprint ([0-9a-f]+)/.exec(runs[won[0]!]!.stderr)?.[1];
      const stored = JSON.parse(await readFile(path, 'utf8')).fingerprint;
      t.equal(stored, reported, `round ${round}: the stored blob is the one whose fingerprint was reported`);
      const unsealed = await cli(['unseal'], { env });
      t.equal(unsealed.stdout, tokens[won[0]!], `round ${round}: and it unseals to the winner's token`);
      t.equal((await cli(['forget', '--name', 'op-sa-token'], { env })).exitCode, 0);
    }
    t.same(await configFiles(box.configDir), [], 'no temporary file or lock left');
  },
);

t.test('what the config directory holds is checked before it is read: sizes and names', async (t) => {
  const { box, env } = await setup(t);
  t.equal((await cli(['seal'], { env, input: token })).exitCode, 0);
  await writeFile(join(box.configDir, 'huge.tpm2.json'), Buffer.alloc(600 * 1024, 0x20));
  const huge = await cli(['unseal', '--name', 'huge'], { env });
  t.equal(huge.exitCode, 65, 'a 600 KiB blob is refused');
  t.match(
    huge.stderr,
    /huge\.tpm2\.json is larger than any sealed token's file \(64 KiB\), so it is not one; remove it/,
  );
  await writeFile(join(box.configDir, 'Not A Name.tpm2.json'), '{}');
  await writeFile(join(box.configDir, '..hidden.tpm2.json'), '{}');
  const status = await cli(['status'], { env });
  t.equal(status.exitCode, 0);
  t.notMatch(status.stdout, /Not A Name|hidden/, 'files whose names are not credential names are not listed or read');
  t.match(
    status.stderr,
    /problem: huge \(tpm2\): .*larger than any sealed token's file/,
    'the oversized one is a problem in status',
  );
});

t.test('a full disk while sealing: exit 73, nothing half-written', async (t) => {
  const { box, env } = await setup(t);
  const full = join(box.root, 'full');
  await execa('mkdir', ['-p', full]);
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', full]);
  t.teardown(() => execa('umount', ['-l', full], { reject: false }));
  await execa('sh', ['-c', `dd if=/dev/zero of=${full}/filler bs=4k count=1000 2>/dev/null; true`]);
  const sealed = await cli(['seal'], { env: { ...env, XDG_CONFIG_HOME: full }, input: token });
  t.equal(sealed.exitCode, 73, `exit 73 (${sealed.stderr.trim()})`);
  t.match(
    sealed.stderr,
    /no space left on the device it was writing to( \([^)]*\))?; free some space there \(.*\/dev\/shm, where the TPM tools work\) and retry/,
  );
  t.notOk(leaks(sealed.stdout + sealed.stderr, token), 'no token in the output');
  t.same(
    (await readdir(join(full, 'copilot-bridge-stack')).catch(() => [])).filter((name) => !name.startsWith('.tpm.lock')),
    [],
    'no blob and no temporary file',
  );
});
