// Everything the entrypoint says goes through here, to stderr, one line each.
// It keeps a transcript so that the leak check can prove that nothing it said
// held a secret, and once the secrets are known it screens every further line
// and refuses to print one that holds a secret.
import { ExitCode, StackError } from '../src/errors.js';
import type { SecretSet } from '../src/secrets/secret-set.js';

const PROGRAM = 'copilot-bridge-entrypoint';

export class Log {
  private readonly lines: string[] = [];
  private screen: SecretSet | undefined;

  constructor(private readonly write: (text: string) => void = (text) => process.stderr.write(text)) {}

  info(step: string, message: string): void {
    this.emit(`${PROGRAM}: ${step}: ${message}`);
  }

  warn(step: string, message: string): void {
    this.emit(`${PROGRAM}: ${step}: warning: ${message}`);
  }

  /** The final error line; if it would hold a secret, a generic line is printed instead. */
  fatal(line: string): void {
    const text = `${PROGRAM}: ${line}`;
    if (this.screen?.find(text))
      this.lines.push(`${PROGRAM}: failed (the error message was withheld because it contained a secret)`);
    else this.lines.push(text);
    this.write(`${this.lines.at(-1)}\n`);
  }

  /** From now on, refuse to print any line that holds one of these secrets. */
  guard(secrets: SecretSet): void {
    this.screen = secrets;
  }

  /** Everything printed so far. */
  transcript(): string {
    return this.lines.join('\n');
  }

  private emit(line: string): void {
    const hit = this.screen?.find(line);
    if (hit) {
      throw new StackError('leak-log', `refused to print a line holding ${hit.label} (${hit.encoding})`, {
        step: 'leak-check',
        exitCode: ExitCode.noPerm,
      });
    }
    this.lines.push(line);
    this.write(`${line}\n`);
  }
}
