#!/usr/bin/env node
// docker-socket-guard: the only holder of the Docker socket; see server.ts.
import { cli } from './cli.js';

process.exitCode = await cli(process.env);
