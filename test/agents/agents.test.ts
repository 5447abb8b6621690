// The agent commands' pure parts: the agents file, the per-agent template,
// and the container body, which must be exactly what the socket guard's
// create policy accepts (the two are written apart; this test holds them
// together).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { readAgentsFile, findAgent, type AgentDefinition } from '../../src/agents/agents-file.js';
import { agentContainer } from '../../src/agents/container-spec.js';
import { renderAgentTemplate } from '../../src/agents/render-template.js';
import { reviewCreateBody } from '../../src/guard/create-policy.js';
import { parseStrictJson } from '../../src/guard/strict-json.js';
import { findReferences } from '../../src/template/references.js';

const TEMPLATE = readFileSync(resolve(import.meta.dirname, '..', '..', 'templates', 'agent.config.json.tpl'), 'utf8');
const lal: AgentDefinition = { name: 'lal', botTokenItem: 'op://stack/mattermost-lal', persona: 'Lal "the" helper', channels: [{ id: 'abc123', name: 'town-square' }, { id: 'def456', name: 'dev' }], users: ['ray'] };
const scope = { project: 'cbs', image: 'copilot-bridge-stack:test', network: 'cbs_mattermost-net', memoryBytes: 512 << 20, pids: 256 };

t.test('the template renders per agent, leaving op references for op inject', async (t) => {
  const text = renderAgentTemplate(TEMPLATE, lal);
  const refs = findReferences(text);
  t.same(refs.map((r) => r.ref), ['op://stack/mattermost-lal/token'], 'one op reference, untouched by mustache');
  const rendered = JSON.parse(text.replace(/\{\{[^}]*\}\}/, 'bot-token-value'));
  t.equal(rendered.platforms.mattermost.bots.lal.token, 'bot-token-value');
  t.equal(rendered.platforms.mattermost.bots.lal.agent, 'Lal "the" helper', 'values are JSON-escaped');
  t.same(rendered.channels.map((c: { id: string }) => c.id), ['abc123', 'def456']);
  t.same(rendered.platforms.mattermost.access.users, ['ray']);
});

t.test("the container body is one the guard's create policy accepts, unchanged", async (t) => {
  for (const source of ['/dev/shm/copilot-bridge-stack/agent-lal', '/dev/shm/copilot-bridge-stack/op-sa-token']) {
    const spec = agentContainer(scope, 'lal', renderAgentTemplate(TEMPLATE, lal), source);
    t.equal(spec.name, 'cbs-agent-lal');
    t.equal(spec.volume, 'cbs-agent-lal-home');
    const policy = { project: scope.project, image: scope.image, network: scope.network, secretSources: [source] };
    const checked = reviewCreateBody(policy, 'lal', parseStrictJson(JSON.stringify(spec.body)));
    t.same(JSON.parse(JSON.stringify(checked, (_k, v) => (v instanceof Map ? Object.fromEntries(v) : v))), spec.body, `accepted as is (token from ${source})`);
  }
});

t.test('the agents file: clear errors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cbs-agents-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'agents.json');
  t.throws(() => readAgentsFile(file), { code: 'agents-file', exitCode: 66, message: /does not exist; create it from agents.example.json/ });
  writeFileSync(file, '{ nope');
  t.throws(() => readAgentsFile(file), { exitCode: 65, message: /is not valid JSON/ });
  writeFileSync(file, JSON.stringify({ agents: [{ name: 'Bad Name', botTokenItem: 'op://a/b', channels: [] }] }));
  t.throws(() => readAgentsFile(file), { exitCode: 78, message: /agents\[0\]\.name must be lower-case/ });
  writeFileSync(file, JSON.stringify({ agents: [{ name: 'lal', botTokenItem: 'token-in-clear', channels: [] }] }));
  t.throws(() => readAgentsFile(file), { exitCode: 78, message: /botTokenItem must be op:\/\/VAULT\/ITEM/ });
  writeFileSync(file, JSON.stringify({ agents: [lal] }));
  t.equal(findAgent(readAgentsFile(file), 'lal').name, 'lal');
  t.throws(() => findAgent(readAgentsFile(file), 'data'), { exitCode: 64, message: /no agent named data in the agents file; known: lal/ });
});
