import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from './errors';
import { NOT_CONFIG_KEYS } from './registry';
import { checkEnvKeys, checkKnownKeys, readSection, type Location } from './section';
import { nbeSection, type EndpointSettings } from './sections/nbe';
import { readTomlFile } from './toml-file';

/** Where Nymi's installers put nbe.toml (HP ThinPro for Linux). */
export const DEFAULT_NBE_PATH = {
  win32: 'C:\\Nymi\\Bluetooth_Endpoint\\nbe.toml',
  linux: '/usr/bin/nbe.toml',
} as const;

export type EndpointConfig = {
  file?: string;
  /**
   * NYMI_NEA_SUPPORT_LEGACY_MODE as Nymi's guide has it for terminals: unset or 1 = bands of an older band
   * protocol are accepted as policy allows; 0 = the terminal refuses them (docs/protocol.md §12).
   */
  supportLegacyMode: boolean;
} & EndpointSettings;

/** The environment variable of Nymi's guide that switches legacy band support off (0) or on (1). */
export const LEGACY_MODE_VARIABLE = 'NYMI_NEA_SUPPORT_LEGACY_MODE';

function legacyMode(env: NodeJS.ProcessEnv): boolean {
  const raw = env[LEGACY_MODE_VARIABLE];
  if (raw === undefined || raw.trim() === '' || raw.trim() === '1') return true;
  if (raw.trim() === '0') return false;
  throw new ConfigError({
    key: LEGACY_MODE_VARIABLE,
    problem: `must be 0 or 1 (got ${JSON.stringify(raw)})`,
  });
}

const ENV_PREFIX = 'TAPGATE_NBE_';

/**
 * Loads nbe.toml: defaults < file < TAPGATE_NBE_<KEY>. The file is opts.path, else TAPGATE_NBE_CONFIG
 * (either must exist), else the platform default, which may be absent (then defaults apply).
 */
export function loadEndpointConfig(
  opts: { path?: string; env?: NodeJS.ProcessEnv; platform?: NodeJS.Platform } = {},
): EndpointConfig {
  const env = opts.env ?? process.env;
  const explicit = opts.path ?? (env.TAPGATE_NBE_CONFIG?.trim() || undefined);
  let file: string | undefined;
  let doc: Record<string, unknown> = {};
  if (explicit !== undefined) {
    file = resolve(explicit);
    doc = readTomlFile(file, opts.path === undefined ? 'TAPGATE_NBE_CONFIG' : '(file)');
  } else {
    const platformDefault =
      (opts.platform ?? process.platform) === 'win32' ? DEFAULT_NBE_PATH.win32 : DEFAULT_NBE_PATH.linux;
    if (existsSync(platformDefault)) {
      file = platformDefault;
      doc = readTomlFile(file, '(file)');
    }
  }
  const loc: Location = {
    file,
    baseDir: file === undefined ? process.cwd() : dirname(file),
    fileKey: (key) => key,
    envKey: (key) => `${ENV_PREFIX}${key.toUpperCase()}`,
  };
  checkKnownKeys(doc, nbeSection.fields, loc);
  checkEnvKeys(env, [{ prefix: ENV_PREFIX, fields: nbeSection.fields }], NOT_CONFIG_KEYS);
  const { values, at } = readSection(nbeSection, doc, env, loc);
  const settings = { ...nbeSection.build(values, at), supportLegacyMode: legacyMode(env) };
  return file === undefined ? settings : { file, ...settings };
}
