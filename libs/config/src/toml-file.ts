import { readFileSync } from 'node:fs';
import { TomlError, parse } from 'smol-toml';
import { ConfigError } from './errors';
import { describeFsError } from './section';

/**
 * Reads and parses a TOML file. `pathKey` names where the path came from (e.g. TAPGATE_CONFIG) for the
 * error when the file cannot be read.
 */
export function readTomlFile(file: string, pathKey: string): Record<string, unknown> {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError({
      file,
      key: pathKey,
      problem: `cannot read the config file: ${describeFsError(e)}`,
    });
  }
  // Windows Notepad saves UTF-8 with a byte-order mark, which TOML parsers reject.
  if (source.startsWith('\uFEFF')) source = source.slice(1);
  try {
    return parse(source);
  } catch (e) {
    if (e instanceof TomlError) {
      const detail = (e.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '');
      throw new ConfigError({
        file,
        key: `line ${e.line}, column ${e.column}`,
        problem: `invalid TOML: ${detail}`,
      });
    }
    throw e;
  }
}
