// After `stryker run` (npm run mutate): the mutation score of each
// security-critical module against the goal of 90%, and where its surviving
// mutants are, from reports/mutation/mutation.json. Mutants listed as
// equivalent in docs/mutation.md ("file:line mutator") are left out of the
// score and said so. Exit 0 always: like npm run bench, it reports a figure.
import { existsSync, readFileSync } from 'node:fs';

const REPORT = 'reports/mutation/mutation.json';
const GOAL = 90;

/** The modules the issue names, by the files that make each one. */
const MODULES = [
  ['the guard: policy, parsers, field folding', (f) => f.startsWith('socket-guard/policy/')],
  ['secrets and their variants', (f) => f.startsWith('src/secrets/')],
  ['the redactor and its matcher', (f) => f.startsWith('src/redact/') || f.startsWith('src/match/')],
  ["the entrypoint's steps", (f) => f.startsWith('entrypoint/steps/')],
  ['atomic writes', (f) => f === 'src/fs/atomic-write.ts'],
  ['the sealed envelope and blob', (f) => f.startsWith('host-seal/backends/tpm2/')],
  ['the release', (f) => f === 'host-seal/stack/release.ts' || f === 'src/stack/release-dir.ts'],
];

if (!existsSync(REPORT)) {
  console.error(`mutation-summary: ${REPORT} is missing; run npm run mutate (stryker run) first`);
  process.exit(66);
}
const report = JSON.parse(readFileSync(REPORT, 'utf8'));
const equivalent = new Set(
  existsSync('docs/mutation.md')
    ? [...readFileSync('docs/mutation.md', 'utf8').matchAll(/^\| `([^`]+:\d+ \w+)` \|/gm)].map((m) => m[1])
    : [],
);

const rows = [];
for (const [name, owns] of MODULES) {
  let killed = 0;
  let counted = 0;
  let excused = 0;
  const survivors = [];
  for (const [file, { mutants }] of Object.entries(report.files)) {
    if (!owns(file)) continue;
    for (const m of mutants) {
      if (['CompileError', 'RuntimeError', 'Ignored'].includes(m.status)) continue;
      const where = `${file}:${m.location.start.line} ${m.mutatorName}`;
      if (m.status === 'Survived' || m.status === 'NoCoverage') {
        if (equivalent.has(where)) {
          excused++;
          continue;
        }
        survivors.push(`${where}${m.status === 'NoCoverage' ? ' (no test reaches it)' : ''}`);
      } else killed++;
      counted++;
    }
  }
  if (counted === 0) continue;
  const score = (100 * killed) / counted;
  rows.push({ name, score, counted, excused, survivors });
}

for (const row of rows) {
  const verdict = row.score >= GOAL ? 'meets the goal' : 'MISSES the goal';
  console.log(
    `${row.name}: ${row.score.toFixed(1)}% of ${row.counted} mutants killed (goal ${GOAL}%), ${verdict}` +
      (row.excused ? `; ${row.excused} equivalent (docs/mutation.md)` : ''),
  );
  for (const where of row.survivors) console.log(`  survived: ${where}`);
}
console.log(`report: ${REPORT.replace('mutation.json', 'index.html')} (open it in a browser)`);
