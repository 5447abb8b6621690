// Mattermost's database, made ready before Mattermost starts (`up` starts
// PostgreSQL alone first):
//   1. It takes Mattermost's login (its healthcheck logs in as mmuser). A
//      volume whose first start did not create mmuser (an init script it could
//      not read) gets mmuser and its database now, as the init script makes
//      them, and `up` says so.
//   2. Mattermost moves one Extended Support Release at a time: when the
//      database's version and the image's tag say an ESR would be skipped,
//      `up` stops, before anything is changed, and names the release to go
//      through first.
//   3. A database made by an older stack has mmuser as PostgreSQL's bootstrap
//      superuser, with a password. Code running as Mattermost could then run
//      programs in the postgres container (COPY ... FROM PROGRAM). Since
//      PostgreSQL 16 the bootstrap superuser cannot lose SUPERUSER, so it is
//      renamed mm_bootstrap and may no longer log in, a superuser `postgres`
//      is made for the operator (peer, inside the container only), and a new
//      mmuser without privileges and without password takes over the
//      database and everything in it, in one transaction.
//   4. The password an older stack sealed (mm-db-password) is forgotten.
import { ExitCode, StackError } from '../../src/errors.js';
import type { BackendContext } from '../backends/backend.js';
import { holders } from '../backends/registry.js';
import type { Io } from '../io.js';
import { DB_PASSWORD_NAME } from '../paths.js';
import { compose, inspect } from './compose.js';
import type { Stack } from './stack.js';

const SERVICE = 'postgres';
const HEALTH_WAIT_MS = 90_000;

/** What templates/postgres/initdb/10-mattermost.sql makes, for a volume whose init did not. */
const CREATE_MMUSER = `CREATE ROLE mmuser LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
CREATE DATABASE mattermost OWNER mmuser;`;

const CREATE_POSTGRES = `DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'postgres') THEN CREATE ROLE postgres SUPERUSER LOGIN; END IF;
END $$;`;

/** As postgres (peer), connected to the database mattermost: the new mmuser takes over from the old one. */
const DEMOTE_MMUSER = `BEGIN;
ALTER ROLE mmuser RENAME TO mm_bootstrap;
ALTER ROLE mm_bootstrap NOLOGIN PASSWORD NULL;
CREATE ROLE mmuser LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
ALTER DATABASE mattermost OWNER TO mmuser;
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT n.nspname FROM pg_namespace n
      WHERE n.nspowner = 'mm_bootstrap'::regrole AND n.nspname NOT IN ('information_schema') AND n.nspname NOT LIKE 'pg\\_%' LOOP
    EXECUTE format('ALTER SCHEMA %I OWNER TO mmuser', r.nspname);
  END LOOP;
  FOR r IN SELECT c.oid::regclass AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relowner = 'mm_bootstrap'::regrole AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
        -- a sequence a column owns (serial, identity) goes with its table
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')) LOOP
    EXECUTE format('ALTER TABLE %s OWNER TO mmuser', r.name);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE p.proowner = 'mm_bootstrap'::regrole AND n.nspname NOT IN ('pg_catalog', 'information_schema') LOOP
    EXECUTE format('ALTER ROUTINE %s OWNER TO mmuser', r.name);
  END LOOP;
  FOR r IN SELECT t.oid::regtype AS name FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE t.typowner = 'mm_bootstrap'::regrole AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND t.typtype IN ('e', 'd', 'r', 'm', 'c') AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c') LOOP
    EXECUTE format('ALTER TYPE %s OWNER TO mmuser', r.name);
  END LOOP;
END $$;
COMMIT;`;

/** Mattermost's Extended Support Releases, oldest first (major.minor). */
export const ESRS = ['9.5', '9.11', '10.5', '10.11', '11.7', '12.4'];

const version = (text: string): [number, number] | undefined => {
  const match = /(\d+)\.(\d+)(?:\.\d+)?/.exec(text);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
};
const below = (a: [number, number], b: [number, number]) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);

/** The ESR that lies strictly between the database's version and the image's, if any (the first one to go through). */
export function skippedEsr(databaseVersion: string, imageTag: string): string | undefined {
  const from = version(databaseVersion);
  const to = version(imageTag);
  if (!from || !to) return undefined;
  return ESRS.find((esr) => {
    const at = version(esr)!;
    return below(from, at) && below(at, to);
  });
}

interface Psql {
  exitCode: number;
  stdout: string;
  stderr: string;
}

async function psql(
  stack: Stack,
  extra: Record<string, string>,
  as: 'mmuser' | 'postgres',
  database: string,
  sql: string,
  cancel: AbortSignal,
): Promise<Psql> {
  const { execa } = await import('execa');
  const user = as === 'postgres' ? ['-u', 'postgres'] : [];
  const result = await execa(
    stack.tool.file,
    [
      ...stack.tool.prefix,
      ...stack.files,
      'exec',
      '-T',
      ...user,
      SERVICE,
      'psql',
      '-X',
      '-q',
      '-t',
      '-A',
      '-v',
      'ON_ERROR_STOP=1',
      '-h',
      '/var/run/postgresql',
      '-U',
      as,
      '-d',
      database,
      '-f',
      '-',
    ],
    {
      env: { ...stack.env, ...extra },
      extendEnv: false,
      reject: false,
      input: sql,
      cancelSignal: cancel,
    },
  );
  return { exitCode: result.exitCode ?? 1, stdout: String(result.stdout).trim(), stderr: String(result.stderr).trim() };
}

