#!/usr/bin/env node
// Operator tool for assertion signing keys:
//   node libs/assertions/dist/cli.js new-key --out FILE   writes a new EC P-256 key (0600), prints its kid
//   node libs/assertions/dist/cli.js jwks FILE...         prints the JWKS the platform publishes for the files
import { parseArgs } from 'node:util';
import { AssertionSigner } from './signer';
import { generateSigningKeyFile } from './keys';

const USAGE = `usage:
  cli.js new-key --out FILE
  cli.js jwks KEY_FILE [KEY_FILE ...]`;

/** Something text can be written to (process.stdout, or a test's sink). */
export interface TextSink {
  write(text: string): unknown;
}

export function runCli(
  argv: readonly string[],
  out: TextSink = process.stdout,
  err: TextSink = process.stderr,
): number {
  const [command, ...rest] = argv;
  try {
    if (command === 'new-key') {
      const { values } = parseArgs({ args: [...rest], options: { out: { type: 'string' } }, strict: true });
      if (!values.out) throw new UsageError('new-key needs --out FILE');
      const { path, kid } = generateSigningKeyFile(values.out);
      out.write(`wrote ${path}\nkid ${kid}\n`);
      return 0;
    }
    if (command === 'jwks') {
      if (rest.length === 0) throw new UsageError('jwks needs at least one key file');
      out.write(`${JSON.stringify(AssertionSigner.fromFiles(rest).jwks(), null, 2)}\n`);
      return 0;
    }
    throw new UsageError(command === undefined ? 'no command' : `unknown command "${command}"`);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      err.write(`${(e as Error).message}\n${USAGE}\n`);
      return 64;
    }
    const code = (e as NodeJS.ErrnoException).code;
    err.write(
      `error: ${code === 'EEXIST' ? 'the file exists; refusing to overwrite a key' : (e as Error).message}\n`,
    );
    return 1;
  }
}

class UsageError extends Error {}

if (require.main === module) process.exitCode = runCli(process.argv.slice(2));
