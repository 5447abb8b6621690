#!/usr/bin/env node
// copilot-bridge-entrypoint: see cli.ts for the commands and run.ts for the steps.
import { cli } from './cli.js';

process.exitCode = await cli(process.argv.slice(2), process.env);
