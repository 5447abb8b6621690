// Every wait of the suite: polls `probe` until it returns a value other than
// undefined/false, and at the timeout throws an Error that names what it
// waited for and, when given, the last state seen.
import { setTimeout as sleep } from 'node:timers/promises';

/** Thrown by a probe to stop waiting at once: what it waits for can no longer happen. */
export class GiveUp extends Error {}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Describes the last state seen, for the timeout message. */
  detail?: () => string | Promise<string>;
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      if (error instanceof GiveUp) throw new Error(`gave up waiting for ${what}: ${error.message}`);
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const detail = options.detail ? await Promise.resolve(options.detail()).catch(() => '') : '';
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message.split('\n')[0]})` : '';
      throw new Error(
        `timed out after ${options.timeoutMs / 1000} s waiting for ${what}${cause}${detail ? `\n${detail}` : ''}`,
      );
    }
    await sleep(options.intervalMs ?? 250);
  }
}
