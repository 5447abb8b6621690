// Least privilege for the local vault: each container gets only the items
// its own template names. For the admin bridge and each agent of the agents
// file, the bridge's template is filled with its entry (as the entrypoint
// will fill it), its references are read (and its GitHub token's), and the
// vault is cut to those keys: `vault-admin`, `vault-agent-NAME`. A key the
// vault lacks is named with the reference that needs it; the admin cannot
// start without its keys, an agent is left out with a warning.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ADMIN,
  type AgentDefinition,
  readAdminEntry,
  readAgentsFile,
  sharedItem,
} from '../../src/agents/agents-file.js';
import { environmentReferences, renderAgentTemplate } from '../../src/agents/render-template.js';
import { ADMIN_VAULT_SUBSET, agentVaultSubset } from '../../src/contract.js';
import { ExitCode, errnoCode, StackError } from '../../src/errors.js';
import { expandReference } from '../../src/template/local-inject.js';
import { templateVariables } from '../../src/template/op-inject.js';
import { findReferences } from '../../src/template/references.js';
import { keyOfReference, serializeVault, type VaultItems } from '../../src/vault/document.js';

const STEP = 'up';

/** The templates the image renders (the checkout's own: the image is built from it). */
const TEMPLATES = { admin: join('templates', 'config.json.tpl'), agent: join('templates', 'agent.config.json.tpl') };

interface Subset {
  /** The released file's name. */
  name: string;
  /** `admin` or the agent's name. */
  bridge: string;
  /** The vault document with this bridge's keys only. */
  document: string;
  /** Its values, for masking output. */
  values: string[];
}

export interface SubsetPlan {
  subsets: Subset[];
  /** Agents left out, each with why. */
  skipped: string[];
}

/** The keys a bridge's container needs, each with the reference that names it. */
function keysOf(template: string, entry: AgentDefinition, settings: Record<string, string>): Map<string, string> {
  const filled = renderAgentTemplate(template, entry);
  const references = [...findReferences(filled).map((r) => r.ref), ...Object.values(environmentReferences(entry))];
  const keys = new Map<string, string>();
  for (const ref of references)
    keys.set(keyOfReference(expandReference(ref, settings, templateVariables([ref])), STEP, ref), ref);
  return keys;
}

/** One document per bridge of the agents file, from the unsealed vault. */
export function planSubsets(
  items: VaultItems,
  agentsFile: string,
  projectDir: string,
  settings: Record<string, string>,
): SubsetPlan {
  const admin = readAdminEntry(agentsFile);
  if (!admin) {
    throw new StackError(
      'agents-file',
      `${agentsFile} has no "admin" entry: the admin bridge's items come from it; add one (see agents.example.json), or run npm run init`,
      { step: STEP, exitCode: ExitCode.config },
    );
  }
  const agents = readAgentsFile(agentsFile);
  const clash = sharedItem([admin, ...agents], true);
  if (clash) throw new StackError('agents-file', `${agentsFile}: ${clash}`, { step: STEP, exitCode: ExitCode.config });
  const subsets: Subset[] = [];
  const skipped: string[] = [];
  const cut = (bridge: string, name: string, keys: Map<string, string>): Subset | string => {
    const missing = [...keys].filter(([key]) => !items.has(key));
    if (missing.length > 0)
      return `the local vault holds no ${missing.map(([key, ref]) => `${key} (for ${ref})`).join(', ')}; npm run vault -- set ${missing[0]![0]}`;
    const own = new Map([...keys.keys()].map((key) => [key, items.get(key)!]));
    return { name, bridge, document: serializeVault(own), values: [...own.values()] };
  };
  const adminSubset = cut(
    ADMIN,
    ADMIN_VAULT_SUBSET,
    keysOf(readTemplate(projectDir, TEMPLATES.admin), admin, settings),
  );
  if (typeof adminSubset === 'string')
    throw new StackError('vault-missing', `the admin bridge cannot start: ${adminSubset}`, {
      step: STEP,
      exitCode: ExitCode.noInput,
    });
  subsets.push(adminSubset);
  const agentTemplate = readTemplate(projectDir, TEMPLATES.agent);
  for (const agent of agents) {
    const subset = cut(agent.name, agentVaultSubset(agent.name), keysOf(agentTemplate, agent, settings));
    if (typeof subset === 'string') skipped.push(`${agent.name}: ${subset}`);
    else subsets.push(subset);
  }
  return { subsets, skipped };
}

function readTemplate(projectDir: string, file: string): string {
  try {
    return readFileSync(join(projectDir, file), 'utf8');
  } catch (error) {
    throw new StackError(
      'template-unreadable',
      `cannot read ${join(projectDir, file)} (${errnoCode(error) ?? 'error'}); run up from the copilot-bridge-stack checkout, whose templates the image is built from`,
      { step: STEP, exitCode: ExitCode.noInput, cause: error },
    );
  }
}
