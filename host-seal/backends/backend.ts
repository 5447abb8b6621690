// The one interface every secret store implements (after
// docker-credential-helpers): seal, unseal, describe, forget. Each store is one
// module that maps its native failures to StackErrors at its edge.

export type BackendName = 'tpm2' | 'keychain';

/** What `status` shows about a sealed credential: never the token, only a short fingerprint. */
export interface SealedRecord {
  name: string;
  backend: BackendName;
  /** ISO 8601. */
  sealedAt: string;
  /** First 12 hex digits of the token's SHA-256. */
  fingerprint: string;
  /** sha256-bank PCR indices the seal is bound to; empty when unbound (always empty for keychain). */
  pcrs: number[];
  /** Whether unsealing needs an auth value (tpm2 only). */
  auth: boolean;
  /** Set when the stored data cannot be read: what is wrong and what to do. */
  problem?: string;
}

export interface SealOptions {
  /** PCR indices (sha256 bank) to bind to; empty for none. tpm2 only. */
  pcrs: number[];
  /** TPM auth value, 1 to 32 bytes. tpm2 only. */
  auth: Buffer | undefined;
  /** Replace a seal of the same name (--force); without, a seal placed meanwhile by another run wins and this one fails. */
  replace?: boolean;
}

export interface UnsealOptions {
  /** Asked only when the sealed object needs an auth value. */
  askAuth: (name: string) => Promise<Buffer>;
  /** Leave nothing behind (doctor's dry run, audit): no loaded context is cached for the next unseal. */
  leaveNoCache?: boolean;
}

export interface Backend {
  readonly name: BackendName;
  /** Stores `token` under `name`, replacing what was there. */
  seal(name: string, token: string, options: SealOptions): Promise<SealedRecord>;
  /** Returns the token sealed under `name`; throws a StackError naming the fix on any failure. */
  unseal(name: string, options: UnsealOptions): Promise<string>;
  /** What is sealed under `name`, from non-secret metadata, or undefined. */
  describe(name: string): Promise<SealedRecord | undefined>;
  /** Removes what is sealed under `name`; false when there was nothing. */
  forget(name: string): Promise<boolean>;
}

/** Where a backend keeps its files, and the environment it runs tools with. */
export interface BackendContext {
  configDir: string;
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  /** Where a wait for a lock is reported (stderr). */
  progress?: import('node:stream').Writable;
}
