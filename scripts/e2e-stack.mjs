#!/usr/bin/env node
// Brings up the end-to-end stack with the stand-in images and two agents (lal
// with its own sealed service account, data with the shared one), the way
// the end-to-end suites do, and keeps it until SIGINT or SIGTERM: for poking
// at the stack by hand (a reviewer playing the hostile client, say). Prints
// the project, the admin container, and the SHA-256 of every secret of the
// run, so that whoever extracts something can tell whether it is one. Run
// after `npm run build`, as root, on a machine where `npm test` has run once
// (Docker engine, base image):
//   node scripts/e2e-stack.mjs
import { createHash } from 'node:crypto';
import { AGENTS, twoAgents } from '../dist/test/support/e2e/agents.js';
import { ensureDockerEngine } from '../dist/test/support/e2e/engine.js';
import { buildTestImages } from '../dist/test/support/e2e/images.js';
import { Stack } from '../dist/test/support/e2e/stack.js';

const teardowns = [];
const stop = async () => {
  process.stderr.write('e2e-stack: tearing down...\n');
  for (const fn of teardowns.reverse()) await fn();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

await ensureDockerEngine();
const images = await buildTestImages();
const agents = twoAgents();
const stack = await Stack.up({ teardown: (fn) => teardowns.push(fn) }, images, {
  pingDelayMs: 1000,
  ...agents.stackOptions(),
});
await agents.seed(stack, images.bridge);
await stack.waitHealthy('copilot-bridge', 180_000);
const sha = (text) => createHash('sha256').update(text).digest('hex');
const secrets = {
  'the shared service-account token (op-sa-token)': stack.token,
  "lal's own service-account token (agent-lal)": agents.lalServiceAccount,
  ...Object.fromEntries(AGENTS.map((name) => [`${name}'s bot token`, agents.botTokens[name]])),
  ...Object.fromEntries(Object.entries(stack.items).map(([ref, value]) => [ref, value])),
};
console.log(
  JSON.stringify(
    {
      project: stack.project,
      admin: await stack.container('copilot-bridge'),
      guard: await stack.container('socket-proxy'),
      agentsFile: agents.agentsFile,
      mattermost: `http://127.0.0.1:${stack.mattermostPort}`,
      secretsSha256: Object.fromEntries(Object.entries(secrets).map(([what, value]) => [what, sha(value)])),
    },
    null,
    2,
  ),
);
process.stderr.write('e2e-stack: up; SIGINT or SIGTERM tears it down\n');
setInterval(() => undefined, 1 << 30);
