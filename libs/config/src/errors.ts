/**
 * A configuration problem found at start-up. The message always reads `<file or "environment">: <key>:
 * <problem>`, so an operator can go straight to the line or variable to fix.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** The file the bad value came from; undefined when it came from the environment. */
  readonly file?: string;
  /** `[section].key` in a file, the variable name in the environment, or a position for syntax errors. */
  readonly key: string;
  readonly problem: string;

  constructor(where: { file?: string; key: string; problem: string }) {
    super(`${where.file ?? 'environment'}: ${where.key}: ${where.problem}`);
    if (where.file !== undefined) this.file = where.file;
    this.key = where.key;
    this.problem = where.problem;
  }
}
