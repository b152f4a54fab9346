import { ConfigError } from './errors';

/**
 * For a program's main: runs the loader; on a ConfigError prints `config error: <message>` to stderr and
 * exits with status 2 (other errors propagate: they are bugs, not configuration).
 */
export function loadOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`config error: ${e.message}\n`);
    process.exit(2);
  }
}
