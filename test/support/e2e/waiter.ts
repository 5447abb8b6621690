// A tiny image for tests that need containers and nothing in them: FROM
// scratch, one static program that prints its first argument and waits
// (no shell, no loader), so a container of it runs until it is removed.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { docker } from './run.js';

/** Builds the waiter image as `tag` from a build directory made under `root`; returns that directory. */
export async function buildWaiter(root: string, tag: string): Promise<string> {
  const build = join(root, 'image');
  mkdirSync(build, { recursive: true });
  writeFileSync(
    join(build, 'waiter.c'),
    '#include <stdio.h>\n#include <unistd.h>\nint main(int c, char **v) { if (c > 1) { puts(v[1]); fflush(stdout); } for (;;) pause(); }\n',
  );
  await execa('musl-gcc', ['-static', '-Os', '-o', join(build, 'waiter'), join(build, 'waiter.c')]);
  writeFileSync(join(build, 'Dockerfile'), 'FROM scratch\nCOPY waiter /waiter\nENTRYPOINT ["/waiter"]\n');
  await docker(['build', '-q', '-t', tag, build], { timeoutMs: 120_000 });
  return build;
}
