// Step 8: before exec, prove that no secret value (the token and every value
// the render substituted, in any common encoding) is in the environment the
// bridge will get, in its argv, or in anything the entrypoint printed.
// Refuse to exec if one is: the message names where, never what.
import { ExitCode, StackError } from '../../src/errors.js';
import type { SecretSet } from '../../src/secrets/secret-set.js';

const STEP = 'leak-check';

export interface Launch {
  /** argv of the bridge, argv[0] first. */
  argv: string[];
  env: Record<string, string>;
  /** Where it runs (the bridge's home); the entrypoint's own directory when undefined. */
  cwd?: string | undefined;
}

/**
 * `declared` are the bridge's own environment values from 1Password (its
 * GitHub token as COPILOT_GITHUB_TOKEN, which upstream reads from nowhere
 * else): each may stand in its own variable, exactly, and nowhere else.
 */
export function proveNoLeak(
  secrets: SecretSet,
  launch: Launch,
  transcript: string,
  declared: Record<string, string> = {},
): void {
  const places: Array<[string, string]> = [
    ...launch.argv.map((arg, i): [string, string] => [`argument ${i} of the command`, arg]),
    ...Object.entries(launch.env)
      .filter(([name, value]) => declared[name] !== value)
      .map(([name, value]): [string, string] => [`the environment variable ${name}`, `${name}=${value}`]),
    ["the entrypoint's own output", transcript],
  ];
  for (const [place, text] of places) {
    const hit = secrets.find(text);
    if (hit) {
      throw new StackError('leak', `${place} holds ${hit.label} (${hit.encoding}); refusing to start the bridge`, {
        step: STEP,
        exitCode: ExitCode.noPerm,
      });
    }
  }
}
