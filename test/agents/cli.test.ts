// The agent command's edge, as a real process: usage, settings, and an
// unreachable Docker each give one line and a documented exit code.
// Against a real engine and the socket guard: test/e2e.
import { resolve } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { findAgent, readAgentsFile } from '../../src/agents/agents-file.js';
import { agentContainer } from '../../src/agents/container-spec.js';
import { readAgentStack } from '../../src/agents/stack-settings.js';

const AGENT = resolve(import.meta.dirname, '..', '..', 'dist', 'agents', 'main.js');
const CLEAN_ENV = resolve(import.meta.dirname, '..', 'support', 'clean-env');
const run = (args: string[], env: Record<string, string> = {}) =>
  execa(CLEAN_ENV, [process.execPath, AGENT, ...args], {
    env: { PATH: process.env.PATH!, ...env },
    extendEnv: false,
    reject: false,
  });
const stack = { COMPOSE_PROJECT_NAME: 'cbs', AGENT_IMAGE: 'copilot-bridge-stack:test' };
const EXAMPLE = resolve(import.meta.dirname, '..', '..', 'agents.example.json');
/** The example with its placeholders filled in. */
const AGENTS = resolve(import.meta.dirname, '..', 'fixtures', 'agents.json');

const cases: Array<[string, string[], Record<string, string>, number, RegExp]> = [
  ['no command', [], stack, 64, /^agent: no command; usage: agent up NAME/],
  ['unknown command', ['start', 'lal'], stack, 64, /^agent: unknown command 'start'/],
  ['up without a name', ['up'], stack, 64, /^agent: up needs an agent name/],
  ['an unknown flag', ['down', 'lal', '--force'], stack, 64, /^agent: unexpected '--force'/],
  ['no project', ['ls'], { AGENT_IMAGE: 'x' }, 78, /^agent: settings: set COMPOSE_PROJECT_NAME/],
  ['a bad memory size', ['ls'], { ...stack, AGENT_MEMORY: 'lots' }, 78, /AGENT_MEMORY must be a size/],
  [
    'an unknown agent',
    ['up', 'nobody'],
    { ...stack, AGENTS_FILE: AGENTS },
    64,
    /^agent: agents: no agent named nobody in the agents file; known: lal, data/,
  ],
  [
    'Docker unreachable',
    ['ls'],
    { ...stack, DOCKER_HOST: 'tcp://127.0.0.1:1' },
    69,
    /^agent: docker: cannot reach Docker to list \(.*\); check DOCKER_HOST and that the socket guard runs/,
  ],
  ['spec without a name', ['spec'], stack, 64, /^agent: spec needs an agent name/],
  [
    'spec of an unknown agent',
    ['spec', 'nobody'],
    { ...stack, AGENTS_FILE: AGENTS },
    64,
    /^agent: agents: no agent named nobody/,
  ],
  [
    'spec with no release directory',
    ['spec', 'lal'],
    { ...stack, AGENTS_FILE: AGENTS },
    78,
    /^agent: token: COPILOT_BRIDGE_SECRETS_DIR is not set: start the stack with `npm run up`/,
  ],
  [
    'spec with no released token',
    ['spec', 'lal'],
    { ...stack, AGENTS_FILE: AGENTS, COPILOT_BRIDGE_SECRETS_DIR: '/dev/shm/x', COPILOT_BRIDGE_RELEASED: '' },
    66,
    /^agent: token: no released token for lal/,
  ],
  [
    'the example file as it comes',
    ['up', 'lal'],
    { ...stack, AGENTS_FILE: EXAMPLE },
    78,
    /^agent: agents: agents\[0\]\.channels\[0\]\.id still holds the example's placeholder \(REPLACE-WITH-\.\.\.\); put the real value there \(see "First run" in the README\)/,
  ],
];

for (const [name, args, env, code, message] of cases) {
  t.test(name, async (t) => {
    const result = await run(args, env);
    t.equal(result.exitCode, code, result.stderr);
    t.match(result.stderr, message);
    t.equal(result.stderr.trim().split('\n').length, 1, 'one line');
  });
}

