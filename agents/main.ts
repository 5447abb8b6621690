#!/usr/bin/env node
// agent: start, stop, list and follow agent containers; see cli.ts.
import { cli } from './cli.js';

process.exitCode = await cli(process.argv.slice(2), process.env);
