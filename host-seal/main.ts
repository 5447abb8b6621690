#!/usr/bin/env node
// The `copilot-bridge-seal` program (npm run seal, unseal, seal:status,
// seal:forget, up, down): one call into the CLI, which owns argv and the exit
// status. No top-level await, so that the same code bundles to CommonJS
// (dist/copilot-bridge-seal.cjs), which starts faster than ES modules.
import { run } from './cli.js';
import { processIo } from './io.js';

void run(process.argv.slice(2), processIo()).then((code) => {
  process.exitCode = code;
});
