// The database password of stacks made before PostgreSQL lost its network:
// such a stack's first `up` sealed `mm-db-password`, and PostgreSQL gave it to
// mmuser (its superuser there). The stack no longer uses it (Mattermost reaches
// the database over a socket only it and PostgreSQL share), so `up` retires
// it: the role's stored password is removed, then the sealed copy is
// forgotten. Never released, never printed.
import type { Writable } from 'node:stream';
import { ExitCode, StackError } from '../src/errors.js';
import type { BackendContext } from './backends/backend.js';
import { holders } from './backends/registry.js';
import { compose, type Compose } from './compose.js';
import { DB_PASSWORD_NAME } from './paths.js';

/** The statement, as mmuser over the socket (pg_hba.conf trusts it there): a role may always change its own password. */
export const RETIRE_SQL = 'ALTER ROLE mmuser PASSWORD NULL';

export async function retireDatabasePassword(tool: Compose, files: string[], env: NodeJS.ProcessEnv, extra: Record<string, string>, context: BackendContext, progress: Writable): Promise<void> {
  const sealed = await holders(context, DB_PASSWORD_NAME);
  if (sealed.length === 0) return;
  const psql = ['exec', '-T', 'postgres', 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-U', 'mmuser', '-d', 'mattermost', '-c', RETIRE_SQL];
  try {
    await compose(tool, [...files, ...psql], env, extra, progress);
  } catch (error) {
    throw new StackError(
      'db-password-retire',
      `the stack runs, but removing the old database password failed (see psql's output above); run ${tool.label} exec -T postgres psql -U mmuser -d mattermost -c '${RETIRE_SQL}', then npm run forget -- --name ${DB_PASSWORD_NAME}`,
      { step: 'up', exitCode: ExitCode.unavailable, cause: error },
    );
  }
  for (const holder of sealed) await holder.forget(DB_PASSWORD_NAME);
  progress.write(`up: retired ${DB_PASSWORD_NAME}: mmuser has no password any more and the sealed copy is forgotten (the database is reached over its socket only)\n`);
}
