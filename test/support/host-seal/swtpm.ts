// Stands for: the host's TPM 2.0 chip. A real software TPM (swtpm) on a free
// TCP port with its own state directory; tests reach it through
// TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=P, without a resource manager.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';

export interface SoftTpm {
  port: number;
  tcti: string;
  /** SIGKILL, as a TPM that stops answering mid-operation. */
  kill(): void;
  /** Stops it and waits for the process to end. */
  stop(): Promise<void>;
  /** Stops and starts it again on the same port and state (a reboot: transient objects and saved contexts are gone). */
  restart(): Promise<void>;
  /** Extends a sha256 PCR, as a firmware or Secure Boot update changes PCR 7. */
  pcrExtend(index: number): Promise<void>;
}

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer().once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    if ((await portFree(port)) && (await portFree(port + 1))) return port;
  }
  throw new Error('no free port pair for swtpm');
}

const answers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' }, () => {
      socket.destroy();
      resolve(true);
    }).once('error', () => resolve(false));
  });

/** Starts swtpm with state under `root`; call stop() in teardown. */
export async function startSwtpm(root: string): Promise<SoftTpm> {
  const state = join(root, 'swtpm-state');
  await mkdir(state, { recursive: true, mode: 0o700 });
  const port = await freePortPair();
  const tcti = `swtpm:host=127.0.0.1,port=${port}`;
  const spawnSwtpm = () =>
    execa(
      'swtpm',
      [
        'socket',
        '--tpmstate',
        `dir=${state}`,
        '--tpm2',
        '--server',
        `type=tcp,port=${port}`,
        '--ctrl',
        `type=tcp,port=${port + 1}`,
        '--flags',
        'not-need-init,startup-clear',
      ],
      {
        reject: false,
        stdio: 'ignore',
      },
    );
  let child: ReturnType<typeof spawnSwtpm> | undefined;
  const start = async () => {
    child = spawnSwtpm();
    for (let i = 0; i < 200 && !(await answers(port)); i += 1) await sleep(25);
  };
  const stop = async () => {
    child?.kill('SIGTERM');
    await child;
    child = undefined;
  };
  await start();
  return {
    port,
    tcti,
    kill: () => child?.kill('SIGKILL'),
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    pcrExtend: async (index: number) => {
      await execa('tpm2_pcrextend', [`${index}:sha256=${'ab'.repeat(32)}`], { env: { TPM2TOOLS_TCTI: tcti } });
    },
  };
}

export interface TpmSandbox {
  /** A disk temp directory: HOME, with XDG_CONFIG_HOME under it. */
  root: string;
  /** A tmpfs temp directory used as XDG_RUNTIME_DIR. */
  runtime: string;
  tpm: SoftTpm;
  /** The host CLI's environment: PATH, HOME, the XDG directories, the swtpm's TCTI. */
  env: Record<string, string>;
  /** Stops the swtpm and removes both directories. */
  dispose(): Promise<void>;
}

/** Private directories and a started swtpm for a run outside tap (the benchmarks); call dispose() in `finally`. */
export async function tpmSandbox(prefix: string): Promise<TpmSandbox> {
  const root = await mkdtemp(join(tmpdir(), `${prefix}-`));
  const runtime = await mkdtemp(`/dev/shm/${prefix}-`);
  const tpm = await startSwtpm(root);
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: root,
    XDG_CONFIG_HOME: join(root, 'config'),
    XDG_RUNTIME_DIR: runtime,
    TPM2TOOLS_TCTI: tpm.tcti,
  };
  const dispose = async () => {
    await tpm.stop();
    await rm(root, { recursive: true, force: true });
    await rm(runtime, { recursive: true, force: true });
  };
  return { root, runtime, tpm, env, dispose };
}
