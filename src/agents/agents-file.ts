// The agents file: the admin bridge's entry and the agents an admin may start,
// each with the non-secret values of its config (channels, users, persona,
// model) and the 1Password items that hold its credentials: its Mattermost
// bot token and its GitHub token. Only credentials come from 1Password; an id
// or a user name taken from there would count as a secret, and the bridge
// logs those. Nothing in this file is secret.
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { AGENT_NAME, RESERVED_AGENT_NAMES } from '../contract.js';
import { ExitCode, hasErrno, StackError } from '../errors.js';

export interface AgentDefinition {
  name: string;
  /** The 1Password item that holds this bridge's Mattermost bot token (op://VAULT/ITEM, field `token`). */
  botTokenItem: string;
  /** The 1Password item that holds its GitHub token for Copilot (op://VAULT/ITEM, field `token`). */
  githubTokenItem: string;
  persona?: string;
  model?: string;
  channels: Array<{ id: string; name: string }>;
  /** Mattermost user names allowed to talk to it (none: everyone is denied, as copilot-bridge does without an access list). */
  users?: string[];
}

/** The name of the admin bridge's entry. */
export const ADMIN = 'admin';
const ITEM = /^op:\/\/[^/\s{}]+\/[^/\s{}]+$/;
/** What agents.example.json marks every value to replace with. */
export const PLACEHOLDER = 'REPLACE-WITH-';
type Fail = (message: string, exitCode?: (typeof ExitCode)[keyof typeof ExitCode], cause?: unknown) => never;

/** The agents an admin may start (the admin's own entry is read apart: see readAdminEntry). */
export function readAgentsFile(file: string): AgentDefinition[] {
  const list = (readTop(file) as { agents?: unknown } | null)?.agents;
  if (!Array.isArray(list)) return fileFail(`${file} must be an object with an "agents" list`);
  return list.map((entry, i) => {
    const name = (entry as { name?: unknown })?.name;
    if (typeof name !== 'string' || !AGENT_NAME.test(name))
      fileFail(`agents[${i}].name must be lower-case letters, digits and dashes (at most 31)`);
    if (RESERVED_AGENT_NAMES.includes(name as string) || name === ADMIN)
      fileFail(
        `agents[${i}].name '${name}' is reserved (a service of the stack, the admin, or a name Docker keeps); choose another`,
      );
    if (list.findIndex((other) => (other as { name?: unknown })?.name === name) !== i)
      fileFail(`agents[${i}].name '${name}' is listed twice; give each agent its own name`);
    return checkEntry(entry, name as string, `agents[${i}]`, fileFail);
  });
}

/**
 * The admin's entry alone (named `admin`, whatever it says), when the file
 * has one: a mistake in an agent's entry must not keep the admin bridge from
 * starting (the agent command and the guard refuse that agent themselves).
 */
export function readAdminEntry(file: string): AgentDefinition | undefined {
  const admin = (readTop(file) as { admin?: unknown } | null)?.admin;
  return admin === undefined ? undefined : checkEntry(admin, ADMIN, 'admin', fileFail);
}

/** The fields each level may have (an allow list: a misspelt field is named, not passed over). */
const TOP_FIELDS = ['admin', 'agents', '$comment', '$schema'];
const ENTRY_FIELDS = ['name', 'botTokenItem', 'githubTokenItem', 'persona', 'model', 'channels', 'users'];
const CHANNEL_FIELDS = ['id', 'name'];
/** A Mattermost id: 26 lower-case letters and digits. */
const MATTERMOST_ID = /^[a-z0-9]{26}$/;

function unknownField(value: unknown, allowed: readonly string[], where: string, fail: Fail): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  const extra = Object.keys(value).find((key) => !allowed.includes(key));
  // Quoted only when it looks like a field name: a value pasted as a key (a token) is not printed.
  if (extra !== undefined)
    fail(
      `${where} has a field ${/^[A-Za-z$][A-Za-z0-9]{0,23}$/.test(extra) ? `'${extra}'` : `(not shown: ${extra.length} characters that are no field name)`} this file does not know (a typo?); its fields are ${allowed.join(', ')}`,
    );
}

function readTop(file: string): unknown {
  const json = readJson(file);
  unknownField(json, TOP_FIELDS, file, fileFail);
  return json;
}

const fileFail: Fail = (message, exitCode = ExitCode.config, cause) => {
  throw new StackError('agents-file', message, { step: 'agents', exitCode, cause });
};

/** At most this much of an agents file is read: one of many agents is a few hundred bytes. */
const MAX_AGENTS_FILE_BYTES = 1024 * 1024;

