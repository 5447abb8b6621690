// Step 5: render the template (with `op inject` from 1Password, or
// from this container's part of the local vault) and validate the result
// before anything is written. Returns the rendered text, the values that go
// into the bridge's environment instead of the file (its GitHub token), and
// every substituted value, labelled by its JSON path (or op:// address, or
// variable), for the leak checks. One op call renders both: the environment's
// references follow the template behind a separator line made of a nonce.
import { dirname } from 'node:path';
import { ExitCode, StackError } from '../../src/errors.js';
import { randomHex } from '../../src/process/random.js';
import type { LabeledSecret } from '../../src/secrets/secret-set.js';
import { localInject } from '../../src/template/local-inject.js';
import { type InjectResult, isTemplateVariable, opInject, templateVariables } from '../../src/template/op-inject.js';
import { findReferences } from '../../src/template/references.js';
import type { VaultItems } from '../../src/vault/document.js';
import { ROOT_PATH, ROOT_TOOLS } from '../root-tools.js';
import { placeReferences } from '../template/json-paths.js';
import { unwrapReferences, wrapReferences } from '../template/markers.js';
import { validateRendered } from '../template/validate.js';
import type { TemplateSource } from '../template-source.js';
import { trustedTool } from '../trusted-path.js';

const STEP = 'render';

export interface Rendered {
  text: string;
  /** Values for the bridge's environment alone, by variable. */
  environment: Record<string, string>;
  secrets: LabeledSecret[];
  /**
   * What the injector said on stderr although it succeeded (op's warnings), masked for the token, at
   * most 10 lines: for the log to print only once it screens for every value rendered here.
   */
  notes: string[];
}

/** What resolves the references: one per source of secrets. */
export interface Injector {
  /** For messages: what rendered. */
  readonly name: string;
  /** For messages: where the named items must be. */
  readonly where: string;
  inject(template: string, variables: readonly string[]): Promise<InjectResult>;
}

export interface RenderOptions {
  source: TemplateSource;
  output: string;
  injector: Injector;
  /** Masks secrets in the injector's stderr before any of it is shown. */
  mask: (text: string) => string;
}

/** `op inject` by its fixed path, with the service-account token in its environment alone. */
export function opInjector(token: string, env: NodeJS.ProcessEnv, output: string, timeoutMs: number): Injector {
  return {
    name: 'op inject',
    where: 'in 1Password and the service account may read their vault',
    inject: (template, variables) => {
      const op = trustedTool(ROOT_TOOLS.op, 'the 1Password CLI (op)', STEP);
      return opInject(
        template,
        variables,
        { token, env, timeoutMs, op, path: ROOT_PATH, workDir: dirname(output) },
        STEP,
      );
    },
  };
}

/** This container's part of the local vault, in memory: no program runs. */
export function vaultInjector(items: VaultItems, env: NodeJS.ProcessEnv): Injector {
  return {
    name: 'the local vault',
    where: 'in the local vault (npm run vault -- ls on the host)',
    inject: async (template, variables) => ({
      exitCode: 0,
      stdout: localInject(template, items, env, variables, STEP),
      stderr: '',
    }),
  };
}

export async function render(options: RenderOptions): Promise<Rendered> {
  const { source } = options;
  const references = findReferences(source.text);
  const names = Object.keys(source.environment);
  const separator = `\u27e6environment-${randomHex(8)}\u27e7`;
  const combined =
    names.length === 0
      ? source.text
      : `${source.text}\n${separator}\n${names.map((name) => `{{ ${source.environment[name]} }}`).join('\n')}`;
  const all = findReferences(combined);
  const variables = templateVariables(all.map((r) => r.ref));
  const forbidden = variables.find((name) => !isTemplateVariable(name));
  if (forbidden !== undefined) {
    throw new StackError(
      'template-variable',
      `a reference in ${source.name} uses \${${forbidden}}: op's own settings and credentials (OP_*), PATH and HOME cannot be part of a reference; use an ordinary variable such as BRIDGE_OP_VAULT`,
      {
        step: STEP,
        exitCode: ExitCode.dataErr,
      },
    );
  }
  const { injector } = options;
  const markers = wrapReferences(combined, all);
  const result = await injector.inject(markers.wrapped, variables);
  if (result.exitCode !== 0 || result.stdout.length === 0) {
    const said = firstLine(options.mask(result.stderr));
    const what = result.exitCode !== 0 ? `exited with status ${result.exitCode}` : 'exited 0 but produced no output';
    const named = [...new Set(all.map((r) => r.ref))].join(', ');
    throw new StackError(
      'op-failed',
      `${injector.name} ${what}${said ? ` (op said: ${said})` : ''}; check that these items and fields exist ${injector.where}: ${named.length > 400 ? `${named.slice(0, 400)}...` : named} (from ${source.name})`,
      {
        step: STEP,
        exitCode: result.exitCode !== 0 ? ExitCode.unavailable : ExitCode.dataErr,
      },
    );
  }
  const unwrapped = unwrapReferences(result.stdout, markers, all.length, STEP);
  const cut = names.length === 0 ? unwrapped.text.length : unwrapped.text.lastIndexOf(`\n${separator}\n`);
  if (cut === -1)
    throw new StackError(
      'render-incomplete',
      `${injector.name} changed the separator in ${source.name}; check that op is the 1Password CLI`,
      { step: STEP, exitCode: ExitCode.dataErr },
    );
  const text = unwrapped.text.slice(0, cut);
  const values = unwrapped.values.slice(0, references.length);
  const environment = Object.fromEntries(names.map((name, i) => [name, unwrapped.values[references.length + i] ?? '']));
  const places = placeReferences(source.text, references);
  const rendered = references.map((r, i) => ({ ref: r.ref, place: places[i]!, value: values[i] ?? '' }));
  validateRendered(text, rendered, options.output.endsWith('.json'), STEP);
  for (const [name, value] of Object.entries(environment)) {
    if (!value || /[\r\n\0]/.test(value)) {
      throw new StackError(
        'render-environment',
        `the value for ${name} (${source.environment[name]}) is empty or spans lines; store the token alone in that field`,
        { step: STEP, exitCode: ExitCode.dataErr },
      );
    }
  }
  const notes = options
    .mask(result.stderr)
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(0, 10)
    .map((line) => line.slice(0, 300));
  return {
    text,
    environment,
    notes,
    secrets: [
      ...rendered.map((v) => ({ label: v.place.path ?? v.ref, value: v.value })),
      ...Object.entries(environment).map(([name, value]) => ({ label: `the bridge's ${name}`, value })),
    ],
  };
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .find((l) => l.trim())
      ?.trim()
      .slice(0, 200) ?? ''
  );
}
