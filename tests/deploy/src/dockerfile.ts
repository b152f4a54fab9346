// Reads a Dockerfile into stages and instructions, and decides what a .dockerignore keeps out.

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Stage {
  name: string | undefined;
  /** The FROM image with build args resolved, or the name of an earlier stage. */
  base: string;
  instructions: Instruction[];
}

/** Joins continuation lines, drops comments and blank lines. */
export function instructions(source: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = source.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let text = lines[i];
    if (/^\s*(#|$)/.test(text)) continue;
    while (/\\\s*$/.test(text) && i + 1 < lines.length) {
      i++;
      // Comment lines inside a continued instruction are removed by Docker too.
      if (/^\s*#/.test(lines[i])) continue;
      text = `${text.replace(/\\\s*$/, '').trimEnd()} ${lines[i].trim()}`;
    }
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(text);
    if (m) out.push({ keyword: m[1].toUpperCase(), args: m[2].trim(), line: start + 1 });
  }
  return out;
}

/** Stages in order; ARGs declared before the first FROM are substituted into FROM lines. */
export function stages(source: string): Stage[] {
  const globalArgs = new Map<string, string>();
  const out: Stage[] = [];
  for (const ins of instructions(source)) {
    if (ins.keyword === 'ARG' && out.length === 0) {
      const [name, value] = ins.args.split('=', 2);
      globalArgs.set(name.trim(), (value ?? '').trim());
    } else if (ins.keyword === 'FROM') {
      const words = ins.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const base = words[0].replace(
        /\$\{(\w+)\}|\$(\w+)/g,
        (_, a: string, b: string) => globalArgs.get(a ?? b) ?? '',
      );
      const as = words.findIndex((w) => w.toUpperCase() === 'AS');
      out.push({ name: as === -1 ? undefined : words[as + 1], base, instructions: [] });
    } else if (out.length > 0) {
      out.at(-1)!.instructions.push(ins);
    }
  }
  return out;
}

/** The stage and its ancestors within the file, nearest first. */
export function lineage(all: readonly Stage[], name: string): Stage[] {
  const chain: Stage[] = [];
  let stage = all.find((s) => s.name === name);
  while (stage) {
    chain.push(stage);
    const base = stage.base;
    stage = all.find((s) => s.name === base);
  }
  return chain;
}

/** The last value of an instruction in a stage, inherited from its parent stages. */
export function effective(all: readonly Stage[], name: string, keyword: string): Instruction | undefined {
  for (const stage of lineage(all, name)) {
    const found = stage.instructions.filter((i) => i.keyword === keyword).at(-1);
    if (found) return found;
  }
  return undefined;
}

/**
 * Whether the Docker build context leaves `path` (relative, with /) out, per .dockerignore rules:
 * patterns are relative to the context root, `**` spans folders, a matched folder drops its contents,
 * the last matching pattern wins and `!` re-includes.
 */
export function dockerIgnores(patterns: readonly string[], path: string): boolean {
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const pattern = (negate ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, '');
    if (pattern === '') continue;
    const re = new RegExp(`^${globToRegex(pattern)}(/.*)?$`);
    if (re.test(path)) ignored = !negate;
  }
  return ignored;
}

function globToRegex(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    if (ch === '*' && glob[i + 1] === '*') {
      // "**/" matches zero or more folders.
      out += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (ch === '*') out += '[^/]*';
    else if (ch === '?') out += '[^/]';
    else out += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return out;
}

export function dockerignorePatterns(source: string): string[] {
  return source
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}
