// The few Mattermost REST calls `init` makes (API v4), with one-line errors
// that name the call and Mattermost's own error id, never a token.
import { ExitCode, StackError } from '../../src/errors.js';

export interface MattermostUser {
  id: string;
  username: string;
  is_bot?: boolean;
  roles?: string;
}

interface Answer<T> {
  status: number;
  body: T;
  token: string | null;
}

export class MattermostApi {
  private session: string | undefined;

  constructor(private readonly base: string) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
    let response: Response;
    try {
      response = await fetch(`${this.base}/api/v4${path}`, {
        method,
        headers: {
          'content-type': 'application/json',
          ...(this.session ? { authorization: `Bearer ${this.session}` } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new StackError(
        'mattermost-unreachable',
        `Mattermost does not answer at ${this.base} (${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}); check MM_BIND_ADDRESS and MM_HTTP_PORT`,
        { step: 'init', exitCode: ExitCode.unavailable, cause: error },
      );
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: response.status, body: parsed as T, token: response.headers.get('token') };
  }

  /** A call that must succeed: anything but `expected` is an error naming the call and Mattermost's error id. */
  private async must<T>(what: string, method: string, path: string, body?: unknown, expected = [200, 201]): Promise<T> {
    const answer = await this.call<T>(method, path, body);
    if (!expected.includes(answer.status)) throw this.refused(what, answer);
    return answer.body;
  }

  private refused(what: string, answer: Answer<unknown>): StackError {
    const id = (answer.body as { id?: string } | undefined)?.id ?? 'no error id';
    const hint =
      id === 'api.bot.create_disabled' || id === 'api.user.create_user_access_token.disabled'
        ? '; the stack enables bot accounts and access tokens in compose.yml: restart Mattermost with it (npm run compose -- up -d mattermost)'
        : answer.status === 401 || answer.status === 403
          ? '; the Mattermost user must be a system admin'
          : '';
    return new StackError('mattermost-refused', `Mattermost refused to ${what} (HTTP ${answer.status}, ${id})${hint}`, {
      step: 'init',
      exitCode: ExitCode.unavailable,
    });
  }

  /** Creates the first user (a fresh server makes it system admin); false when the server already has users. */
  async createFirstAdmin(username: string, email: string, password: string): Promise<boolean> {
    const answer = await this.call<MattermostUser>('POST', '/users', { username, email, password });
    if (answer.status === 201) return true;
    if (answer.status === 403 || answer.status === 401) return false;
    throw this.refused(`create the first user ${username}`, answer);
  }

  async login(username: string, password: string): Promise<MattermostUser> {
    const answer = await this.call<MattermostUser>('POST', '/users/login', { login_id: username, password });
    if (answer.status !== 200 || !answer.token) {
      throw new StackError(
        'mattermost-login',
        `Mattermost refused the login of ${username} (HTTP ${answer.status}); check the user name and password (the item mattermost-admin in 1Password, if init made it)`,
        { step: 'init', exitCode: ExitCode.noPerm },
      );
    }
    this.session = answer.token;
    if (!(answer.body.roles ?? '').split(' ').includes('system_admin')) {
      throw new StackError(
        'mattermost-not-admin',
        `${username} is not a system admin of Mattermost; init needs one to create bots, tokens and channels`,
        { step: 'init', exitCode: ExitCode.noPerm },
      );
    }
    return answer.body;
  }

  async user(username: string): Promise<MattermostUser | undefined> {
    const answer = await this.call<MattermostUser>('GET', `/users/username/${encodeURIComponent(username)}`);
    if (answer.status === 404) return undefined;
    if (answer.status !== 200) throw this.refused(`look up ${username}`, answer);
    return answer.body;
  }

  async createBot(username: string, displayName: string, description: string): Promise<MattermostUser> {
    const bot = await this.must<{ user_id: string; username: string }>(`create the bot ${username}`, 'POST', '/bots', {
      username,
      display_name: displayName,
      description,
    });
    return { id: bot.user_id, username: bot.username, is_bot: true };
  }

  /** A new personal access token of a user; Mattermost shows it in this answer only. */
  async createToken(userId: string, username: string, description: string): Promise<string> {
    const answer = await this.must<{ token: string }>(
      `create an access token for ${username}`,
      'POST',
      `/users/${userId}/tokens`,
      { description },
    );
    return answer.token;
  }

  async team(name: string, displayName: string): Promise<{ id: string; created: boolean }> {
    const found = await this.call<{ id: string }>('GET', `/teams/name/${encodeURIComponent(name)}`);
    if (found.status === 200) return { id: found.body.id, created: false };
    if (found.status !== 404) throw this.refused(`look up the team ${name}`, found);
    const made = await this.must<{ id: string }>(`create the team ${name}`, 'POST', '/teams', {
      name,
      display_name: displayName,
      type: 'I',
    });
    return { id: made.id, created: true };
  }

  async joinTeam(teamId: string, userId: string): Promise<void> {
    await this.must('add a user to the team', 'POST', `/teams/${teamId}/members`, { team_id: teamId, user_id: userId });
  }

  async channel(teamId: string, name: string, displayName: string): Promise<{ id: string; created: boolean }> {
    const found = await this.call<{ id: string }>('GET', `/teams/${teamId}/channels/name/${encodeURIComponent(name)}`);
    if (found.status === 200) return { id: found.body.id, created: false };
    if (found.status !== 404) throw this.refused(`look up the channel ${name}`, found);
    const made = await this.must<{ id: string }>(`create the channel ${name}`, 'POST', '/channels', {
      team_id: teamId,
      name,
      display_name: displayName,
      type: 'P',
    });
    return { id: made.id, created: true };
  }

  async joinChannel(channelId: string, userId: string): Promise<void> {
    await this.must('add a member to a channel', 'POST', `/channels/${channelId}/members`, { user_id: userId });
  }
}
