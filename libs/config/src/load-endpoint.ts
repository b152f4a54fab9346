import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { NOT_CONFIG_KEYS } from './registry';
import { checkEnvKeys, checkKnownKeys, readSection, type Location } from './section';
import { nbeSection, type EndpointSettings } from './sections/nbe';
import { readTomlFile } from './toml-file';

/** Where Nymi's installers put nbe.toml (HP ThinPro for Linux). */
export const DEFAULT_NBE_PATH = {
  win32: 'C:\\Nymi\\Bluetooth_Endpoint\\nbe.toml',
  linux: '/usr/bin/nbe.toml',
} as const;

export type EndpointConfig = { file?: string } & EndpointSettings;

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
  const settings = nbeSection.build(values, at);
  return file === undefined ? settings : { file, ...settings };
}
