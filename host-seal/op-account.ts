// The 1Password CLI on the host, signed in as its user (not the stack's
// service account): `init` stores the tokens it makes there. Values go in on
// stdin as an item template (`--template /dev/stdin`), never on argv; what op
// prints about an item is never shown.
import { ExitCode, StackError } from '../src/errors.js';

export interface ItemRef {
  vault: string;
  item: string;
}

/** `op://VAULT/ITEM` (the agents file's form) as its parts. */
export function itemRef(reference: string): ItemRef {
  const match = /^op:\/\/([^/\s{}]+)\/([^/\s{}]+)$/.exec(reference);
  if (!match)
    throw new StackError('item-ref', `${reference} is not op://VAULT/ITEM`, {
      step: 'init',
      exitCode: ExitCode.config,
    });
  return { vault: match[1]!, item: match[2]! };
}

interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export class OpAccount {
  /** The user's environment without a service-account token: with one, op would act as that account instead. */
  private readonly env: NodeJS.ProcessEnv;

  constructor(env: NodeJS.ProcessEnv) {
    this.env = Object.fromEntries(Object.entries(env).filter(([name]) => name !== 'OP_SERVICE_ACCOUNT_TOKEN'));
  }

  private async op(args: string[], input?: string): Promise<Run> {
    const { execa } = await import('execa');
    const result = await execa('op', args, {
      env: this.env,
      extendEnv: false,
      reject: false,
      timeout: 120_000,
      ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
    });
    if (result.exitCode === undefined) {
      throw new StackError(
        'op-missing',
        'the 1Password CLI (op) does not run on this host; install it (https://developer.1password.com/docs/cli/get-started) and sign in',
        { step: 'init', exitCode: ExitCode.unavailable },
      );
    }
    return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
  }

  /** Throws unless op runs and is signed in. */
  async assertSignedIn(): Promise<void> {
    const run = await this.op(['whoami']);
    if (run.exitCode !== 0) {
      throw new StackError(
        'op-signed-out',
        "the 1Password CLI is not signed in on this host: sign in (eval $(op signin), or turn on the 1Password app's CLI integration), then run init again",
        { step: 'init', exitCode: ExitCode.noPerm },
      );
    }
  }

  async exists(ref: ItemRef): Promise<boolean> {
    return (await this.op(['item', 'get', ref.item, '--vault', ref.vault, '--format', 'json'])).exitCode === 0;
  }

  /** One field's value, kept in memory (op read). */
  async read(ref: ItemRef, field: string): Promise<string> {
    const run = await this.op(['read', `op://${ref.vault}/${ref.item}/${field}`]);
    if (run.exitCode !== 0)
      throw new StackError(
        'op-read',
        `cannot read the field ${field} of op://${ref.vault}/${ref.item}; check that the item has it`,
        { step: 'init', exitCode: ExitCode.unavailable },
      );
    return run.stdout.replace(/\r?\n$/, '');
  }

  /** Creates an item whose fields are concealed values, from a template on stdin. */
  async create(ref: ItemRef, fields: Record<string, string>): Promise<void> {
    const template = {
      title: ref.item,
      category: 'API_CREDENTIAL',
      fields: Object.entries(fields).map(([label, value]) => ({
        id: label,
        label,
        type: label === 'username' ? 'STRING' : 'CONCEALED',
        value,
      })),
    };
    const run = await this.op(
      ['item', 'create', '--vault', ref.vault, '--template', '/dev/stdin', '--format', 'json'],
      JSON.stringify(template),
    );
    if (run.exitCode !== 0) {
      throw new StackError(
        'op-create',
        `1Password refused to create op://${ref.vault}/${ref.item} (${firstLine(run.stderr)}); check that the vault ${ref.vault} exists and that you may write to it`,
        { step: 'init', exitCode: ExitCode.unavailable },
      );
    }
  }

  async remove(ref: ItemRef): Promise<void> {
    const run = await this.op(['item', 'delete', ref.item, '--vault', ref.vault]);
    if (run.exitCode !== 0)
      throw new StackError('op-delete', `cannot delete op://${ref.vault}/${ref.item} (${firstLine(run.stderr)})`, {
        step: 'init',
        exitCode: ExitCode.unavailable,
      });
  }
}

const firstLine = (text: string) =>
  (text.split('\n').find((line) => line.trim()) ?? 'no message').replace(/^\[ERROR\] \S+ \S+ /, '').slice(0, 160);
