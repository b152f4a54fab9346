// Fails when any import cycle exists inside or across workspaces (compiled output, so path aliases
// and workspace links are resolved the way Node resolves them).
import madge from 'madge';
import { globSync } from 'node:fs';

const roots = globSync(['libs/*/src', 'services/*/src']);
const result = await madge(roots, {
  fileExtensions: ['ts'],
  tsConfig: 'tsconfig.base.json',
  detectiveOptions: { ts: { skipTypeImports: true } },
});
const cycles = result.circular();
if (cycles.length > 0) {
  console.error('import cycles found:');
  for (const c of cycles) console.error('  ' + c.join(' -> '));
  process.exit(1);
}
console.log(`no import cycles (${Object.keys(result.obj()).length} modules)`);
