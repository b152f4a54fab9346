import { readFileSync } from 'node:fs';
import { ConfigError } from './errors';
import { InvalidValue, type Field, type FieldValue } from './fields';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any field type may sit in a section
export type Fields = Record<string, Field<any>>;
export type Values<F extends Fields> = { [K in keyof F]: FieldValue<F[K]> };
export type Origin = 'default' | 'file' | 'env';

/** What a section's `build` may use to read files and report problems at the right place. */
export interface SectionContext<K extends string = string> {
  origin(key: K): Origin;
  /**
   * A ConfigError for `key`, located where `blame` (default: `key` itself) was set: the file and
   * `[section].key`, or the environment and `TAPGATE_SECTION_KEY`.
   */
  error(key: K, problem: string, blame?: K): ConfigError;
  /** Reads the text file at `path` (the resolved value of `key`); failures name the key. */
  readFile(key: K, path: string): string;
  /** Reads a secret (token, password) from the file at `path`, trimmed; an empty file is an error. */
  readSecret(key: K, path: string): string;
}

/**
 * One TOML table (or the whole of a flat file such as nbe.toml): its keys and how validated values become
 * the typed object services receive.
 */
export interface Section<F extends Fields, Out> {
  /** TOML table name, also the environment infix: [user_status] <-> TAPGATE_USER_STATUS_<KEY>. */
  readonly name: string;
  /** One line for docs and errors. */
  readonly summary: string;
  readonly fields: F;
  build(values: Values<F>, at: SectionContext<keyof F & string>): Out;
}

export const defineSection = <F extends Fields, Out>(section: Section<F, Out>): Section<F, Out> => section;

export type SectionOutput<S> = S extends { build(...args: never[]): infer O } ? O : never;
export type SectionKeys<S> = S extends { fields: infer F } ? keyof F & string : never;

/** How keys are named in messages, and where relative paths in the file start. */
export interface Location {
  readonly file?: string;
  readonly baseDir: string;
  fileKey(key: string): string;
  envKey(key: string): string;
}

/** A value as shown in "(got ...)": short, and with any user:password@ in URLs masked. */
export function render(value: unknown, quote = true): string {
  let shown: string;
  if (typeof value === 'string') shown = quote ? JSON.stringify(value) : value;
  else if (value instanceof Date) shown = value.toISOString();
  else if (Array.isArray(value)) shown = `[${value.map((v) => render(v)).join(', ')}]`;
  else if (typeof value === 'object' && value !== null) shown = 'a table';
  else shown = String(value);
  shown = shown.replace(/\/\/[^/@\s"]*@/g, '//***@');
  return shown.length > 80 ? `${shown.slice(0, 77)}...` : shown;
}

export function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const known: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EISDIR: 'is a directory, not a file',
    ENOTDIR: 'a parent of the path is not a directory',
  };
  if (code && known[code]) return `${known[code]} (${code})`;
  return e instanceof Error ? e.message : String(e);
}

/**
 * Validates one section's values: defaults, then the file's value, then the environment's. `build` is
 * a separate step so a service can check every section but build (read files for) only its own.
 */
export function readSection<F extends Fields>(
  section: Section<F, unknown>,
  table: Readonly<Record<string, unknown>> | undefined,
  env: NodeJS.ProcessEnv,
  loc: Location,
): { values: Values<F>; at: SectionContext<keyof F & string> } {
  const values: Record<string, unknown> = {};
  const origins: Record<string, Origin> = {};
  for (const [key, field] of Object.entries(section.fields) as Array<[string, Field<unknown>]>) {
    values[key] = field.defaultValue();
    origins[key] = 'default';
    if (table && Object.hasOwn(table, key)) {
      const raw = table[key];
      values[key] = convert(
        field,
        () => field.fromToml(raw, loc.baseDir),
        (problem) =>
          new ConfigError({
            file: loc.file,
            key: loc.fileKey(key),
            problem: `${problem} (got ${render(raw)})`,
          }),
      );
      origins[key] = 'file';
    }
    const envName = loc.envKey(key);
    const envText = env[envName]?.trim();
    // An empty variable counts as unset, so templated deployments can leave values blank.
    if (envText) {
      values[key] = convert(
        field,
        () => field.fromEnv(envText),
        (problem) => new ConfigError({ key: envName, problem: `${problem} (got ${render(envText, false)})` }),
      );
      origins[key] = 'env';
    }
  }

  const at: SectionContext<keyof F & string> = {
    origin: (key) => origins[key] ?? 'default',
    error(key, problem, blame = key) {
      if (origins[blame] === 'env') return new ConfigError({ key: loc.envKey(key), problem });
      return new ConfigError({ file: loc.file, key: loc.fileKey(key), problem });
    },
    readFile(key, path) {
      try {
        return readFileSync(path, 'utf8');
      } catch (e) {
        throw at.error(key, `cannot read ${path}: ${describeFsError(e)}`);
      }
    },
    readSecret(key, path) {
      const secret = at.readFile(key, path).trim();
      if (secret === '') throw at.error(key, `${path} is empty`);
      return secret;
    },
  };
  return { values: values as Values<F>, at };
}

function convert<T>(field: Field<T>, run: () => T, fail: (problem: string) => ConfigError): T {
  try {
    return run();
  } catch (e) {
    if (e instanceof InvalidValue) throw fail(e.problem ?? `must be ${field.expects}`);
    throw e;
  }
}

/** Rejects keys a section does not define, naming the section's known keys. */
export function checkKnownKeys(
  table: Readonly<Record<string, unknown>>,
  fields: Fields,
  loc: Location,
  extraHint = '',
): void {
  for (const key of Object.keys(table)) {
    if (!Object.hasOwn(fields, key)) {
      const known = Object.keys(fields).join(', ');
      throw new ConfigError({
        file: loc.file,
        key: loc.fileKey(key),
        problem: `unknown key (known: ${known})${extraHint}`,
      });
    }
  }
}

/**
 * Rejects a TAPGATE_<SECTION>_<X> variable whose <X> is not a key of that section. The longest matching
 * section prefix wins, so [user_status] is not mistaken for a key of a hypothetical [user] section.
 */
export function checkEnvKeys(
  env: NodeJS.ProcessEnv,
  sections: ReadonlyArray<{ readonly prefix: string; readonly fields: Fields }>,
  ignored: ReadonlySet<string>,
): void {
  for (const name of Object.keys(env)) {
    if (ignored.has(name)) continue;
    let match: { readonly prefix: string; readonly fields: Fields } | undefined;
    for (const s of sections) {
      if (name.startsWith(s.prefix) && (!match || s.prefix.length > match.prefix.length)) match = s;
    }
    if (!match) continue;
    const rest = name.slice(match.prefix.length);
    // Lookups use the upper-case name, so a mixed-case variable would otherwise be silently ignored.
    if (!Object.hasOwn(match.fields, rest.toLowerCase()) || rest !== rest.toUpperCase()) {
      const prefix = match.prefix;
      const known = Object.keys(match.fields)
        .map((k) => `${prefix}${k.toUpperCase()}`)
        .join(', ');
      throw new ConfigError({ key: name, problem: `unknown key (known: ${known})` });
    }
  }
}

export const isTable = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
