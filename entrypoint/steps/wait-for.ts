// Step 9: wait until every dependency answers 2xx (Mattermost's
// /api/v4/system/ping), polling with exponential backoff, saying what it waits
// for on each retry, and giving up after the timeout. Runs after the privilege
// drop. URLs are shown without any user:password part.
import { ExitCode, errnoCode, StackError } from '../../src/errors.js';
import type { Log } from '../log.js';

const STEP = 'wait';
const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 5000;
const REQUEST_TIMEOUT_MS = 5000;

export async function waitForAll(urls: readonly URL[], timeoutMs: number, log: Log): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await Promise.all(urls.map((url) => waitFor(url, deadline, timeoutMs, log)));
}

async function waitFor(url: URL, deadline: number, timeoutMs: number, log: Log): Promise<void> {
  const shown = display(url);
  const started = Date.now();
  let previous: string | undefined;
  for (let delay = FIRST_DELAY_MS; ; delay = Math.min(delay * 2, MAX_DELAY_MS)) {
    const budget = Math.min(REQUEST_TIMEOUT_MS, Math.max(1, deadline - Date.now()));
    const answer = await probe(url, budget);
    // A probe cut short by the deadline says only that time ran out: the reason worth showing is the one before it.
    const why = answer === 'TimeoutError' && budget < REQUEST_TIMEOUT_MS && previous ? previous : answer;
    previous = why;
    if (why === undefined) {
      log.info(STEP, `${shown} is up after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new StackError(
        'wait-timeout',
        `${shown} did not answer 2xx within ${timeoutMs / 1000} s (last: ${why}); check that it runs, or raise BRIDGE_WAIT_TIMEOUT`,
        {
          step: STEP,
          exitCode: ExitCode.unavailable,
        },
      );
    }
    const wait = Math.min(delay, left);
    log.info(
      STEP,
      `${shown} not ready (${why}); retrying in ${(wait / 1000).toFixed(1)} s, ${Math.ceil(left / 1000)} s left`,
    );
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/** undefined when the URL answered 2xx, else a short reason. */
async function probe(url: URL, timeoutMs: number): Promise<string | undefined> {
  try {
    const headers: Record<string, string> = {};
    if (url.username || url.password) {
      headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    }
    const response = await fetch(display(url), { headers, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await response.body?.cancel();
    return response.status >= 200 && response.status < 300 ? undefined : `HTTP ${response.status}`;
  } catch (error) {
    return errnoCode((error as { cause?: unknown }).cause) ?? (error as Error).name ?? 'error';
  }
}

function display(url: URL): string {
  const copy = new URL(url);
  copy.username = '';
  copy.password = '';
  return copy.toString();
}
