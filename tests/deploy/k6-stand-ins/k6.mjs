// Node stand-in for the `k6` module: check() records each named result for the test to read.
export const checkResults = [];

export function check(value, checks) {
  let all = true;
  for (const [name, predicate] of Object.entries(checks)) {
    const ok = Boolean(predicate(value));
    checkResults.push({ name, ok });
    all = all && ok;
  }
  return all;
}
