// The one way every program ends on a failure (src/cli-edge.ts): a
// StackError's own line and exit status; anything else by its name only and
// exit 70, so that an unexpected error carrying a secret in its message
// prints no part of it. The four programs' edges use it (their own tests run
// them: test/entrypoint/refusals.test.ts, test/agents/cli.test.ts,
// test/host-seal/cli.test.ts).
import t from 'tap';
import { failure } from '../src/cli-edge.js';
import { ExitCode, StackError } from '../src/errors.js';

t.test('a StackError: its one line and its exit status', async (t) => {
  const error = new StackError('x', 'what was wrong;\n  what to do', { step: 'step', exitCode: ExitCode.config });
  t.same(failure(error), { message: 'step: what was wrong; what to do', exitCode: 78 });
});

t.test('anything else: its name only, exit 70, never its message', async (t) => {
  const secret = 'ops_canary-value-that-must-not-print';
  const cases: Array<[unknown, string]> = [
    [new Error(`failed with ${secret}`), 'Error'],
    [new TypeError(`cannot read ${secret}`), 'TypeError'],
    [Object.assign(new Error(secret), { cause: new Error(secret) }), 'Error'],
    [secret, 'string'],
    [undefined, 'undefined'],
  ];
  for (const [thrown, name] of cases) {
    const { message, exitCode } = failure(thrown);
    t.equal(message, `internal error (${name}); please report it`);
    t.equal(exitCode, 70);
    t.notMatch(message, 'canary', 'no part of the message');
  }
});