const failed = (code: string, message: string, cause?: unknown) =>
  new StackError(code, message, { step: 'database', exitCode: ExitCode.unavailable, cause });

async function healthy(
  stack: Stack,
  extra: Record<string, string>,
  timeoutMs: number,
  cancel: AbortSignal,
): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    cancel.throwIfAborted();
    const state = (await inspect({ ...stack, extra })).find((s) => s.service === SERVICE);
    if (state?.health === 'healthy') return true;
    if (state && (state.status === 'exited' || state.status === 'dead')) {
      throw failed(
        'database-failed',
        `postgres ${state.status} with status ${state.exitCode}; see npm run compose -- logs postgres`,
      );
    }
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

export async function prepareDatabase(
  stack: Stack,
  extra: Record<string, string>,
  mattermostImage: string | undefined,
  context: BackendContext,
  io: Io,
  cancel: AbortSignal,
  label = 'up',
): Promise<void> {
  io.stderr.write(`${label}: ${stack.tool.label} up -d ${SERVICE} (the database first)\n`);
  await compose(stack.tool, [...stack.files, 'up', '-d', SERVICE], stack.env, extra, io.stderr, cancel);
  // 1. Mattermost's login.
  if (!(await healthy(stack, extra, HEALTH_WAIT_MS, cancel))) {
    const roles = await psql(
      stack,
      extra,
      'postgres',
      'postgres',
      "SELECT count(*) FROM pg_roles WHERE rolname = 'mmuser';",
      cancel,
    );
    if (roles.exitCode !== 0 || roles.stdout !== '0') {
      throw failed(
        'database-unhealthy',
        `postgres takes no login as mmuser after ${HEALTH_WAIT_MS / 1000} s (${roles.stderr.split('\n')[0] || 'mmuser exists'}); see npm run compose -- logs postgres`,
      );
    }
    io.stderr.write(
      `${label}: the database volume has no mmuser (its first start could not run templates/postgres/initdb: check that the directory is readable); creating mmuser and its database now\n`,
    );
    const database = await psql(stack, extra, 'postgres', 'postgres', CREATE_MMUSER, cancel);
    if (database.exitCode !== 0)
      throw failed(
        'database-init',
        `creating mmuser failed (${database.stderr.split('\n')[0]}); see npm run compose -- logs postgres`,
      );
    if (!(await healthy(stack, extra, 30_000, cancel)))
      throw failed('database-unhealthy', 'postgres is still not healthy; see npm run compose -- logs postgres');
  }
  // 2. One ESR at a time (before anything is changed).
  const image = mattermostImage ?? '';
  const tag = image.includes(':') ? image.slice(image.lastIndexOf(':') + 1) : '';
  const stored = await psql(
    stack,
    extra,
    'mmuser',
    'mattermost',
    `SELECT CASE WHEN to_regclass('public."Systems"') IS NULL THEN '' ELSE (SELECT coalesce(max("Value"), '') FROM "Systems" WHERE "Name" = 'Version') END;`,
    cancel,
  );
  const skipped = stored.exitCode === 0 ? skippedEsr(stored.stdout, tag) : undefined;
  if (skipped && stack.settings.MM_ALLOW_ESR_SKIP !== '1') {
    throw new StackError(
      'esr-skip',
      `the database is Mattermost ${stored.stdout}, and MM_IMAGE (${image}) would skip the ${skipped} Extended Support Release; upgrade through it first: set MM_IMAGE to its newest ${skipped}.x patch, npm run up, then set it back (MM_ALLOW_ESR_SKIP=1 skips this check)`,
      {
        step: 'database',
        exitCode: ExitCode.config,
      },
    );
  }
  // 3. An older stack's superuser mmuser.
  const superuser = await psql(
    stack,
    extra,
    'mmuser',
    'mattermost',
    'SELECT rolsuper FROM pg_roles WHERE rolname = current_user;',
    cancel,
  );
  if (superuser.exitCode !== 0)
    throw failed(
      'database-check',
      `cannot log in as mmuser (${superuser.stderr.split('\n')[0]}); see npm run compose -- logs postgres`,
    );
  if (superuser.stdout === 't') {
    const postgres = await psql(stack, extra, 'mmuser', 'mattermost', CREATE_POSTGRES, cancel);
    const demoted =
      postgres.exitCode === 0 ? await psql(stack, extra, 'postgres', 'mattermost', DEMOTE_MMUSER, cancel) : postgres;
    if (demoted.exitCode !== 0) {
      throw failed(
        'database-migrate',
        `making mmuser an ordinary owner failed and was rolled back (${demoted.stderr.split('\n')[0]}); nothing of Mattermost was started; report it, or run npm run up again`,
      );
    }
    io.stderr.write(
      `${label}: migrated the database of an older stack: mmuser is no longer a superuser and has no password (the old role is mm_bootstrap, which cannot log in); the database and its objects belong to the new mmuser\n`,
    );
  }
  // 4. The sealed password of an older stack.
  const sealed = await holders(context, DB_PASSWORD_NAME);
  for (const holder of sealed) await holder.forget(DB_PASSWORD_NAME);
  if (sealed.length > 0)
    io.stderr.write(
      `${label}: retired ${DB_PASSWORD_NAME}: the database takes no password, and the sealed copy is forgotten\n`,
    );
}
