// `init`: the first run, automated. With a store for what it makes (the
// local vault by default; with SECRETS_SOURCE=1password the host's own
// 1Password sign-in) and a Mattermost system admin (made on a fresh
// Mattermost, its login kept in the store as mattermost-admin; asked for at a
// terminal otherwise), it brings up the database and Mattermost alone, then
// for the admin bridge and each agent of the agents file makes (or finds) a
// bot, its access token, its channels and their members through Mattermost's
// REST API, stores each token at the entry's botTokenItem (never on argv),
// asks at a terminal for the GitHub tokens the local vault lacks, writes the
// non-secret ids into the agents file, and says what it did and what is
// left. Run twice, it makes nothing new.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, existsSync, fsyncSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { ADMIN, PLACEHOLDER, sharedItem } from '../../src/agents/agents-file.js';
import { AGENT_NAME } from '../../src/contract.js';
import { ExitCode, errnoCode, StackError } from '../../src/errors.js';
import { writeFileAtomic } from '../../src/fs/atomic-write.js';
import { secretsSource } from '../../src/stack/settings.js';
import { contextOf, sealedNames } from '../backends/registry.js';
import type { Io } from '../io.js';
import { type ItemStore, LocalVaultStore, OnePasswordStore } from '../item-store.js';
import { type ItemRef, itemRef } from '../op-account.js';
import { type OptionSpec, type Parsed, secondsOption } from '../options.js';
import { DEFAULT_NAME } from '../paths.js';
import { promptHidden, promptLine } from '../prompt.js';
import { compose, waitService } from '../stack/compose.js';
import { prepareDatabase } from '../stack/database.js';
import { MattermostApi, type MattermostUser } from '../stack/mattermost-api.js';
import { preflight, whilePulling } from '../stack/preflight.js';
import { composeEnv, openStack, type Stack } from '../stack/stack.js';

export const options: OptionSpec = {
  file: 'strings',
  'admin-user': 'string',
  'admin-email': 'string',
  team: 'string',
  user: 'string',
  url: 'string',
  timeout: 'string',
};

const STEP = 'init';
const usage = (message: string) => new StackError('usage', message, { step: STEP, exitCode: ExitCode.usage });

interface Entry {
  name: string;
  raw: { botTokenItem?: unknown; githubTokenItem?: unknown; channels?: unknown; users?: unknown };
}

/** The agents file as JSON, with each bridge's entry (placeholders allowed: init fills them). */
function readEntries(file: string): {
  json: { admin?: Entry['raw']; agents?: Array<Entry['raw'] & { name?: unknown }> };
  entries: Entry[];
} {
  let json: { admin?: Entry['raw']; agents?: Array<Entry['raw'] & { name?: unknown }> };
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new StackError('agents-file', `cannot read ${file} as JSON; fix it (see agents.example.json)`, {
      step: STEP,
      exitCode: ExitCode.dataErr,
      cause: error,
    });
  }
  const entries: Entry[] = [];
  if (json.admin) entries.push({ name: ADMIN, raw: json.admin });
  for (const [i, agent] of (json.agents ?? []).entries()) {
    if (typeof agent.name !== 'string' || !AGENT_NAME.test(agent.name))
      throw new StackError('agents-file', `agents[${i}].name must be lower-case letters, digits and dashes`, {
        step: STEP,
        exitCode: ExitCode.config,
      });
    entries.push({ name: agent.name, raw: agent });
  }
  if (!json.admin)
    throw new StackError('agents-file', `${file} has no "admin" entry; start from agents.example.json`, {
      step: STEP,
      exitCode: ExitCode.config,
    });
  for (const entry of entries) {
    for (const key of ['botTokenItem', 'githubTokenItem'] as const) {
      if (typeof entry.raw[key] !== 'string')
        throw new StackError(
          'agents-file',
          `${entry.name === ADMIN ? 'admin' : entry.name}.${key} must be op://VAULT/ITEM`,
          { step: STEP, exitCode: ExitCode.config },
        );
      itemRef(entry.raw[key] as string);
    }
    if (!Array.isArray(entry.raw.channels) || entry.raw.channels.length === 0)
      throw new StackError('agents-file', `${entry.name}.channels must list at least one { "id", "name" }`, {
        step: STEP,
        exitCode: ExitCode.config,
      });
  }
  return { json, entries };
}

