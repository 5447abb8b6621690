// Where `init` keeps what it makes (the bots' tokens, the Mattermost admin's
// login): one interface, two stores. 1Password through the host user's own
// `op` sign-in (op-account.ts), or the local vault (SECRETS_SOURCE=vault),
// where an item ITEM with fields becomes the keys ITEM/FIELD.
import { ExitCode, StackError } from '../src/errors.js';
import type { Io } from './io.js';
import { type ItemRef, OpAccount } from './op-account.js';
import { changeVault, loadVault } from './vault-store.js';

export interface ItemStore {
  /** How an item is named in messages. */
  describe(ref: ItemRef): string;
  /** Throws, saying how to fix it, unless the store can be used. */
  assertReady(): Promise<void>;
  exists(ref: ItemRef): Promise<boolean>;
  /** One field's value. */
  read(ref: ItemRef, field: string): Promise<string>;
  /** Makes the item with these fields (values in memory only, never on argv). */
  create(ref: ItemRef, fields: Record<string, string>): Promise<void>;
  remove(ref: ItemRef): Promise<void>;
}

export class OnePasswordStore implements ItemStore {
  private readonly op: OpAccount;
  constructor(env: NodeJS.ProcessEnv) {
    this.op = new OpAccount(env);
  }
  describe = (ref: ItemRef) => `op://${ref.vault}/${ref.item}`;
  assertReady = () => this.op.assertSignedIn();
  exists = (ref: ItemRef) => this.op.exists(ref);
  read = (ref: ItemRef, field: string) => this.op.read(ref, field);
  create = (ref: ItemRef, fields: Record<string, string>) => this.op.create(ref, fields);
  remove = (ref: ItemRef) => this.op.remove(ref);
}

export class LocalVaultStore implements ItemStore {
  constructor(private readonly io: Io) {}
  describe = (ref: ItemRef) => `the local vault's ${ref.item}`;
  async assertReady(): Promise<void> {
    await loadVault(this.io); // a vault that cannot be unsealed stops init before it makes anything
  }
  async exists(ref: ItemRef): Promise<boolean> {
    return [...(await loadVault(this.io)).items.keys()].some((key) => key.startsWith(`${ref.item}/`));
  }
  async read(ref: ItemRef, field: string): Promise<string> {
    const value = (await loadVault(this.io)).items.get(`${ref.item}/${field}`);
    if (value === undefined)
      throw new StackError(
        'vault-missing',
        `the local vault holds no ${ref.item}/${field}; npm run vault -- set ${ref.item}/${field}`,
        { step: 'init', exitCode: ExitCode.noInput },
      );
    return value;
  }
  async create(ref: ItemRef, fields: Record<string, string>): Promise<void> {
    await changeVault(this.io, `init: ${ref.item}`, async (vault) => {
      for (const [field, value] of Object.entries(fields)) vault.items.set(`${ref.item}/${field}`, value);
      return { changed: true, result: undefined };
    });
  }
  async remove(ref: ItemRef): Promise<void> {
    await changeVault(this.io, `init: ${ref.item}`, async (vault) => {
      const keys = [...vault.items.keys()].filter((key) => key.startsWith(`${ref.item}/`));
      for (const key of keys) vault.items.delete(key);
      return { changed: keys.length > 0, result: undefined };
    });
  }
}