t.test('agent spec prints the body the builder makes, as JSON on stdout', async (t) => {
  const env = {
    ...stack,
    AGENTS_FILE: AGENTS,
    COPILOT_BRIDGE_SECRETS_DIR: '/dev/shm/x',
    COPILOT_BRIDGE_RELEASED: 'op-sa-token,agent-lal',
    AGENT_CPUS: '0.5',
  };
  const result = await run(['spec', 'lal'], env);
  t.equal(result.exitCode, 0, result.stderr);
  t.equal(result.stderr, '', 'nothing on stderr');
  const agents = readAgentsFile(AGENTS);
  const expected = agentContainer(readAgentStack(env), findAgent(agents, 'lal')).body;
  t.same(JSON.parse(result.stdout), expected, 'exactly what agent up sends');
  t.match(
    JSON.parse(result.stdout),
    { HostConfig: { NanoCpus: 5e8, Mounts: [{}, { Source: '/dev/shm/x/agent-lal' }] } },
    'shaped by the settings',
  );
});

t.test(
  "on the host (no AGENT_IMAGE): .env of the checkout, the stack's defaults, and the release directory up used",
  async (t) => {
    const { mkdtemp, mkdir, writeFile, rm, copyFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const checkout = await mkdtemp(join(tmpdir(), 'cbs-agent-host-'));
    const runtime = await mkdtemp('/dev/shm/cbs-agent-host-');
    t.teardown(() =>
      Promise.all([rm(checkout, { recursive: true, force: true }), rm(runtime, { recursive: true, force: true })]),
    );
    await copyFile(AGENTS, join(checkout, 'agents.json'));
    await writeFile(join(checkout, '.env'), 'COMPOSE_PROJECT_NAME=from-dotenv\nAGENTS_FILE=./agents.json\n');
    await mkdir(join(runtime, 'copilot-bridge-stack'), { mode: 0o700 });
    for (const name of ['op-sa-token', 'vault-agent-lal', 'vault-admin'])
      await writeFile(join(runtime, 'copilot-bridge-stack', name), 'x', { mode: 0o400 });
    const result = await execa(CLEAN_ENV, [process.execPath, AGENT, 'spec', 'lal'], {
      cwd: checkout,
      env: { PATH: process.env.PATH!, XDG_RUNTIME_DIR: runtime },
      extendEnv: false,
      reject: false,
    });
    t.equal(result.exitCode, 0, result.stderr);
    const body = JSON.parse(result.stdout);
    t.equal(body.Image, 'copilot-bridge-stack/copilot-bridge:local', "compose.yml's default image");
    t.match(body.Labels, { 'com.copilot-bridge-stack.project': 'from-dotenv' }, 'the project from .env');
    t.equal(
      body.HostConfig.Mounts[1].Source,
      join(runtime, 'copilot-bridge-stack', 'vault-agent-lal'),
      "the local vault by default: lal's own part of it, where up released it",
    );
    t.ok(body.Env.includes('BRIDGE_SECRETS_SOURCE=vault'), 'and the agent is told so');
    t.match(body.NetworkingConfig.EndpointsConfig, { 'from-dotenv_mattermost-net': {} }, "the stack's network");
    await writeFile(
      join(checkout, '.env'),
      'COMPOSE_PROJECT_NAME=from-dotenv\nAGENTS_FILE=./agents.json\nSECRETS_SOURCE=1password\n',
    );
    const onOp = await execa(CLEAN_ENV, [process.execPath, AGENT, 'spec', 'lal'], {
      cwd: checkout,
      env: { PATH: process.env.PATH!, XDG_RUNTIME_DIR: runtime },
      extendEnv: false,
      reject: false,
    });
    t.equal(onOp.exitCode, 0, onOp.stderr);
    t.equal(
      JSON.parse(onOp.stdout).HostConfig.Mounts[1].Source,
      join(runtime, 'copilot-bridge-stack', 'op-sa-token'),
      'with SECRETS_SOURCE=1password: the shared token (lal has none of its own)',
    );
  },
);