/** Where the agents file is, and (for the example file) where init writes the filled-in copy. */
function agentsFiles(stack: Stack): { read: string; write: string; fromExample: boolean } {
  const named = resolve(stack.projectDir, stack.settings.AGENTS_FILE!);
  if (relative(stack.projectDir, named) !== 'agents.example.json')
    return { read: named, write: named, fromExample: false };
  // The example is never written: init fills in a copy, agents.json (or goes on with the one an earlier run made).
  const copy = join(stack.projectDir, 'agents.json');
  return { read: existsSync(copy) ? copy : named, write: copy, fromExample: true };
}

/**
 * A new agents file is placed atomically; an existing one is rewritten in
 * place: the running admin and guard bind-mount the file itself, and after a
 * rename they would go on reading the old copy (its inode).
 */
function writeAgentsFile(path: string, text: string): void {
  if (!existsSync(path)) {
    writeFileAtomic(path, text, 0o644);
    return;
  }
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC | constants.O_NOFOLLOW);
  } catch (error) {
    throw new StackError(
      'agents-file',
      `cannot rewrite ${path} in place (${errnoCode(error) ?? 'error'}: a symbolic link, or not writable); point AGENTS_FILE at the file itself`,
      { step: STEP, exitCode: ExitCode.cantCreate, cause: error },
    );
  }
  try {
    writeFileSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Points AGENTS_FILE at the filled-in copy in `.env` (made if missing; the line replaced if there). */
export function pointEnvAt(dir: string, value: string): void {
  const file = join(dir, '.env');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const line = `AGENTS_FILE=${value}`;
  const next = /^\s*AGENTS_FILE\s*=.*$/m.test(text)
    ? text.replace(/^\s*AGENTS_FILE\s*=.*$/m, line)
    : `${text}${text && !text.endsWith('\n') ? '\n' : ''}# The agents file npm run init filled in.\n${line}\n`;
  writeFileAtomic(file, next, 0o644);
}

export async function run(parsed: Parsed, io: Io): Promise<void> {
  const say = (line: string) => io.stderr.write(`init: ${line}\n`);
  const stack = await openStack(parsed, io);
  const files = agentsFiles(stack);
  const { json, entries } = readEntries(files.read);
  const adminUser = typeof parsed['admin-user'] === 'string' ? parsed['admin-user'] : 'admin';
  if (!/^[a-z][a-z0-9._-]{2,21}$/.test(adminUser))
    throw usage(
      '--admin-user takes a Mattermost user name: 3 to 22 lower-case letters, digits, ".", "_" or "-", starting with a letter',
    );
  const adminEmail =
    typeof parsed['admin-email'] === 'string' ? parsed['admin-email'] : `${adminUser}@localhost.localdomain`;
  const teamName = typeof parsed.team === 'string' ? parsed.team : 'copilot';
  if (!/^[a-z0-9][a-z0-9-]{1,63}$/.test(teamName))
    throw usage('--team takes a team name: lower-case letters, digits and dashes, 2 to 64');
  const timeout = secondsOption(parsed, 'timeout', 300);
  const local = secretsSource(stack.settings) === 'vault';
  const clash = sharedItem(
    entries.map((entry) => ({
      name: entry.name,
      botTokenItem: String(entry.raw.botTokenItem),
      githubTokenItem: String(entry.raw.githubTokenItem),
    })),
    local,
  );
  if (clash) throw new StackError('agents-file', `${files.read}: ${clash}`, { step: STEP, exitCode: ExitCode.config });
  const store: ItemStore = local ? new LocalVaultStore(io) : new OnePasswordStore(io.env);
  await store.assertReady();
  const adminVault = itemRef(entries[0]!.raw.botTokenItem as string).vault;
  const adminItem: ItemRef = { vault: adminVault, item: 'mattermost-admin' };
  const url =
    typeof parsed.url === 'string'
      ? parsed.url
      : `http://${stack.settings.MM_BIND_ADDRESS && stack.settings.MM_BIND_ADDRESS !== '0.0.0.0' ? stack.settings.MM_BIND_ADDRESS : '127.0.0.1'}:${stack.settings.MM_HTTP_PORT || '8065'}`;
  const made: string[] = [];
  const left: string[] = [];

  // 1. The database and Mattermost, alone (no token is needed for them).
  const extra = composeEnv(stack.dir, []);
  const controller = new AbortController();
  const context = contextOf(io);
  // What up checks first, before anything starts: the engine, the compose model, the published ports, the images.
  const { missing } = await preflight(stack, extra, io, controller.signal, false);
  await whilePulling(
    { ...stack.env, ...extra },
    missing,
    async () => {
      await prepareDatabase(stack, extra, undefined, context, io, controller.signal, 'init');
      say(`${stack.tool.label} up -d mattermost`);
      await compose(
        stack.tool,
        [...stack.files, 'up', '-d', 'mattermost'],
        stack.env,
        extra,
        io.stderr,
        controller.signal,
      );
    },
    'init',
  );
  await waitService({ ...stack, extra }, 'mattermost', timeout, io.stderr);
  const api = new MattermostApi(url);

  // 2. A system admin: the one init made before (its login in the store), a new one on a fresh server, or the one typed
  // in.
  let admin: MattermostUser;
  if (await store.exists(adminItem)) {
    admin = await api.login(await store.read(adminItem, 'username'), await store.read(adminItem, 'password'));
    say(`logged in as ${admin.username} (its login from ${store.describe(adminItem)})`);
  } else {
    const password = randomBytes(24).toString('base64url');
    await store.create(adminItem, { username: adminUser, password }); // kept first: a password that exists nowhere is lost
    if (await api.createFirstAdmin(adminUser, adminEmail, password)) {
      admin = await api.login(adminUser, password);
      made.push(`the system admin ${adminUser} on the fresh Mattermost (its login in ${store.describe(adminItem)})`);
    } else {
      await store.remove(adminItem);
      if (!io.stdin.isTTY) {
        throw new StackError(
          'admin-needed',
          `Mattermost already has users and there is no ${store.describe(adminItem)}: run init at a terminal to give a system admin's login, or store one there (fields username and password)`,
          { step: STEP, exitCode: ExitCode.noPerm },
        );
      }
      const name = (await promptLine(io, "a Mattermost system admin's user name: ")).trim();
      admin = await api.login(name, await promptHidden(io, `${name}'s password (input hidden): `));
    }
  }

  // 3. The team, and who may talk to the bridges.
  const team = await api.team(teamName, teamName);
  if (team.created) made.push(`the team ${teamName}`);
  await api.joinTeam(team.id, admin.id);
  const humanName = typeof parsed.user === 'string' ? parsed.user : admin.username;
  const human = await api.user(humanName);
  if (!human)
    throw usage(
      `--user ${humanName}: Mattermost has no such user; create it first, or leave --user out to use the admin`,
    );
  await api.joinTeam(team.id, human.id);

  // 4. Each bridge: its bot, its token in the store, its channels.
  let changed = false;
  for (const entry of entries) {
    const botName = `bridge-${entry.name}`;
    const item = itemRef(entry.raw.botTokenItem as string);
    let bot = await api.user(botName);
    const newBot = !bot;
    if (bot && !bot.is_bot)
      throw new StackError(
        'not-a-bot',
        `Mattermost's ${botName} is a person's account, not a bot; rename that user, then run init again`,
        { step: STEP, exitCode: ExitCode.config },
      );
    bot ??= await api.createBot(
      botName,
      `copilot-bridge ${entry.name}`,
      `copilot-bridge ${entry.name === ADMIN ? 'admin bridge' : `agent ${entry.name}`}`,
    );
    if (newBot) made.push(`the bot ${botName}`);
    await api.joinTeam(team.id, bot.id);
    const stored = await store.exists(item);
    if (newBot || !stored) {
      if (stored) await store.remove(item); // the token of a bot that no longer exists
      await store.create(item, { token: await api.createToken(bot.id, botName, 'copilot-bridge (npm run init)') });
      made.push(`an access token for ${botName}, stored as ${store.describe(item)}/token`);
    }
    for (const channel of entry.raw.channels as Array<{ id?: unknown; name?: unknown }>) {
      if (typeof channel.name !== 'string' || !/^[a-z0-9][a-z0-9_-]{0,63}$/.test(channel.name)) {
        throw new StackError(
          'agents-file',
          `${entry.name}: each channel needs a "name" of lower-case letters, digits, - and _`,
          { step: STEP, exitCode: ExitCode.config },
        );
      }
      const found = await api.channel(team.id, channel.name, channel.name);
      if (found.created) made.push(`the private channel ${teamName}/${channel.name}`);
      await api.joinChannel(found.id, bot.id);
      await api.joinChannel(found.id, human.id);
      if (channel.id !== found.id) {
        channel.id = found.id;
        changed = true;
      }
    }
    const users = entry.raw.users;
    if (
      !Array.isArray(users) ||
      users.length === 0 ||
      users.some((u) => typeof u === 'string' && u.includes(PLACEHOLDER))
    ) {
      entry.raw.users = [human.username];
      changed = true;
    }
    const github = itemRef(entry.raw.githubTokenItem as string);
    if (!(await store.exists(github))) {
      const typed =
        local && io.stdin.isTTY
          ? await promptHidden(
              io,
              `GitHub token for ${entry.name} (fine-grained, Copilot access only; stored as ${github.item}/token; input hidden, Enter to skip): `,
            )
          : '';
      if (typed) {
        await store.create(github, { token: typed });
        made.push(`${store.describe(github)}/token (the GitHub token you typed)`);
      } else if (local) {
        left.push(
          `a GitHub token for ${entry.name} (fine-grained, Copilot access only): npm run vault -- set ${github.item}/token`,
        );
      } else {
        left.push(
          `a GitHub token for ${entry.name}: a fine-grained token with Copilot access only, stored as op://${github.vault}/${github.item} in its field token (in the 1Password app, or: op item create --vault ${github.vault} --title ${github.item} --category "API Credential" --template FILE)`,
        );
      }
    }
  }

  // 5. The non-secret ids, into the agents file.
  if (changed || files.read !== files.write) {
    writeAgentsFile(files.write, `${JSON.stringify(json, null, 2)}\n`);
    made.push(`${relative(process.cwd(), files.write) || files.write}: the channel ids and users`);
    if (files.fromExample) {
      pointEnvAt(stack.projectDir, './agents.json');
      made.push('.env: AGENTS_FILE=./agents.json');
    }
  }
  if (!local && !(await sealedNames(context)).some((entry) => entry.name === DEFAULT_NAME)) {
    left.push(
      'the stack\'s service-account token, sealed: op read "op://VAULT/ITEM/credential" | npm run --silent seal (a service account that may read the vault of these items)',
    );
  }
  say(
    made.length
      ? `made:\n${made.map((line) => `  - ${line}`).join('\n')}`
      : 'nothing new: everything was there already',
  );
  say(
    left.length
      ? `still to do:\n${left.map((line) => `  - ${line}`).join('\n')}\nthen: npm run up`
      : 'next: npm run up',
  );
}
