// How many cases a property test runs: all of them, except in a mutation run
// (npm run mutate sets CBS_MUTATION=1), where the covering files start once
// per mutant and every hot loop is slowed by the mutant switches: a fifth,
// at least 50. A mutant the full number of cases catches is almost always
// caught by a fifth.
export const runs = (n: number): number => (process.env.CBS_MUTATION ? Math.max(50, Math.ceil(n / 5)) : n);
