// Hidden input on a terminal: raw mode, no echo, one line. Ctrl-C and Ctrl-D
// reject with `interrupted` (the CLI exits 130 and nothing is sealed); the
// terminal's mode is restored in every case.
import { ExitCode, StackError } from '../src/errors.js';
import type { Io } from './io.js';

const MAX_CHARS = 8192;

/** Asks `question` on stderr and reads a line from the terminal on stdin without echoing it. */
export function promptHidden(io: Io, question: string): Promise<string> {
  const { stdin, stderr } = io;
  if (!stdin.isTTY || !stdin.setRawMode) {
    return Promise.reject(
      new StackError('no-tty', 'a hidden prompt needs a terminal on stdin', {
        step: 'prompt',
        exitCode: ExitCode.usage,
      }),
    );
  }
  const setRawMode = stdin.setRawMode.bind(stdin);
  // Echo off before the question shows: what is typed or pasted as soon as it appears is never echoed.
  setRawMode(true);
  stderr.write(question);
  return new Promise<string>((resolve, reject) => {
    let chars: string[] = [];
    const finish = (error: StackError | undefined) => {
      stdin.off('data', onData);
      setRawMode(false);
      stdin.pause();
      stderr.write('\n');
      const text = chars.join('');
      chars = [];
      if (error) reject(error);
      else resolve(text);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\u0003' || (char === '\u0004' && chars.length === 0)) {
          // The CLI's edge turns code `interrupted` into 130, as a shell reports SIGINT.
          return finish(
            new StackError('interrupted', 'interrupted; nothing was sealed or changed', {
              step: 'prompt',
              exitCode: ExitCode.interrupted,
            }),
          );
        }
        if (char === '\r' || char === '\n' || char === '\u0004') return finish(undefined);
        if (char === '\u007f' || char === '\b') chars.pop();
        else if (char === '\u0015') chars = [];
        else if (char >= ' ' && chars.length < MAX_CHARS) chars.push(char);
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}

/** Asks `question` on stderr and reads one visible line from the terminal on stdin (not for secrets). */
export async function promptLine(io: Io, question: string): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const reader = createInterface({ input: io.stdin, output: io.stderr, terminal: false });
  try {
    io.stderr.write(question);
    for await (const line of reader) return line;
    return '';
  } finally {
    reader.close();
  }
}
