// Steps 4 and 5: render the template with `op inject` and validate the result
// before anything is written. Returns the rendered text and every substituted
// value, labelled by its JSON path (or op:// address), for the leak checks.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ExitCode, StackError, errnoCode } from '../../src/errors.js';
import type { LabeledSecret } from '../../src/secrets/secret-set.js';
import { placeReferences } from '../../src/template/json-paths.js';
import { unwrapReferences, wrapReferences } from '../../src/template/markers.js';
import { isTemplateVariable, opInject, templateVariables } from '../../src/template/op-inject.js';
import { findReferences } from '../../src/template/references.js';
import { validateRendered } from '../../src/template/validate.js';
import { ROOT_PATH, ROOT_TOOLS } from '../root-tools.js';
import { trustedTool } from '../trusted-path.js';

const STEP = 'render';

export interface Rendered {
  text: string;
  secrets: LabeledSecret[];
}

export interface RenderOptions {
  template: string;
  templateText: string | undefined;
  output: string;
  token: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** Masks secrets in op's stderr before any of it is shown. */
  mask: (text: string) => string;
}

export async function render(options: RenderOptions): Promise<Rendered> {
  const template = options.templateText ?? readTemplate(options.template);
  const references = findReferences(template);
  const variables = templateVariables(references.map((r) => r.ref));
  const forbidden = variables.find((name) => !isTemplateVariable(name));
  if (forbidden !== undefined) {
    throw new StackError('template-variable', `a reference in ${source(options)} uses \${${forbidden}}: op's own settings and credentials (OP_*), PATH and HOME cannot be part of a reference; use an ordinary variable such as BRIDGE_OP_VAULT`, {
      step: STEP,
      exitCode: ExitCode.dataErr,
    });
  }
  const op = trustedTool(ROOT_TOOLS.op, 'the 1Password CLI (op)', STEP);
  const markers = wrapReferences(template, references);
  const result = await opInject(markers.wrapped, variables, { ...options, op, path: ROOT_PATH, workDir: dirname(options.output) }, STEP);
  if (result.exitCode !== 0 || result.stdout.length === 0) {
    const said = firstLine(options.mask(result.stderr));
    const what = result.exitCode !== 0 ? `exited with status ${result.exitCode}` : 'exited 0 but produced no output';
    throw new StackError('op-failed', `op inject ${what}${said ? ` (op said: ${said})` : ''}; check that every reference in ${source(options)} exists and the service account may read its vault`, {
      step: STEP,
      exitCode: result.exitCode !== 0 ? ExitCode.unavailable : ExitCode.dataErr,
    });
  }
  const { text, values } = unwrapReferences(result.stdout, markers, references.length, STEP);
  const places = placeReferences(template, references);
  const rendered = references.map((r, i) => ({ ref: r.ref, place: places[i]!, value: values[i] ?? '' }));
  validateRendered(text, rendered, options.output.endsWith('.json'), STEP);
  return { text, secrets: rendered.map((v) => ({ label: v.place.path ?? v.ref, value: v.value })) };
}

function readTemplate(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = errnoCode(error);
    throw new StackError('template-unreadable', `cannot read the template ${file} (${code ?? 'error'}); set BRIDGE_CONFIG_TEMPLATE to the config.json.tpl file`, {
      step: STEP,
      exitCode: code === 'ENOENT' ? ExitCode.noInput : ExitCode.config,
      cause: error,
    });
  }
}

const source = (options: RenderOptions) => (options.templateText === undefined ? options.template : 'BRIDGE_CONFIG_TEMPLATE_TEXT');

function firstLine(text: string): string {
  return text.split('\n').find((l) => l.trim())?.trim().slice(0, 200) ?? '';
}
