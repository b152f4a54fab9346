// jose 6 ships only as an ES module. CommonJS code loads it with import(), which TypeScript leaves
// untouched under module node16, so it is fetched once, on first use.
// eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- typescript-eslint misreads import attributes in a type
export type Jose = typeof import('jose', { with: { 'resolution-mode': 'import' } });

let loaded: Promise<Jose> | undefined;

export function loadJose(): Promise<Jose> {
  loaded ??= import('jose');
  return loaded;
}
