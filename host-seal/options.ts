// Command-line options. Options only: no positional arguments, so a token can
// never be accepted from argv. Error messages never repeat what was typed,
// except option names that look like option names.
import { ExitCode, StackError } from '../src/errors.js';
import { assertName, DEFAULT_NAME } from './paths.js';

/** `strings`: a string option that may be given more than once (in order). */
export type OptionSpec = Record<string, 'string' | 'strings' | 'boolean'>;
export type Parsed = Record<string, string | string[] | boolean | undefined>;

const usage = (message: string): StackError =>
  new StackError('usage', `${message}; see --help`, { step: 'options', exitCode: ExitCode.usage });

/** Parses `--opt value`, `--opt=value` and `--flag` against `spec`. */
export function parseOptions(argv: readonly string[], spec: OptionSpec): Parsed {
  const parsed: Parsed = {};
  if (argv.some((arg) => /ops_[A-Za-z0-9_-]{32}|[A-Za-z0-9_-]{64}/.test(arg))) {
    throw new StackError(
      'token-in-argv',
      'the token is never accepted as an argument: pipe it (op read "op://..." | npm run seal) or type it at the hidden prompt; it may now be in your shell history, so clear that and consider rotating the token',
      { step: 'options', exitCode: ExitCode.usage },
    );
  }
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--') || arg === '--') throw usage('unexpected argument: this command takes --options only');
    const eq = arg.indexOf('=');
    const key = (eq === -1 ? arg : arg.slice(0, eq)).slice(2);
    const kind = spec[key];
    if (!kind) {
      throw usage(/^[a-z][a-z0-9-]{0,30}$/.test(key) ? `unknown option --${key}` : 'unknown option');
    }
    if (parsed[key] !== undefined && kind !== 'strings') throw usage(`--${key} given twice`);
    if (kind === 'boolean') {
      if (eq !== -1) throw usage(`--${key} takes no value`);
      parsed[key] = true;
      continue;
    }
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || value === '') throw usage(`--${key} needs a value`);
    parsed[key] = kind === 'strings' ? [...((parsed[key] as string[] | undefined) ?? []), value] : value;
  }
  return parsed;
}

/** `--name`, checked, or the default credential name. */
export function nameOption(parsed: Parsed): string {
  const name = typeof parsed.name === 'string' ? parsed.name : DEFAULT_NAME;
  assertName(name);
  return name;
}

/** `--pcrs 0,7` or `--pcrs sha256:0,7`: sorted unique PCR indices of the sha256 bank. */
export function pcrsOption(parsed: Parsed): number[] {
  if (typeof parsed.pcrs !== 'string') return [];
  const list = parsed.pcrs.replace(/^sha256:/, '');
  const items = list.split(',').map((item) => item.trim());
  if (!items.every((item) => /^\d{1,2}$/.test(item) && Number(item) <= 23)) {
    throw usage(
      '--pcrs takes a comma-separated list of PCR indices 0 to 23 of the sha256 bank, for example --pcrs 7 or --pcrs 0,7',
    );
  }
  return [...new Set(items.map(Number))].sort((a, b) => a - b);
}

/** `--timeout SECONDS`, a positive integer, or the default. */
export function secondsOption(parsed: Parsed, key: string, fallback: number): number {
  const value = parsed[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\d{1,5}$/.test(value) || Number(value) === 0) {
    throw usage(`--${key} takes a whole number of seconds, for example --${key} ${fallback}`);
  }
  return Number(value);
}

/** A repeatable option's values, in order (none: an empty list). */
export function stringsOption(parsed: Parsed, key: string): string[] {
  const value = parsed[key];
  return Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
}
