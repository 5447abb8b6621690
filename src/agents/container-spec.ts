// What `agent up NAME` asks Docker to create: the body the socket guard's
// create policy accepts (the tests hold the two together), so an agent gets
// the stack's image and entrypoint, the agents' network only, its own home
// volume, its token file read-only, a read-only root, no capabilities but
// those the privilege drop needs, no-new-privileges, memory and pids limits.
import { AGENT_LABEL, PROJECT_LABEL } from '../guard/create-policy.js';

export interface StackScope {
  project: string;
  image: string;
  network: string;
  memoryBytes: number;
  pids: number;
}

export interface AgentContainer {
  name: string;
  volume: string;
  body: Record<string, unknown>;
}

export const agentContainerName = (project: string, agent: string) => `${project}-agent-${agent}`;
export const agentVolumeName = (project: string, agent: string) => `${project}-agent-${agent}-home`;

export function agentContainer(scope: StackScope, agent: string, template: string, tokenSource: string): AgentContainer {
  const volume = agentVolumeName(scope.project, agent);
  return {
    name: agentContainerName(scope.project, agent),
    volume,
    body: {
      Image: scope.image,
      Env: [
        'BRIDGE_SUPERVISE=1',
        'BRIDGE_WAIT_FOR=http://mattermost:8065/api/v4/system/ping',
        `BRIDGE_CONFIG_TEMPLATE_TEXT=${template}`,
      ],
      Labels: { [AGENT_LABEL]: agent, [PROJECT_LABEL]: scope.project },
      HostConfig: {
        NetworkMode: scope.network,
        ReadonlyRootfs: true,
        CapDrop: ['ALL'],
        CapAdd: ['SETUID', 'SETGID', 'DAC_READ_SEARCH'],
        SecurityOpt: ['no-new-privileges:true'],
        Mounts: [
          { Type: 'volume', Source: volume, Target: '/home/bridge' },
          { Type: 'bind', Source: tokenSource, Target: '/run/secrets/op_sa_token', ReadOnly: true },
        ],
        Tmpfs: { '/tmp': 'size=64m,mode=1777,nosuid,nodev' },
        Memory: scope.memoryBytes,
        PidsLimit: scope.pids,
        Init: true,
        RestartPolicy: { Name: 'unless-stopped' },
        Ulimits: [{ Name: 'core', Soft: 0, Hard: 0 }],
      },
      NetworkingConfig: { EndpointsConfig: { [scope.network]: { Aliases: [agent] } } },
    },
  };
}
