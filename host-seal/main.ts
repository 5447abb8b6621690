#!/usr/bin/env node
// The `copilot-bridge-seal` program (npm run seal, unseal, seal:status,
// seal:forget, up, down): one call into the CLI, which owns argv and the exit
// status. No top-level await, so that the same code bundles to CommonJS
// (dist/copilot-bridge-seal.cjs), which starts faster than ES modules.
import { run } from './cli.js';
import { processIo } from './io.js';

/** Once the command is over, how long anything may still keep the process alive. */
const LINGER_MS = 2000;

void run(process.argv.slice(2), processIo()).then((code) => {
  process.exitCode = code;
  // Normally the process ends now. A read from a TPM device that never answered (reported as a
  // timeout already) cannot be cancelled and would keep it alive for good; this timer does not.
  setTimeout(() => process.exit(code), LINGER_MS).unref();
});
