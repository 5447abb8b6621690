#!/usr/bin/env node
// The `copilot-bridge-seal` program (npm run seal, unseal, seal:status,
// seal:forget, up, down): one call into the CLI, which owns argv and the exit status.
import { run } from './cli.js';
import { processIo } from './io.js';

process.exitCode = await run(process.argv.slice(2), processIo());
