import type { LogLevel } from './sections/listener';
import { dirname, resolve } from 'node:path';
import { CROSS_CHECKS } from './checks';
import { ConfigError } from './errors';
import {
  AGENT_SECTIONS,
  NOT_CONFIG_KEYS,
  type AgentConfig,
  type AgentSectionName,
  type SectionContexts,
} from './registry';
import {
  checkEnvKeys,
  checkKnownKeys,
  isTable,
  readSection,
  type Fields,
  type Location,
  type Section,
} from './section';
import { readTomlFile } from './toml-file';

export interface LoadAgentOptions<K extends AgentSectionName> {
  /** nymi_agent.toml; default TAPGATE_CONFIG; with neither, defaults and environment only. */
  path?: string;
  /** Default process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * Sections to build (read their files, check TLS). Every section is still checked for unknown keys and
   * bad values, so one shared file is either valid for all services or for none. Default: all.
   */
  sections?: readonly K[];
}

type AnySection = Section<Fields, unknown>;

const envPrefix = (name: string) => `TAPGATE_${name.toUpperCase()}_`;

function location(section: string, file: string | undefined): Location {
  return {
    file,
    baseDir: file === undefined ? process.cwd() : dirname(file),
    fileKey: (key) => `[${section}].${key}`,
    envKey: (key) => `${envPrefix(section)}${key.toUpperCase()}`,
  };
}

function checkSections(doc: Record<string, unknown>, file: string): void {
  const names = Object.values(AGENT_SECTIONS).map((s) => s.name);
  for (const [key, value] of Object.entries(doc)) {
    const section = Object.values(AGENT_SECTIONS).find((s) => s.name === key);
    if (!section) {
      const problem = isTable(value)
        ? `unknown section (known: ${names.join(', ')})`
        : `unknown key; settings belong in a section (${names.map((n) => `[${n}]`).join(', ')})`;
      throw new ConfigError({ file, key: isTable(value) ? `[${key}]` : key, problem });
    }
    if (!isTable(value)) {
      throw new ConfigError({ file, key: `[${key}]`, problem: 'must be a table (a [section] header)' });
    }
    checkKnownKeys(value, section.fields, location(key, file));
  }
}

/**
 * Loads nymi_agent.toml: defaults < file < TAPGATE_<SECTION>_<KEY> environment variables, every value
 * validated, PEM files read and checked. Throws ConfigError naming the file (or "environment"), the key
 * and the problem.
 */
export function loadAgentConfig<K extends AgentSectionName = AgentSectionName>(
  opts: LoadAgentOptions<K> = {},
): AgentConfig<K> {
  const env = opts.env ?? process.env;
  const fromEnv = env.TAPGATE_CONFIG?.trim() || undefined;
  const given = opts.path ?? fromEnv;
  const file = given === undefined ? undefined : resolve(given);
  let doc: Record<string, unknown> = {};
  if (file !== undefined) {
    doc = readTomlFile(file, opts.path === undefined ? 'TAPGATE_CONFIG' : '(file)');
    checkSections(doc, file);
  }
  const sections = Object.entries(AGENT_SECTIONS) as Array<[AgentSectionName, AnySection]>;
  checkEnvKeys(
    env,
    sections.map(([, s]) => ({ prefix: envPrefix(s.name), fields: s.fields })),
    NOT_CONFIG_KEYS,
  );

  // Every section's values are validated before any is built, so value errors come before file errors.
  const read = sections.map(([prop, section]) => {
    const table = doc[section.name] as Record<string, unknown> | undefined;
    return { prop, section, ...readSection(section, table, env, location(section.name, file)) };
  });
  const wanted = new Set<AgentSectionName>(opts.sections ?? sections.map(([prop]) => prop));
  // [agent].log_level applies to every service, so it is offered even to services that do not build
  // [agent] (building it with protocol = "wss" would require the gateway's TLS files).
  const agentValues = read.find((r) => r.prop === 'agent')?.values as { log_level?: LogLevel } | undefined;
  const config: Record<string, unknown> = {
    ...(file === undefined ? {} : { file }),
    logLevel: agentValues?.log_level ?? 'warn',
  };
  const contexts: Record<string, unknown> = {};
  for (const { prop, section, values, at } of read) {
    contexts[prop] = at;
    if (wanted.has(prop)) config[prop] = section.build(values, at);
  }
  for (const check of CROSS_CHECKS) {
    if (check.sections.every((s) => wanted.has(s))) {
      check.run(config as AgentConfig, contexts as SectionContexts);
    }
  }
  return config as AgentConfig<K>;
}
