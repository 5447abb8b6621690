// How fast the stream redactor masks a realistic log, next to GNU sed doing
// the same masking. Input: ~256 MB of log lines (timestamps, JSON fragments,
// base64 blobs) with a few of 20 secrets embedded in random encodings, fed in
// 64 KiB chunks; the figures are MB/s (10^6 bytes per second), median of runs.
// Run alone with `node dist/bench/redact.js` after `npm run build`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { createRedactor, MASK } from '../src/redact/index.js';
import { type LabeledSecret, SecretSet } from '../src/secrets/secret-set.js';

const TOTAL_BYTES = 256 * 1024 * 1024;
const UNIQUE_BYTES = 32 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;
const RUNS = 5;
/** sed gets a slice of the input sized to take about this long. */
const SED_SECONDS = 6;

/** A small seeded generator (mulberry32), so that every run measures the same input. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = random(0x5eed);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
const chars = (alphabet: string, n: number): string =>
  Array.from({ length: n }, () => alphabet[int(alphabet.length)]).join('');
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)));

/** 20 secrets: service-account tokens, API keys, passwords, a PEM key, non-ASCII. */
function benchSecrets(): LabeledSecret[] {
  const secrets: LabeledSecret[] = [];
  const add = (label: string, value: string): number => secrets.push({ label, value });
  for (let i = 0; i < 3; i++) add(`token ${i}`, 'ops_' + bytes(634).toString('base64url'));
  for (let i = 0; i < 8; i++) add(`api key ${i}`, pick(['ghp_', 'sk-', 'xoxb-']) + chars(ALNUM, 36));
  for (let i = 0; i < 6; i++) add(`password ${i}`, chars(ALNUM + `!"#$%&'()*+,-./:;<=>?@[\\]^_{|}~`, 16));
  const body = bytes(1190).toString('base64').replace(/.{64}/g, '$&\n').trim();
  add('pem key', `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`);
  add('non-ascii', 'Kennwört-für-Bär-秘密の鍵-пароль');
  add('webhook', chars('0123456789abcdef', 64));
  return secrets;
}

/** One log line; now and then one with a secret, in one of its encoded forms. */
function logLine(set: SecretSet, time: number): string {
  const ts = new Date(1_700_000_000_000 + time).toISOString();
  const roll = rand();
  if (roll < 0.0005) return `${ts} DEBUG header authorization="Bearer ${pick(set.needles).toString('utf8')}"\n`;
  if (roll < 0.6) {
    const path = pick(['/v1/chat/completions', '/v1/models', '/healthz', '/api/v4/posts', '/hooks/incoming']);
    return `${ts} INFO  [bridge] ${pick(['GET', 'POST'])} ${path} ${pick([200, 200, 201, 404, 502])} ${int(900)}ms req=${chars('0123456789abcdef', 16)}\n`;
  }
  if (roll < 0.85) {
    return `{"ts":"${ts}","level":"${pick(['debug', 'info', 'warn'])}","msg":"upstream response","model":"gpt-4o","tokens":${int(4000)},"user":"${chars(ALNUM, 8)}@example.com"}\n`;
  }
  if (roll < 0.95) return `${ts} TRACE body=${bytes(100 + int(500)).toString('base64')}\n`;
  return `${ts} WARN  retrying after error: ECONNRESET at TLSSocket.onConnectEnd (node:_tls_wrap:1727:19) attempt ${int(5)}\n`;
}

/** ~TOTAL_BYTES of log text: UNIQUE_BYTES of lines, repeated. */
function benchInput(set: SecretSet): Buffer {
  const lines: string[] = [];
  let size = 0;
  for (let time = 0; size < UNIQUE_BYTES; time += int(50)) {
    const line = logLine(set, time);
    lines.push(line);
    size += Buffer.byteLength(line);
  }
  const unique = Buffer.from(lines.join(''));
  const input = Buffer.allocUnsafe(TOTAL_BYTES);
  for (let at = 0; at < TOTAL_BYTES; at += unique.length)
    unique.copy(input, at, 0, Math.min(unique.length, TOTAL_BYTES - at));
  return input;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const mbps = (bytes: number, ms: number): number => Math.round(bytes / 1e3 / ms);

/** Milliseconds to pipe `input` through the redactor in CHUNK_BYTES chunks into a sink that counts (or keeps) the output. */
async function timeRedactor(set: SecretSet, input: Buffer, keep?: Buffer[]): Promise<number> {
  function* chunks(): Generator<Buffer> {
    for (let at = 0; at < input.length; at += CHUNK_BYTES) yield input.subarray(at, at + CHUNK_BYTES);
  }
  let written = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      written += chunk.length;
      keep?.push(chunk);
      callback();
    },
  });
  const started = performance.now();
  await pipeline(Readable.from(chunks()), createRedactor(set), sink);
  const elapsed = performance.now() - started;
  if (written === 0) throw new Error('the redactor wrote nothing');
  return elapsed;
}

