import { isAbsolute, resolve } from 'node:path';
import { isCidrOrIp } from './net';

/** Thrown by a field when a value is unacceptable; the loader adds the file/variable and the value. */
export class InvalidValue extends Error {
  constructor(readonly problem?: string) {
    super(problem ?? 'invalid value');
  }
}

/**
 * One key of a section. A field converts a TOML value (already typed by the parser) or an environment
 * string into its TypeScript value, or throws InvalidValue.
 */
export interface Field<T> {
  /** What the field accepts, as it reads after "must be": `an integer 1-65535`. */
  readonly expects: string;
  /** Human-readable default for docs and messages; undefined for optional keys. */
  readonly defaultText?: string;
  defaultValue(): T;
  fromToml(value: unknown, baseDir: string): T;
  fromEnv(text: string): T;
}

export type FieldValue<F> = F extends Field<infer T> ? T : never;

const invalid = (problem?: string): never => {
  throw new InvalidValue(problem);
};

export function integer(opts: { default: number; min: number; max?: number }): Field<number> {
  const { min, max } = opts;
  // "-127-0" would be hard to read, so negative ranges are spelled out.
  const range = min < 0 ? `from ${min} to ${max}` : `${min}-${max}`;
  const expects = max === undefined ? `an integer >= ${min}` : `an integer ${range}`;
  const check = (v: unknown): number =>
    typeof v === 'number' && Number.isSafeInteger(v) && v >= min && (max === undefined || v <= max)
      ? v
      : invalid();
  return {
    expects,
    defaultText: String(opts.default),
    defaultValue: () => opts.default,
    fromToml: check,
    fromEnv: (text) => (/^[+-]?\d+$/.test(text.trim()) ? check(Number(text.trim())) : invalid()),
  };
}

export const port = (defaultPort: number): Field<number> =>
  integer({ default: defaultPort, min: 1, max: 65535 });

export function boolean(defaultValue: boolean): Field<boolean> {
  const words: Record<string, boolean> = { true: true, false: false, '1': true, '0': false };
  return {
    expects: 'true or false',
    defaultText: String(defaultValue),
    defaultValue: () => defaultValue,
    fromToml: (v) => (typeof v === 'boolean' ? v : invalid()),
    fromEnv: (text) => words[text.trim().toLowerCase()] ?? invalid('must be true, false, 1 or 0'),
  };
}

export function oneOf<const V extends string>(values: readonly V[], defaultValue: V): Field<V> {
  const check = (v: unknown): V => ((values as readonly unknown[]).includes(v) ? (v as V) : invalid());
  return {
    expects: `one of ${values.map((v) => `"${v}"`).join(', ')}`,
    defaultText: defaultValue,
    defaultValue: () => defaultValue,
    fromToml: check,
    fromEnv: (text) => check(text.trim()),
  };
}

/** A string; `validate` returns a problem text or undefined. */
export function text(opts: {
  default: string | (() => string);
  defaultText?: string;
  expects?: string;
  validate?: (v: string) => string | undefined;
}): Field<string> {
  const check = (v: unknown): string => {
    if (typeof v !== 'string' || v === '') return invalid();
    const problem = opts.validate?.(v);
    return problem === undefined ? v : invalid(problem);
  };
  const dflt = opts.default;
  return {
    expects: opts.expects ?? 'a non-empty string',
    defaultText: opts.defaultText ?? (typeof dflt === 'string' ? `"${dflt}"` : undefined),
    defaultValue: typeof dflt === 'string' ? () => dflt : dflt,
    fromToml: check,
    fromEnv: check,
  };
}

/** An optional string; an empty string (in the file or the environment) means "not set". */
export function optionalText(opts: { expects?: string; validate?: (v: string) => string | undefined } = {}) {
  const check = (v: unknown): string | undefined => {
    if (typeof v !== 'string') return invalid();
    if (v === '') return undefined;
    const problem = opts.validate?.(v);
    return problem === undefined ? v : invalid(problem);
  };
  const field: Field<string | undefined> = {
    expects: opts.expects ?? 'a string',
    defaultValue: () => undefined,
    fromToml: check,
    fromEnv: check,
  };
  return field;
}

function urlProblem(v: string, schemes: readonly string[]): string | undefined {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return `must be a URL starting with ${schemes.map((s) => `${s}://`).join(' or ')}`;
  }
  if (!schemes.includes(url.protocol.slice(0, -1))) {
    return `must be a URL starting with ${schemes.map((s) => `${s}://`).join(' or ')}`;
  }
  if (url.hostname === '') return 'must name a host';
  return undefined;
}

export function url(schemes: readonly string[], defaultValue: string): Field<string> {
  return text({
    default: defaultValue,
    expects: `a URL starting with ${schemes.map((s) => `${s}://`).join(' or ')}`,
    validate: (v) => urlProblem(v, schemes),
  });
}

export function optionalUrl(schemes: readonly string[]): Field<string | undefined> {
  return optionalText({
    expects: `a URL starting with ${schemes.map((s) => `${s}://`).join(' or ')}`,
    validate: (v) => urlProblem(v, schemes),
  });
}

/**
 * An optional file path. Paths in a config file resolve against that file's folder; paths given in the
 * environment resolve against the working directory, as a shell user would expect.
 */
export function optionalPath(): Field<string | undefined> {
  const check = (v: unknown, baseDir: string): string | undefined => {
    if (typeof v !== 'string') return invalid('must be a file path (string)');
    if (v === '') return undefined;
    if (v.includes('\0')) return invalid('must be a file path');
    return isAbsolute(v) ? v : resolve(baseDir, v);
  };
  return {
    expects: 'a file path',
    defaultValue: () => undefined,
    fromToml: check,
    fromEnv: (text) => check(text, process.cwd()),
  };
}

/**
 * A list of strings: a TOML array in the file, comma-separated in the environment. `item` returns a
 * problem text for a bad entry.
 */
export function list(opts: {
  default: readonly string[];
  expects: string;
  nonEmpty?: boolean;
  item?: (v: string) => string | undefined;
}): Field<string[]> {
  const check = (items: unknown[]): string[] => {
    if (opts.nonEmpty && items.length === 0) return invalid(`must be a non-empty list of ${opts.expects}`);
    items.forEach((v, i) => {
      if (typeof v !== 'string' || v === '') return invalid(`entry ${i + 1} must be a non-empty string`);
      const problem = opts.item?.(v);
      if (problem !== undefined) invalid(`entry ${i + 1} ("${v}") ${problem}`);
    });
    return items as string[];
  };
  return {
    expects: `a list of ${opts.expects}`,
    defaultText: JSON.stringify(opts.default),
    defaultValue: () => [...opts.default],
    fromToml: (v) => (Array.isArray(v) ? check(v) : invalid()),
    fromEnv: (text) =>
      check(
        text
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== ''),
      ),
  };
}

export const ipOrCidrList = (): Field<string[]> =>
  list({
    default: [],
    expects: 'IP addresses or CIDR ranges',
    item: (v) => (isCidrOrIp(v) ? undefined : 'is not an IP address or CIDR range'),
  });