function readJson(file: string): unknown {
  let text: string;
  try {
    // Without blocking: a FIFO at the path would otherwise hang whoever reads it (doctor, up, the guard).
    const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const st = fstatSync(fd);
      if (!st.isFile())
        return fileFail(`${file} is not a regular file; point AGENTS_FILE at the agents file itself`, ExitCode.config);
      if (st.size > MAX_AGENTS_FILE_BYTES)
        return fileFail(`${file} is larger than 1 MiB; is AGENTS_FILE the agents file?`, ExitCode.config);
      text = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if (error instanceof StackError) throw error;
    if (hasErrno(error, 'ENOENT'))
      return fileFail(
        `${file} does not exist; create it from agents.example.json or set AGENTS_FILE`,
        ExitCode.noInput,
        error,
      );
    return fileFail(
      `${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}); check its mode`,
      ExitCode.noInput,
      error,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    if (hasErrno(error, 'ENOENT'))
      return fileFail(
        `${file} does not exist; create it from agents.example.json or set AGENTS_FILE`,
        ExitCode.noInput,
        error,
      );
    return fileFail(`${file} is not valid JSON; fix it (see agents.example.json)`, ExitCode.dataErr, error);
  }
}

/** One entry, checked: every problem named by its place in the file and what to put there. */
export function checkEntry(entry: unknown, name: string, where: string, fail: Fail = defaultFail): AgentDefinition {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry))
    return fail(`${where} must be an object (see agents.example.json)`);
  const agent = entry as Partial<AgentDefinition>;
  unknownField(entry, ENTRY_FIELDS, where, fail);
  for (const key of ['botTokenItem', 'githubTokenItem'] as const) {
    if (typeof agent[key] !== 'string' || !ITEM.test(agent[key])) {
      fail(
        key === 'botTokenItem'
          ? `${where}.botTokenItem must be op://VAULT/ITEM: the 1Password item whose field 'token' holds the bot's Mattermost token`
          : `${where}.githubTokenItem must be op://VAULT/ITEM: the 1Password item whose field 'token' holds a GitHub token with Copilot access (a fine-grained token with only that)`,
      );
    }
  }
  if (
    !Array.isArray(agent.channels) ||
    agent.channels.some((c) => typeof c?.id !== 'string' || typeof c?.name !== 'string')
  )
    fail(`${where}.channels must be a list of { "id", "name" }`);
  agent.channels.forEach((c, j) => unknownField(c, CHANNEL_FIELDS, `${where}.channels[${j}]`, fail));
  if (agent.users !== undefined && (!Array.isArray(agent.users) || agent.users.some((u) => typeof u !== 'string')))
    fail(`${where}.users must be a list of Mattermost user names`);
  for (const key of ['persona', 'model'] as const)
    if (agent[key] !== undefined && typeof agent[key] !== 'string') fail(`${where}.${key} must be a string`);
  // Values reach the template as text: none may add a reference of its own (only the two items name 1Password items).
  const values: Array<[string, string]> = [
    ...(['persona', 'model'] as const)
      .filter((key) => agent[key] !== undefined)
      .map((key): [string, string] => [key, agent[key]!]),
    ...agent.channels!.flatMap(
      (c, j): Array<[string, string]> => [
        [`channels[${j}].id`, c.id],
        [`channels[${j}].name`, c.name],
      ],
    ),
    ...(agent.users ?? []).map((u, j): [string, string] => [`users[${j}]`, u]),
  ];
  for (const [place, value] of values) {
    if (/\{\{|\}\}|op:\/\//.test(value))
      fail(
        `${where}.${place} must not contain '{{', '}}' or 'op://'; only botTokenItem and githubTokenItem name 1Password items`,
      );
  }
  // The example file's placeholders: starting a bridge with them only fails later, less clearly.
  for (const [place, value] of [
    ...values,
    ['botTokenItem', agent.botTokenItem!],
    ['githubTokenItem', agent.githubTokenItem!],
  ] as Array<[string, string]>) {
    if (value.includes(PLACEHOLDER))
      fail(
        `${where}.${place} still holds the example's placeholder (${PLACEHOLDER}...); put the real value there (see "First run" in the README)`,
      );
  }
  agent.channels!.forEach((c, j) => {
    if (!MATTERMOST_ID.test(c.id))
      fail(
        `${where}.channels[${j}].id must be Mattermost's channel id, 26 lower-case letters and digits (in Mattermost: the channel's name, then View Info; or npm run init fills it)`,
      );
  });
  return {
    name,
    botTokenItem: agent.botTokenItem!,
    githubTokenItem: agent.githubTokenItem!,
    ...pick(agent, ['persona', 'model', 'users']),
    channels: agent.channels!.map((c) => ({ id: c.id, name: c.name })),
  };
}

export function findAgent(agents: readonly AgentDefinition[], name: string): AgentDefinition {
  const agent = agents.find((a) => a.name === name);
  if (!agent)
    throw new StackError(
      'agent-unknown',
      `no agent named ${name} in the agents file; known: ${agents.map((a) => a.name).join(', ') || 'none'}`,
      { step: 'agents', exitCode: ExitCode.usage },
    );
  return agent;
}

const defaultFail: Fail = (message, exitCode = ExitCode.config, cause) => {
  throw new StackError('agent-entry', message, { step: 'agents', exitCode, cause });
};

function pick<T extends object, K extends keyof T>(object: T, keys: readonly K[]): Partial<Pick<T, K>> {
  return Object.fromEntries(
    keys.filter((key) => object[key] !== undefined).map((key) => [key, object[key]]),
  ) as Partial<Pick<T, K>>;
}

/**
 * Each bridge's items are its own: two entries naming one item would hand one
 * bridge another's token (and `init` would store one bot's token over
 * another's). With `ignoreVault` (the local vault, one vault), `op://A/x` and
 * `op://B/x` are one item. Returns the first clash, or undefined.
 */
export function sharedItem(
  entries: ReadonlyArray<{ name: string; botTokenItem: string; githubTokenItem: string }>,
  ignoreVault: boolean,
): string | undefined {
  const owner = new Map<string, string>();
  for (const entry of entries) {
    for (const [field, ref] of [
      ['botTokenItem', entry.botTokenItem],
      ['githubTokenItem', entry.githubTokenItem],
    ] as const) {
      const item = ignoreVault ? ref.replace(/^op:\/\/[^/]+\//, '') : ref;
      const first = owner.get(item);
      if (first !== undefined && first !== `${entry.name}.${field}`) {
        return `${first} and ${entry.name}.${field} name the same item (${ref}); give each bridge its own items, or one bridge would receive another's token`;
      }
      owner.set(item, `${entry.name}.${field}`);
    }
  }
  return undefined;
}
