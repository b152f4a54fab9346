#!/usr/bin/env node
// Prints the policy service's OpenAPI document (JSON) on stdout, for generating typed API clients:
//   node services/policy/dist/openapi-dump.js > openapi.json
import { openApiDocument } from './admin/openapi';

if (require.main === module) {
  openApiDocument()
    .then((doc) => process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`))
    .catch((e: unknown) => {
      process.stderr.write(`openapi-dump: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    });
}
