// The agent commands' small view of Docker, over dockerode (which reads
// DOCKER_HOST, so inside the admin container it reaches the socket guard).
// Every call says what it does with the short container id; "already
// stopped" and "already gone" count as success. dockerode sends a POST's
// options as both query and body unless told apart, so POST calls pass
// _query and _body explicitly: the guard sees exactly the body the policy
// expects (create), or none (stop; the guard refuses a body there).
import Docker from 'dockerode';
import type { AgentContainer } from '../src/agents/container-spec.js';
import { AGENT_LABEL, PROJECT_LABEL, SPEC_LABEL } from '../src/contract.js';
import { ExitCode, StackError } from '../src/errors.js';

export interface AgentState {
  name: string;
  agent: string;
  state: string;
  health: string;
  startedAt: string;
  restarts: number;
}

type Say = (line: string) => void;
const statusOf = (error: unknown) => (error as { statusCode?: number }).statusCode;

export class AgentDocker {
  private readonly docker = new Docker();
  constructor(
    private readonly project: string,
    private readonly say: Say,
  ) {}

  /** Creates the volume and the container when missing (or made from another spec), then starts it; idempotent. */
  async up(spec: AgentContainer, waitMs = 8_000): Promise<string> {
    await this.call('inspect volume', () => this.docker.getVolume(spec.volume).inspect()).catch(async (error) => {
      if (statusOf(error) !== 404) throw error;
      await this.call(
        'create volume',
        () => this.docker.createVolume({ _query: {}, _body: spec.volumeBody } as never) as unknown as Promise<unknown>,
      );
      this.say(`created volume ${spec.volume}`);
    });
    let info = await this.inspect(spec.name);
    const wanted = (spec.body.Labels as Record<string, string>)[SPEC_LABEL];
    if (info && info.Config?.Labels?.[SPEC_LABEL] !== wanted) {
      // Made from another spec (the agents file or the stack's settings changed since): what runs must be what agent
      // spec prints.
      this.say(`${spec.name} (${info.Id.slice(0, 12)}) was made from another spec; recreating it`);
      await this.down(spec.name, spec.volume, false);
      info = undefined;
    }
    if (!info) {
      const created = await this.call('create container', () =>
        this.docker.createContainer({ _query: { name: spec.name }, _body: spec.body } as never),
      );
      this.say(`created ${spec.name} (${created.id.slice(0, 12)})`);
      info = await this.inspect(spec.name);
    }
    if (!info) throw this.fail(`${spec.name} vanished right after it was created`);
    const agent = (spec.body.Labels as Record<string, string>)[AGENT_LABEL] ?? spec.name;
    if (info.State?.Restarting) {
      // A crash loop, perhaps fixed since (its items, its token): start it afresh now instead of after Docker's
      // back-off.
      this.say(`${spec.name} is restarting (${info.RestartCount ?? 0}); restarting it now`);
      await this.call(
        'restart',
        () =>
          this.docker
            .getContainer(info!.Id)
            .restart({ _query: { t: 10 }, _body: {} } as never) as unknown as Promise<unknown>,
      );
      info = (await this.inspect(spec.name)) ?? info;
    }
    const restartsBefore = info.RestartCount ?? 0;
    const wasRunning = Boolean(info.State?.Running) && !info.State?.Restarting;
    if (!wasRunning) {
      await this.call('start', () => this.docker.getContainer(info!.Id).start());
      this.say(`started ${spec.name} (${info.Id.slice(0, 12)})`);
    }
    // "Already running" only once it has been seen to keep running: a crash loop is running between its restarts.
    await this.settle(spec.name, agent, restartsBefore, wasRunning ? 2_000 : waitMs);
    if (wasRunning) this.say(`${spec.name} (${info.Id.slice(0, 12)}) is already running`);
    return info.Id;
  }

