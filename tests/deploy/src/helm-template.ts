// A small static reader of Helm (Go text/template) files, for what rendering (helm-render) cannot show:
// named templates nothing includes and values paths a template reads that values.yaml lacks.
import { hasPath } from './index';

export interface Action {
  /** Text between the delimiters, without trim markers. */
  text: string;
  line: number;
  comment: boolean;
}

export interface Scan {
  actions: Action[];
  problems: string[];
}

const lineOf = (source: string, index: number): number => source.slice(0, index).split('\n').length;

/** Splits a template into actions; reports a `{{` left open (or opened twice) and a stray `}}`. */
export function scanActions(source: string): Scan {
  const actions: Action[] = [];
  const problems: string[] = [];
  let i = 0;
  while (i < source.length) {
    const open = source.indexOf('{{', i);
    const stray = source.indexOf('}}', i);
    if (stray !== -1 && (open === -1 || stray < open)) {
      problems.push(`line ${lineOf(source, stray)}: "}}" without "{{"`);
      i = stray + 2;
      continue;
    }
    if (open === -1) break;
    const close = findClose(source, open + 2);
    if (close === -1) {
      problems.push(`line ${lineOf(source, open)}: "{{" is never closed`);
      break;
    }
    let text = source.slice(open + 2, close);
    const reopened = /^-?\s*\/\*/.test(text) ? -1 : indexOutsideStrings(text, '{{');
    if (reopened !== -1) {
      problems.push(`line ${lineOf(source, open)}: "{{" opened again before "}}"`);
      text = text.slice(0, reopened);
    }
    text = text.replace(/^-\s/, '').replace(/\s-$/, '').trim();
    actions.push({ text, line: lineOf(source, open), comment: text.startsWith('/*') });
    i = close + 2;
  }
  return { actions, problems };
}

/** Index of the `}}` closing an action that starts at `start`, ignoring braces inside strings and comments. */
function findClose(source: string, start: number): number {
  if (/^-?\s*\/\*/.test(source.slice(start, start + 8))) {
    const end = source.indexOf('*/', start);
    return end === -1 ? -1 : source.indexOf('}}', end);
  }
  for (let i = start; i < source.length; i++) {
    const ch = source[i];
    if (ch === '"' || ch === '`') {
      i = skipString(source, i);
      if (i === -1) return -1;
    } else if (ch === '}' && source[i + 1] === '}') {
      return i;
    }
  }
  return -1;
}

function skipString(source: string, quoteAt: number): number {
  const quote = source[quoteAt];
  for (let i = quoteAt + 1; i < source.length; i++) {
    if (quote === '"' && source[i] === '\\') i++;
    else if (source[i] === quote) return i;
    else if (quote === '"' && source[i] === '\n') return -1;
  }
  return -1;
}

function indexOutsideStrings(text: string, needle: string): number {
  const bare = stripStrings(text);
  return bare.indexOf(needle);
}

/** Replaces string literals with "" so their contents are not read as template syntax. */
export function stripStrings(text: string): string {
  return text.replace(/"(?:[^"\\\n]|\\.)*"|`[^`]*`/g, (s) => (s.startsWith('`') ? '``' : '""'));
}

const keyword = (a: Action): string => (a.comment ? '' : (/^([a-z]+)\b/.exec(a.text)?.[1] ?? ''));

export function definedNames(actions: readonly Action[]): string[] {
  return actions.flatMap((a) =>
    a.comment ? [] : [...a.text.matchAll(/^define\s+"([^"]+)"/g)].map((m) => m[1]),
  );
}

export function includedNames(actions: readonly Action[]): { name: string; line: number }[] {
  return actions.flatMap((a) =>
    a.comment
      ? []
      : [...a.text.matchAll(/\b(?:include|template)\s+"([^"]+)"/g)].map((m) => ({
          name: m[1],
          line: a.line,
        })),
  );
}

/**
 * A place where a template reads values: one path per alternative that must exist (a component's
 * values are checked in every component block; `index <map> $key` in every child of the map).
 */
export interface ValuesRead {
  alternatives: string[][];
  line: number;
  expression: string;
}

export interface ValuesContext {
  values: unknown;
  /** Values keys of the components: what `$c` and `.c` stand for (see _helpers.tpl). */
  componentKeys: readonly string[];
}

/** null = the dot (or a variable) is something this reader does not follow, e.g. a range element. */
type Base = string[][] | null;

const ROOT_FIELDS = new Set(['Values', 'Release', 'Chart', 'Capabilities', 'Template', 'Files', 'Subcharts']);
const PATH = String.raw`((?:\.[A-Za-z_]\w*)+)`;
const splitPath = (p: string): string[] => p.split('.').filter(Boolean);

