// Stands for: the host's TPM character device /dev/tpmrm0. A real software TPM
// (swtpm in chardev mode) behind a raw pseudo-terminal: swtpm holds the master
// side, and the slave, /dev/pts/N, is the device the CLI and the tpm2 tools
// open (TPM2TOOLS_TCTI=device:/dev/pts/N). This machine has no /dev/tpm*, no
// CUSE and no vtpm proxy; a pty is the character device that can be made here.
// A small Python helper (swtpm-chardev.py, since Node has no openpty) holds the
// pty and swtpm, and a restart is done there on the same pty and state.
//
// The honest differences from /dev/tpmrm0:
//   - a pty may return a response in pieces (a read returns what the line
//     discipline has so far); /dev/tpmrm0 returns a response whole in one
//     read. The CLI's DeviceTransport reads until the size in the header has
//     arrived, so it handles both. This stand-in allows pieces but does not
//     force them: under strace, the short responses of an unseal (10 to 70
//     bytes) were each seen to arrive in one read.
//   - there is no resource manager: like /dev/tpm0, objects and sessions stay
//     loaded until flushed, and every opener shares one TPM and one response
//     queue (/dev/tpmrm0 gives each open file its own, and flushes what it
//     left at close). So use it from one process at a time, and a test that
//     finds nothing left loaded has proven the CLI flushes by itself. The CLI
//     counts only device:/dev/tpmrm* as managed, so over this device its tools
//     run the tpm2_flushcontext calls they skip on /dev/tpmrm0.
//   - a pty accepts any number of openers and never answers EBUSY.
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { processAlive as alive } from '../alive.js';

export interface DeviceTpm {
  /** The slave of the pty, /dev/pts/N: what /dev/tpmrm0 is on a real host. */
  path: string;
  /** `device:/dev/pts/N`, for TPM2TOOLS_TCTI. */
  tcti: string;
  /** Stops swtpm and the helper and waits for both to end; already stopped counts as stopped. */
  stop(): Promise<void>;
  /** Stops and starts swtpm again on the same pty and state (a reboot: transient objects and saved contexts are gone). */
  restart(): Promise<void>;
  /** Extends a sha256 PCR, as a firmware or Secure Boot update changes PCR 7. */
  pcrExtend(index: number): Promise<void>;
}

const HERE = fileURLToPath(new URL('.', import.meta.url));
// Next to this file, or, from its compiled copy in dist/test/fixtures/host-seal, in the source tree.
const HELPER =
  [
    join(HERE, 'swtpm-chardev.py'),
    join(HERE, '..', '..', '..', '..', 'test', 'support', 'host-seal', 'swtpm-chardev.py'),
  ].find((path) => existsSync(path)) ?? join(HERE, 'swtpm-chardev.py');
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

type Helper = ChildProcessByStdio<Writable, Readable, Readable>;

/** Starts swtpm behind a pty with state under `root`; call stop() in teardown. */
export async function startSwtpmDevice(root: string): Promise<DeviceTpm> {
  const state = join(root, 'swtpm-device-state');
  await mkdir(state, { recursive: true, mode: 0o700 });
  const helper: Helper = spawn('python3', [HELPER, state], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  helper.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  helper.stdin.on('error', () => undefined); // a helper that died: stop() and the waits report it
  const exited = new Promise<void>((resolve) => helper.once('exit', () => resolve()));
  let ended = false;
  void exited.then(() => (ended = true));

  const lines: string[] = [];
  let wake: (() => void) | undefined;
  createInterface({ input: helper.stdout }).on('line', (line) => {
    lines.push(line);
    wake?.();
  });
  exited.then(() => wake?.());

  /** The next `ready PATH PID` line, or an error naming what was awaited and what the helper said. */
  const ready = async (what: string): Promise<{ path: string; pid: number }> => {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (lines.length === 0 && !ended && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, deadline - Date.now()).unref();
      });
    }
    wake = undefined;
    const match = /^ready (\/dev\/pts\/\d+) (\d+)$/.exec(lines.shift() ?? '');
    if (!match?.[1] || !match[2]) {
      helper.kill('SIGKILL');
      throw new Error(
        `swtpm behind a pty did not become ready (${what}) within ${START_TIMEOUT_MS / 1000} s: ${stderr.trim() || 'no output'}`,
      );
    }
    return { path: match[1], pid: Number(match[2]) };
  };

  const first = await ready('start');
  const { path } = first;
  let swtpmPid = first.pid;
  const tcti = `device:${path}`;

  return {
    path,
    tcti,
    stop: async () => {
      if (!ended) {
        helper.stdin.end();
        const timer = setTimeout(() => helper.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      // The helper stops swtpm before it exits; after a SIGKILL of the helper, swtpm's
      // parent-death signal ends it. Wait for that rather than trust it.
      for (let i = 0; i < 100 && alive(swtpmPid); i += 1) await new Promise((resolve) => setTimeout(resolve, 50));
      if (alive(swtpmPid)) {
        process.kill(swtpmPid, 'SIGKILL');
        throw new Error(`swtpm (pid ${swtpmPid}) outlived its helper; killed it`);
      }
    },
    restart: async () => {
      if (ended) throw new Error(`the swtpm pty helper has ended: ${stderr.trim() || 'no output'}`);
      helper.stdin.write('restart\n');
      const again = await ready('restart');
      if (again.path !== path) throw new Error(`the restarted TPM is on ${again.path}, not ${path}`);
      swtpmPid = again.pid;
    },
    pcrExtend: async (index: number) => {
      await execa('tpm2_pcrextend', [`${index}:sha256=${'ab'.repeat(32)}`], { env: { TPM2TOOLS_TCTI: tcti } });
    },
  };
}