  /**
   * Watches a started agent for `waitMs` (less once it is healthy): a restart
   * or an exit in that time ends it with the agent's last log lines and exit
   * 69, so that a crash loop is never reported as "started".
   */
  private async settle(name: string, agent: string, restartsBefore: number, waitMs: number): Promise<void> {
    const until = Date.now() + waitMs;
    for (;;) {
      const info = await this.inspect(name);
      if (!info) throw this.fail(`${name} vanished after it was started`, ExitCode.unavailable);
      const state = info.State;
      if (
        state?.Restarting ||
        (info.RestartCount ?? 0) > restartsBefore ||
        (state && !state.Running && state.Status === 'exited')
      ) {
        throw await this.crashing(name, agent, info);
      }
      const health = state?.Health?.Status;
      if (state?.Running && health === 'healthy') {
        if (waitMs > 2_000) this.say(`${name} is healthy`);
        return;
      }
      if (Date.now() >= until) {
        if (waitMs > 2_000)
          this.say(
            `${name} runs, without a restart in ${Math.round(waitMs / 1000)} s${health ? ` (health: ${health})` : ''}; agent ls shows how it goes`,
          );
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  /** The error for an agent that keeps failing, with its last log lines (its supervisor already masked them). */
  private async crashing(name: string, agent: string, info: Docker.ContainerInspectInfo): Promise<StackError> {
    // Running here means it came back from a restart just now: a crash loop too, never "running".
    const state =
      info.State?.Restarting || info.State?.Running
        ? `restarting (${info.RestartCount ?? 0})`
        : `${info.State?.Status ?? 'stopped'} (status ${info.State?.ExitCode ?? '?'})`;
    let tail = '';
    try {
      const whole = (await this.docker
        .getContainer(info.Id)
        .logs({ follow: false, stdout: true, stderr: true, tail: 10 })) as unknown as Buffer;
      const chunks: Buffer[] = [];
      const sink = { write: (chunk: Buffer) => chunks.push(Buffer.from(chunk)) } as unknown as NodeJS.WritableStream;
      demux(whole, sink, sink);
      tail = Buffer.concat(chunks)
        .toString('utf8')
        .split('\n')
        .filter((line, i, all) => line.trim() && line !== all[i - 1])
        .slice(-10)
        .map((line) => `  ${line.slice(0, 500)}`)
        .join('\n');
    } catch {
      // Logs out of reach: the state alone.
    }
    this.say(`${name} is ${state}${tail ? `; its last log lines:\n${tail}` : ''}`);
    return this.fail(
      `${name} is ${state}: it keeps failing; see its log above (agent logs ${agent}), fix its entry or its items, then agent up ${agent} again (it starts it afresh)`,
      ExitCode.unavailable,
    );
  }

  /** Stops and removes the container (and with `purge`, its volume); absent counts as done. */
  async down(name: string, volume: string, purge: boolean): Promise<void> {
    const info = await this.inspect(name);
    if (info) {
      await this.call('stop', () =>
        this.docker.getContainer(info.Id).stop({ _query: { t: 10 }, _body: {} } as Docker.ContainerStopOptions),
      ).catch((error) => {
        if (statusOf(error) !== 304) throw error;
      });
      await this.call('remove', () => this.docker.getContainer(info.Id).remove({ force: true }));
      this.say(`removed ${name} (${info.Id.slice(0, 12)})`);
    } else this.say(`${name} is already gone`);
    if (purge) {
      await this.call('remove volume', () => this.docker.getVolume(volume).remove()).catch((error) => {
        if (statusOf(error) !== 404) throw error;
      });
      this.say(`removed volume ${volume}`);
    }
  }

  async list(): Promise<AgentState[]> {
    const filters = { label: [`${PROJECT_LABEL}=${this.project}`, AGENT_LABEL] };
    const containers = await this.call('list', () => this.docker.listContainers({ all: true, filters }));
    return Promise.all(
      containers.map(async (c) => {
        const info = await this.inspect(c.Id);
        return {
          name: (c.Names[0] ?? '').replace(/^\//, ''),
          agent: c.Labels[AGENT_LABEL] ?? '?',
          state: info?.State?.Status ?? c.State,
          health: info?.State?.Health?.Status ?? '-',
          startedAt: info?.State?.StartedAt ?? '',
          restarts: info?.RestartCount ?? 0,
        };
      }),
    );
  }

  /** Writes the container's logs to the given writers; with follow, streams them until the container ends. */
  async logs(name: string, follow: boolean, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<void> {
    const info = await this.inspect(name);
    if (!info) throw this.fail(`${name} does not exist; start it with \`agent up\``, ExitCode.noInput);
    const container = this.docker.getContainer(info.Id);
    if (!follow) {
      // Without follow, dockerode answers with the whole log as one Buffer, not a stream.
      const whole = await this.call('logs', () => container.logs({ follow: false, stdout: true, stderr: true }));
      demux(whole, out, err);
      return;
    }
    const stream = await this.call('logs', () => container.logs({ follow: true, stdout: true, stderr: true }));
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.demuxStream(stream, out, err);
      stream.on('end', resolve);
      stream.on('error', reject);
    });
  }

  async inspect(name: string): Promise<Docker.ContainerInspectInfo | undefined> {
    try {
      return await this.docker.getContainer(name).inspect();
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw this.wrap('inspect', error);
    }
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (statusOf(error) === 404 || statusOf(error) === 304) throw error;
      throw this.wrap(what, error);
    }
  }

  private wrap(what: string, error: unknown): StackError {
    const status = statusOf(error);
    const detail =
      (error as { json?: { message?: string }; message?: string }).json?.message ?? (error as Error).message;
    if (status === 403) return this.fail(`the socket guard refused to ${what}: ${detail}`, ExitCode.noPerm, error);
    if (status === undefined)
      return this.fail(
        `cannot reach Docker to ${what} (${detail}); check DOCKER_HOST and that the socket guard runs`,
        ExitCode.unavailable,
        error,
      );
    return this.fail(`Docker could not ${what}: ${detail}`, ExitCode.unavailable, error);
  }

  private fail(
    message: string,
    exitCode: (typeof ExitCode)[keyof typeof ExitCode] = ExitCode.software,
    cause?: unknown,
  ): StackError {
    return new StackError('agent-docker', message, { step: 'docker', exitCode, cause });
  }
}

/** Splits Docker's multiplexed log (8-byte frame headers: stream, 0, 0, 0, length) into stdout and stderr. */
function demux(buffer: Buffer, out: NodeJS.WritableStream, err: NodeJS.WritableStream): void {
  let at = 0;
  while (at + 8 <= buffer.length) {
    const length = buffer.readUInt32BE(at + 4);
    const frame = buffer.subarray(at + 8, at + 8 + length);
    (buffer[at] === 2 ? err : out).write(frame);
    at += 8 + length;
  }
}