/** Every values path read by the actions of one file, resolved through `with`, variables and `$c`. */
export function valuesReads(actions: readonly Action[], ctx: ValuesContext): ValuesRead[] {
  const reads: ValuesRead[] = [];
  const components = ctx.componentKeys.map((k) => [k]);
  const scopes: { kw: string; dot: Base | 'root' }[] = [];
  let aliases = new Map<string, Base>();
  const currentDot = (): Base | 'root' => {
    for (let i = scopes.length - 1; i >= 0; i--) if (scopes[i].kw !== 'if') return scopes[i].dot;
    return 'root';
  };
  const join = (base: Base, rest: string[]): Base =>
    base === null ? null : base.map((b) => [...b, ...rest]);
  const childrenOf = (path: string[]): Base => {
    const map = path.reduce<unknown>(
      (node, k) => (node as Record<string, unknown> | undefined)?.[k],
      ctx.values,
    );
    return map && typeof map === 'object' ? Object.keys(map).map((k) => [...path, k]) : null;
  };

  /** Resolves a single-term expression to the values it names, or null. */
  const resolve = (expr: string): Base => {
    const e = expr.trim();
    let m = new RegExp(String.raw`^(?:\$|\$root|\.root|\$\.root)?\.Values${PATH}?$`).exec(e);
    if (m) return [splitPath(m[1] ?? '')];
    m = new RegExp(String.raw`^index\s+(?:\$|\$root|\.root)?\.Values${PATH}\s+[$.][\w.]*$`).exec(e);
    if (m) return childrenOf(splitPath(m[1]));
    if (/^index\s+(?:\$|\$root|\.root)?\.Values\s+\$key$/.test(e) || e === '.c') return components;
    m = new RegExp(String.raw`^\$(\w+)${PATH}?$`).exec(e);
    if (m) return aliases.has(m[1]) ? join(aliases.get(m[1])!, splitPath(m[2] ?? '')) : null;
    m = new RegExp(String.raw`^${PATH}$`).exec(e);
    if (m) {
      const dot = currentDot();
      return dot === 'root' || dot === null ? null : join(dot, splitPath(m[1]));
    }
    return null;
  };

  for (const a of actions) {
    if (a.comment) continue;
    const text = stripStrings(a.text);
    const kw = keyword(a);
    if (kw === 'define') aliases = new Map();

    // Reads through .Values (also $.Values, .root.Values, $root.Values).
    for (const m of text.matchAll(new RegExp(String.raw`\.Values${PATH}`, 'g'))) {
      reads.push({ alternatives: [splitPath(m[1])], line: a.line, expression: `.Values${m[1]}` });
    }
    // Reads through a component's values ($c / .c) and through variables bound to values.
    for (const m of text.matchAll(new RegExp(String.raw`(?<![\w)\]])(\$\w+|\.c)${PATH}`, 'g'))) {
      const name = m[1];
      const base = name === '$c' || name === '.c' ? components : (aliases.get(name.slice(1)) ?? null);
      if (base) reads.push({ alternatives: join(base, splitPath(m[2]))!, line: a.line, expression: m[0] });
    }
    // Reads relative to the dot inside `with` blocks, and misspelt root fields at the top level.
    const dot = currentDot();
    if (dot !== null && kw !== 'define') {
      for (const m of text.matchAll(new RegExp(String.raw`(?<![\w$)\].])${PATH}`, 'g'))) {
        const path = splitPath(m[1]);
        if (path[0] === 'c' && dot === 'root') continue;
        if (dot === 'root') {
          if (!ROOT_FIELDS.has(path[0])) {
            reads.push({ alternatives: [['<root>', ...path]], line: a.line, expression: m[0] });
          }
        } else if (!(kw === 'with' || kw === 'range')) {
          reads.push({ alternatives: join(dot, path)!, line: a.line, expression: m[0] });
        }
      }
    }

    const assign = /^\$(\w+)\s*:?=\s*(.+)$/.exec(text);
    if (assign) aliases.set(assign[1], resolve(assign[2]));
    if (kw === 'with') {
      const expr = text.slice(4);
      const base = resolve(expr);
      // The with-expression itself reads relative to the outer dot.
      const rel = new RegExp(String.raw`^\s*${PATH}\s*$`).exec(expr);
      if (rel && dot !== null && dot !== 'root') {
        reads.push({ alternatives: base!, line: a.line, expression: rel[1] });
      }
      scopes.push({ kw, dot: base });
    } else if (kw === 'range' || kw === 'define' || kw === 'block') {
      scopes.push({ kw, dot: null });
    } else if (kw === 'if') {
      scopes.push({ kw, dot: null });
    } else if (kw === 'end') {
      scopes.pop();
    }
  }
  return reads;
}

/** The reads whose path is missing in some alternative, as messages. */
export function missingValues(reads: readonly ValuesRead[], values: unknown): string[] {
  const problems: string[] = [];
  for (const r of reads) {
    for (const alt of r.alternatives) {
      if (alt[0] === '<root>' || !hasPath(values, alt)) {
        problems.push(
          `line ${r.line}: ${r.expression} reads ${alt.join('.')}, which values.yaml does not define`,
        );
      }
    }
  }
  return problems;
}
