import { seededRandom } from '@tapgate/band';

/**
 * Helpers shared by the seeded fuzz tests (socket frames, config files, REST bodies): the same seed gives
 * the same inputs on every machine, and each test prints its seed so a failure can be replayed with
 * TAPGATE_FUZZ_SEED=<seed>.
 */
export interface Rand {
  (): number;
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  pick<T>(xs: readonly T[]): T;
}

export function fuzzRandom(seed: number): Rand {
  const next = seededRandom(seed);
  const r = (() => next()) as Rand;
  r.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  r.pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  return r;
}

/** TAPGATE_FUZZ_SEED when set (to replay a failure), else the test's fixed seed. */
export function fuzzSeed(fixed: number): number {
  return Number(process.env.TAPGATE_FUZZ_SEED ?? fixed) >>> 0;
}

/** Keys that would reach Object.prototype or shadow its members if a parser or merge were naive. */
export const PROTOTYPE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
];

/** JSON number texts that overflow, underflow or lose precision. */
export const HOSTILE_NUMBERS = [
  '1e309',
  '-1e309',
  '1e-400',
  '9007199254740993',
  '-0',
  '1'.repeat(400),
  `0.${'0'.repeat(300)}1`,
];

/** Random JSON text, up to 4 levels deep, with prototype keys, hostile numbers and the given strings. */
export function randomJson(r: Rand, strings: () => string, depth = 0): string {
  switch (r.int(0, depth > 3 ? 4 : 7)) {
    case 0:
      return 'null';
    case 1:
      return r.pick(['true', 'false']);
    case 2:
      return r.pick(HOSTILE_NUMBERS);
    case 3:
      return String(r.int(-1e6, 1e6));
    case 4:
      return JSON.stringify(strings());
    case 5:
      return `[${Array.from({ length: r.int(0, 4) }, () => randomJson(r, strings, depth + 1)).join(',')}]`;
    default:
      return `{${Array.from(
        { length: r.int(0, 4) },
        () =>
          `${JSON.stringify(r() < 0.4 ? r.pick(PROTOTYPE_KEYS) : strings())}:${randomJson(r, strings, depth + 1)}`,
      ).join(',')}}`;
  }
}