/** Masked regions in one untimed run; throws if any needle survived, so that the figures are for real work. */
async function checkOutput(set: SecretSet, input: Buffer): Promise<number> {
  const kept: Buffer[] = [];
  await timeRedactor(set, input, kept);
  const output = Buffer.concat(kept);
  const leak = set.find(output);
  if (leak) throw new Error(`the redactor let ${leak.label} (${leak.encoding}) through`);
  let masks = 0;
  for (let at = output.indexOf(MASK); at !== -1; at = output.indexOf(MASK, at + MASK.length)) masks++;
  return masks;
}

/** One sed -E script masking every needle that fits on a line, ERE-escaped byte by byte. */
function sedScript(set: SecretSet): { script: Buffer; count: number } {
  const lines: Buffer[] = [];
  for (const needle of set.needles) {
    if (needle.includes(0x0a) || needle.includes(0x0d)) continue;
    const escaped = [...needle].flatMap((b) => ('.[](){}*+?^$|\\/'.includes(String.fromCharCode(b)) ? [0x5c, b] : [b]));
    lines.push(Buffer.concat([Buffer.from('s/'), Buffer.from(escaped), Buffer.from(`/${MASK}/g\n`)]));
  }
  return { script: Buffer.concat(lines), count: lines.length };
}

/** Milliseconds for `sed -E -f script` over the first `size` bytes of input, output to /dev/null. */
function timeSed(dir: string, input: Buffer, size: number): number {
  const file = join(dir, 'input.log');
  writeFileSync(file, input.subarray(0, size));
  const started = performance.now();
  const result = spawnSync('sed', ['-E', '-f', join(dir, 'mask.sed'), file], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LC_ALL: 'C' },
  });
  const elapsed = performance.now() - started;
  if (result.status !== 0) throw new Error(`sed failed: ${result.stderr.toString().trim()}`);
  return elapsed;
}

/** Our MB/s and sed's on the same input and needles, and how many times faster we are. */
export async function benchRedact(): Promise<{ name: string; figures: Record<string, number | string> }> {
  const secrets = benchSecrets();
  const set = new SecretSet(secrets);
  const input = benchInput(set);
  const times: number[] = [];
  for (let run = 0; run < RUNS; run++) times.push(await timeRedactor(set, input));
  const ours = mbps(input.length, median(times));
  const passThrough = mbps(input.length, await timeRedactor(new SecretSet([]), input));
  const masks = await checkOutput(set, input);

  const dir = mkdtempSync('/dev/shm/redact-bench-');
  try {
    const { script, count } = sedScript(set);
    writeFileSync(join(dir, 'mask.sed'), script);
    const probe = 1024 * 1024;
    const probeRate = probe / timeSed(dir, input, probe); // bytes per ms
    const size = Math.min(input.length, Math.max(probe, Math.round((probeRate * SED_SECONDS * 1000) / probe) * probe));
    const sed = size / 1e3 / timeSed(dir, input, size);
    return {
      name: 'redact',
      figures: {
        'input MB': Math.round(input.length / 1e6),
        'secrets / needles': `${secrets.length} / ${set.needles.length}`,
        'masked regions (no needle left in the output)': masks,
        [`ours MB/s (median of ${RUNS}, 64 KiB chunks)`]: ours,
        'pass-through MB/s (no needles, same pipeline)': passThrough,
        'sed -E MB/s': Number(sed.toFixed(2)),
        'sed input':
          size === input.length ? 'all of it' : `first ${Math.round(size / 1e6)} MB (sed is too slow for all)`,
        'sed needles': `${count} (those without a line break)`,
        'ours / sed': Math.round(ours / sed),
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { name, figures } = await benchRedact();
  for (const [key, value] of Object.entries(figures)) console.log(`${name}: ${key}: ${value}`);
}
