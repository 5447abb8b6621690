// The contract's derived names read backwards: an agent's home volume name
// gives back its agent, and nothing else gives an agent (the guard acts on a
// volume only when this says whose it is).
import t from 'tap';
import { AGENT_NAME, agentOfVolume, agentVolumeName } from '../src/contract.js';

t.test('agentOfVolume reads agentVolumeName backwards, for this project only', async (t) => {
  for (const [project, agent] of [
    ['cbs', 'lal'],
    ['copilot-bridge-stack', 'data-2'],
    ['a_b', 'x'],
    ['cbs', 'a'.repeat(31)],
  ] as const) {
    t.equal(agentOfVolume(project, agentVolumeName(project, agent)), agent, `${project}/${agent}`);
  }
  const refused: [string, string][] = [
    ['cbs', 'cbs-agent--home'],
    ['cbs', 'cbs-agent-lal'],
    ['cbs', 'cbs-agent-lal-home2'],
    ['cbs', 'other-agent-lal-home'],
    ['cbs', 'cbs-agent-Lal-home'],
    ['cbs', 'cbs-agent-lal/../x-home'],
    ['cbs', `cbs-agent-${'a'.repeat(32)}-home`],
    ['cbs', 'xcbs-agent-lal-home'],
    ['cbs', 'cbs-agent-home'],
    ['cbs', ''],
    ['cbs-agent-x', 'cbs-agent-x-agent-y-home'.replace('cbs-agent-x-', 'cbs-')],
  ];
  for (const [project, volume] of refused) t.equal(agentOfVolume(project, volume), undefined, `${project}: ${volume}`);
  // A name that another project's pattern could also read: only this project's reading counts.
  t.equal(agentOfVolume('cbs', 'cbs-agent-x-agent-y-home'), 'x-agent-y', 'a name is read by its own project only');
  t.ok(AGENT_NAME.test('x-agent-y'), '(which is a valid agent name in cbs)');
});
