// A step's refusal, caught: the StackError a call throws, anything else rethrown.
import type { Test } from 'tap';
import { StackError } from '../../src/errors.js';

/** The StackError `run` throws, or undefined when it returns. */
export function refusalOf(run: () => unknown): StackError | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof StackError) return error;
    throw error;
  }
  return undefined;
}

/** The StackError `run` throws; a failed assertion (and a placeholder to compare) when it returns. */
export function refusal(t: Test, run: () => unknown): StackError {
  const error = refusalOf(run);
  if (error) return error;
  t.fail('expected a refusal');
  return new StackError('none', 'none', { exitCode: 0 });
}
